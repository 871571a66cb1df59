//! Retry timing for InvokeModel: full-jitter exponential backoff inside a bounded budget.
//!
//! The SDK's own retries are off (see `super`): the embedder retries here, over the limiter, so
//! every attempt is counted by `requests_per_min_limit` and `max_concurrent_invocations`. Whether a
//! failure may be retried at all is decided by [`super::InvokeFailure::retryable`].

use std::time::Duration;

use rand::Rng;

/// Default first backoff step.
pub const DEFAULT_BASE_DELAY: Duration = Duration::from_millis(100);
/// Default longest single wait.
pub const DEFAULT_MAX_DELAY: Duration = Duration::from_secs(5);
/// Default number of attempts, the first one included.
pub const DEFAULT_MAX_ATTEMPTS: u32 = 8;
/// Default bound on the time from the first attempt to the start of the last one.
pub const DEFAULT_MAX_ELAPSED: Duration = Duration::from_secs(30);

/// How long to wait before retry number `attempt` (1 = the first retry) with the default base
/// and cap: a uniformly random duration in `[0, min(cap, base * 2^(attempt-1))]` ("full jitter").
pub fn backoff(attempt: u32) -> Duration {
    RetryBudget::default().backoff(attempt)
}

/// The limits of one request's retries. Both bounds apply: whichever is hit first ends it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryBudget {
    /// Attempts in total, the first one included (1 = never retry).
    pub max_attempts: u32,
    /// No retry starts later than this after the first attempt started.
    pub max_elapsed: Duration,
    /// First backoff step; it doubles per retry.
    pub base_delay: Duration,
    /// Longest single wait.
    pub max_delay: Duration,
}

impl Default for RetryBudget {
    fn default() -> Self {
        Self {
            max_attempts: DEFAULT_MAX_ATTEMPTS,
            max_elapsed: DEFAULT_MAX_ELAPSED,
            base_delay: DEFAULT_BASE_DELAY,
            max_delay: DEFAULT_MAX_DELAY,
        }
    }
}

impl RetryBudget {
    /// A budget that never retries.
    pub fn no_retries() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The upper bound of the jittered wait before retry `attempt` (1-based).
    pub fn backoff_ceiling(&self, attempt: u32) -> Duration {
        let exp = attempt.saturating_sub(1).min(31);
        let ceiling = self.base_delay.saturating_mul(1u32 << exp);
        ceiling.min(self.max_delay)
    }

    /// A full-jitter wait before retry `attempt` (1-based): uniform in `[0, backoff_ceiling]`.
    pub fn backoff(&self, attempt: u32) -> Duration {
        let ceiling = self.backoff_ceiling(attempt);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(rand::rng().random_range(0..=nanos))
    }

    /// After `attempts_made` attempts (≥ 1) that took `elapsed` since the first one started,
    /// the wait before the next attempt, or `None` when the budget is spent (attempts used up,
    /// or the next attempt would start after `max_elapsed`). The caller checks
    /// [`retryable`](super::InvokeFailure::retryable) first.
    pub fn next_delay(&self, attempts_made: u32, elapsed: Duration) -> Option<Duration> {
        if attempts_made >= self.max_attempts {
            return None;
        }
        let delay = self.backoff(attempts_made.max(1));
        let starts_at = elapsed.checked_add(delay)?;
        (starts_at <= self.max_elapsed).then_some(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ceiling_doubles_then_caps() {
        let b = RetryBudget::default();
        assert_eq!(b.backoff_ceiling(1), Duration::from_millis(100));
        assert_eq!(b.backoff_ceiling(2), Duration::from_millis(200));
        assert_eq!(b.backoff_ceiling(3), Duration::from_millis(400));
        assert_eq!(b.backoff_ceiling(6), Duration::from_millis(3200));
        assert_eq!(b.backoff_ceiling(7), Duration::from_secs(5));
        assert_eq!(b.backoff_ceiling(u32::MAX), Duration::from_secs(5));
        assert_eq!(b.backoff_ceiling(0), Duration::from_millis(100));
    }

    #[test]
    fn jitter_stays_in_range_and_varies() {
        let mut seen = std::collections::HashSet::new();
        for _ in 0..200 {
            let d = backoff(4);
            assert!(d <= Duration::from_millis(800), "{d:?}");
            seen.insert(d);
        }
        assert!(seen.len() > 10, "full jitter should spread the waits");
    }

    #[test]
    fn budget_bounds_attempts_and_time() {
        let b = RetryBudget {
            max_attempts: 3,
            ..RetryBudget::default()
        };
        assert!(b.next_delay(1, Duration::ZERO).is_some());
        assert!(b.next_delay(2, Duration::ZERO).is_some());
        assert_eq!(b.next_delay(3, Duration::ZERO), None);

        let b = RetryBudget {
            max_elapsed: Duration::from_secs(1),
            ..RetryBudget::default()
        };
        assert_eq!(b.next_delay(1, Duration::from_secs(2)), None);
        // A delay is never allowed to push the next start past the budget: after attempt 5
        // (a 1.6 s ceiling) with 100 ms left, the short draws are kept and the rest refused.
        let draws: Vec<_> = (0..1000)
            .map(|_| b.next_delay(5, Duration::from_millis(900)))
            .collect();
        assert!(
            draws
                .iter()
                .flatten()
                .all(|d| *d <= Duration::from_millis(100))
        );
        assert!(
            draws.iter().any(Option::is_some),
            "some draws fit in 100 ms"
        );
        assert!(draws.iter().any(Option::is_none), "most draws do not");
        // A ceiling that fits the time left is always granted.
        assert!(b.next_delay(1, Duration::from_millis(900)).is_some());
        assert_eq!(
            RetryBudget::no_retries().next_delay(1, Duration::ZERO),
            None
        );
    }
}
