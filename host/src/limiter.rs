//! The per-model limiter: `requests_per_min_limit` as a smooth rate over InvokeModel attempts
//! (retries count: the AWS quota counts them) and `max_concurrent_invocations` as a cap on
//! attempts in flight.
//!
//! Every attempt calls [`Limiter::acquire`] and holds the returned [`Permit`] until the attempt
//! ends (response read or failed). `acquire` first takes a concurrency slot (FIFO, tokio
//! semaphore), then waits its turn for a rate token (GCRA with burst 1, FIFO through a
//! tokio mutex so waiters are served in order and no one starves).
//!
//! ## Why burst 1
//! The quota is per minute, but a per-minute bucket (`Quota::per_minute(n)` as governor builds it,
//! burst = n) would let 1,500 attempts out at once after an idle minute and then stall — Bedrock
//! throttles such spikes. With burst 1 the GCRA spaces attempts exactly `60 s / n` apart (40 ms at
//! the default 1,500/min), and *any* 60-second window holds at most `n + 1` attempts. A small
//! burst `b` would let the first `b` calls of a multi-call request leave together (saving at most
//! `(b-1) × 40 ms` once after idle) but would allow `n + b` attempts in a window, i.e. go over the
//! configured quota. The quota is what the user wrote, so it wins: burst is [`BURST`] = 1.
//!
//! ## Why not governor's `check` after the sleep
//! tokio's timer has a 1 ms resolution, so a waiter wakes up to ~1 ms after its slot. GCRA as
//! governor implements it then sets the next slot from the (late) wake-up time, so every
//! lateness is lost for good: ~1 ms per interval, 2.5% of the rate at the default 40 ms, half
//! of it at 1 ms (measured in BENCHMARKS.md). Here the next slot is the previous slot plus
//! the interval (the same GCRA with burst 1, its theoretical arrival time kept exact), so a
//! late wake-up is made up on the next attempt — but never to less than a tenth of an
//! interval after the previous attempt left. Attempts `k` apart are then at least
//! `k × interval − 0.9 × interval` apart, so any 60-second window still holds at most `n + 1`
//! attempts (at 60,000/min, a 1 ms interval, tokio's timer no longer halves the rate).
//!
//! The limiter reads `tokio::time::Instant` and waits with `tokio::time::sleep_until`, so
//! tests drive it with tokio's paused time.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use crate::spicepod::LimitParams;

/// The GCRA burst: one attempt at a time, evenly spaced (see the module docs).
pub const BURST: u32 = 1;

/// The limiter of one model. Share it (`Arc<Limiter>`) between all requests of the model.
#[derive(Debug)]
pub struct Limiter {
    limits: LimitParams,
    slots: Arc<Semaphore>,
    /// The earliest time the next attempt may leave (the GCRA's theoretical arrival time).
    /// The lock also serializes waiting for it, so waiters leave in arrival order.
    next_slot: Mutex<Instant>,
    interval: Duration,
}

/// The right to make one InvokeModel attempt. Dropping it frees the concurrency slot.
#[derive(Debug)]
pub struct Permit {
    _slot: OwnedSemaphorePermit,
    slot_wait: Duration,
    rate_wait: Duration,
}

impl Permit {
    /// Time spent waiting for a concurrency slot (`max_concurrent_invocations`).
    pub fn slot_wait(&self) -> Duration {
        self.slot_wait
    }

    /// Time spent waiting for a rate token (`requests_per_min_limit`), after getting the slot.
    pub fn rate_wait(&self) -> Duration {
        self.rate_wait
    }

    /// Total time `acquire` waited (for metrics: limiter wait per attempt).
    pub fn waited(&self) -> Duration {
        self.slot_wait + self.rate_wait
    }
}

impl Limiter {
    /// Builds the limiter. Values of 0 (which the spicepod loader rejects) are treated as 1, so
    /// this never panics.
    pub fn new(limits: LimitParams) -> Self {
        let per_min = u128::from(limits.requests_per_min_limit.max(1));
        // Rounded up: never faster than the quota.
        let interval = Duration::from_nanos(60_000_000_000u128.div_ceil(per_min) as u64);
        let slots = (limits.max_concurrent_invocations.max(1) as usize).min(Semaphore::MAX_PERMITS);
        Self {
            limits,
            slots: Arc::new(Semaphore::new(slots)),
            next_slot: Mutex::new(Instant::now()),
            interval,
        }
    }

    /// The settings this limiter enforces.
    pub fn limits(&self) -> LimitParams {
        self.limits
    }

    /// The spacing between attempts at full rate (`60 s / requests_per_min_limit`).
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Attempts holding a slot right now (in flight or waiting for a rate token).
    pub fn in_flight(&self) -> usize {
        let max = self.limits.max_concurrent_invocations.max(1) as usize;
        max.saturating_sub(self.slots.available_permits())
    }

    /// Waits for a concurrency slot, then for a rate token. Cancel-safe: dropping the future
    /// gives back the slot and consumes no token.
    pub async fn acquire(&self) -> Permit {
        let asked = Instant::now();
        let slot = Arc::clone(&self.slots)
            .acquire_owned()
            .await
            .expect("the limiter's semaphore is never closed");
        let got_slot = Instant::now();
        {
            let mut next = self.next_slot.lock().await;
            let now = Instant::now();
            let slot = (*next).max(now);
            if slot > now {
                // (A sleep until `now` would still wait for the timer's next 1 ms tick.)
                tokio::time::sleep_until(slot).await;
            }
            // From the slot, not from the wake-up, so a late wake-up is made up on the next
            // attempt; but never to less than a tenth of an interval after this one (see the
            // module docs). Set only once the wait is over: a cancelled acquire consumes nothing.
            let left = Instant::now();
            *next = (slot + self.interval).max(left + self.interval / 10);
        }
        Permit {
            _slot: slot,
            slot_wait: got_slot - asked,
            rate_wait: got_slot.elapsed(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_min: u32, concurrent: u32) -> LimitParams {
        LimitParams {
            max_concurrent_invocations: concurrent,
            requests_per_min_limit: per_min,
        }
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let l = Limiter::new(LimitParams::default());
        assert_eq!(l.limits(), limits(1500, 40));
        assert_eq!(l.interval(), Duration::from_millis(40));
        assert_eq!(l.in_flight(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_are_spaced_evenly_not_burst() {
        // 600/min = one every 100 ms; even after a long idle, no burst beyond one.
        let l = Limiter::new(limits(600, 100));
        tokio::time::sleep(Duration::from_secs(120)).await;
        let t0 = Instant::now();
        let mut at = Vec::new();
        for _ in 0..6 {
            let p = l.acquire().await;
            at.push(t0.elapsed());
            drop(p);
        }
        let want: Vec<Duration> = (0..6).map(|i| Duration::from_millis(100 * i)).collect();
        assert_eq!(at, want);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_waiters_are_served_in_order_at_the_rate() {
        let l = Arc::new(Limiter::new(limits(1200, 100))); // 50 ms
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..10u64 {
            let l = Arc::clone(&l);
            tasks.push(tokio::spawn(async move {
                // Arrive 1 ms apart, so the order is defined.
                tokio::time::sleep(Duration::from_millis(i)).await;
                let p = l.acquire().await;
                (i, t0.elapsed(), p.rate_wait())
            }));
        }
        for t in tasks {
            let (i, at, rate_wait) = t.await.expect("task");
            // Served in arrival order, one every 50 ms; the wait is reported.
            assert_eq!(at, Duration::from_millis(50 * i), "{i}");
            assert_eq!(rate_wait, Duration::from_millis(50 * i - i), "{i}");
        }
        // One minute's worth of attempts takes a minute, not less.
        let t1 = Instant::now();
        for _ in 0..1200 {
            drop(l.acquire().await);
        }
        let took = t1.elapsed();
        assert!(
            took >= Duration::from_millis(59_950) && took <= Duration::from_secs(61),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_cap_holds_and_drop_frees_a_slot() {
        let l = Arc::new(Limiter::new(limits(60_000, 2))); // 1 ms spacing
        let a = l.acquire().await;
        let b = l.acquire().await;
        assert_eq!(l.in_flight(), 2);
        let waiter = {
            let l = Arc::clone(&l);
            tokio::spawn(async move { l.acquire().await })
        };
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(
            !waiter.is_finished(),
            "a third attempt must wait for a slot"
        );
        drop(a);
        let c = waiter.await.expect("task");
        assert!(
            c.slot_wait() >= Duration::from_secs(5),
            "{:?}",
            c.slot_wait()
        );
        assert!(c.waited() >= c.slot_wait());
        assert_eq!(l.in_flight(), 2);
        drop((b, c));
        assert_eq!(l.in_flight(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn cancelled_acquire_gives_back_the_slot() {
        let l = Limiter::new(limits(1, 1)); // one per minute
        let first = l.acquire().await;
        drop(first);
        // The next token is a minute away: give up after a second.
        let r = tokio::time::timeout(Duration::from_secs(1), l.acquire()).await;
        assert!(r.is_err());
        assert_eq!(l.in_flight(), 0);
        let t0 = Instant::now();
        let p = l.acquire().await;
        assert!(
            t0.elapsed() <= Duration::from_secs(59),
            "{:?}",
            t0.elapsed()
        );
        assert!(p.rate_wait() >= Duration::from_secs(58));
    }

    #[test]
    fn zero_limits_do_not_panic() {
        let l = Limiter::new(limits(0, 0));
        assert_eq!(l.interval(), Duration::from_secs(60));
        assert_eq!(l.in_flight(), 0);
    }
}
