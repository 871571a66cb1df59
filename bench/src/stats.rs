//! What a load run measured, the same shape for `wrk` and for the direct-SDK driver.

use std::time::Duration;

#[derive(Debug, Clone, Copy, Default, serde::Serialize)]
pub struct LoadStats {
    /// Successful requests.
    pub requests: u64,
    /// Failed requests (transport errors and non-2xx answers).
    pub errors: u64,
    pub seconds: f64,
    pub p50: Duration,
    pub p99: Duration,
}

impl LoadStats {
    pub fn per_second(&self) -> f64 {
        if self.seconds > 0.0 {
            self.requests as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// From latencies in microseconds (any order).
    pub fn from_latencies(mut us: Vec<u64>, errors: u64, elapsed: Duration) -> Self {
        us.sort_unstable();
        Self {
            requests: us.len() as u64,
            errors,
            seconds: elapsed.as_secs_f64(),
            p50: Duration::from_micros(percentile(&us, 50.0)),
            p99: Duration::from_micros(percentile(&us, 99.0)),
        }
    }
}

/// Nearest-rank percentile of sorted values (0 when empty).
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// `12.3 ms`, `456 µs`, `1.23 s`.
pub fn fmt_duration(d: Duration) -> String {
    let us = d.as_secs_f64() * 1e6;
    if us < 1_000.0 {
        format!("{us:.1} µs")
    } else if us < 1_000_000.0 {
        format!("{:.2} ms", us / 1e3)
    } else {
        format!("{:.2} s", us / 1e6)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank() {
        let v: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&v, 50.0), 50);
        assert_eq!(percentile(&v, 99.0), 99);
        assert_eq!(percentile(&[7], 99.0), 7);
        assert_eq!(percentile(&[], 50.0), 0);
    }
}
