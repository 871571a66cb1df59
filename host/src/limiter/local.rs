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
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::{Shed, interval_of};

/// The GCRA burst: one attempt at a time, evenly spaced (see the module docs).
pub const BURST: u32 = 1;

/// The in-process limiter of one model (or, in shared mode while Redis is unreachable, of this
/// replica's share of it).
#[derive(Debug)]
pub struct LocalLimiter {
    max_concurrent: u32,
    slots: Arc<Semaphore>,
    /// The earliest time the next attempt may leave (the GCRA's theoretical arrival time).
    /// The lock also serializes waiting for it, so waiters leave in arrival order.
    next_slot: Mutex<Instant>,
    /// `next_slot` as nanoseconds after `epoch`, readable without the lock (for the estimate
    /// a shed request's `Retry-After` is computed from).
    next_slot_ns: AtomicU64,
    epoch: Instant,
    /// Attempts waiting for (or holding) the rate lock.
    rate_waiters: AtomicUsize,
    interval: Duration,
}

/// One attempt's concurrency slot, and how long getting it took.
#[derive(Debug)]
pub struct LocalPermit {
    pub(super) _slot: OwnedSemaphorePermit,
    pub(super) slot_wait: Duration,
    pub(super) rate_wait: Duration,
}

/// Counts a waiter for as long as it waits (also when its future is dropped).
struct Waiting<'a>(&'a AtomicUsize);

impl<'a> Waiting<'a> {
    fn new(n: &'a AtomicUsize) -> Self {
        n.fetch_add(1, Ordering::Relaxed);
        Self(n)
    }
}

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl LocalLimiter {
    /// `per_min` attempts a minute, `max_concurrent` in flight. Values of 0 (which the
    /// spicepod loader rejects) are treated as 1, so this never panics.
    pub fn new(per_min: u32, max_concurrent: u32) -> Self {
        let max_concurrent = max_concurrent.max(1);
        let slots = (max_concurrent as usize).min(Semaphore::MAX_PERMITS);
        let now = Instant::now();
        Self {
            max_concurrent,
            slots: Arc::new(Semaphore::new(slots)),
            next_slot: Mutex::new(now),
            next_slot_ns: AtomicU64::new(0),
            epoch: now,
            rate_waiters: AtomicUsize::new(0),
            interval: interval_of(per_min),
        }
    }

    /// The spacing between attempts at full rate (`60 s / per_min`).
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Attempts holding a slot right now (in flight or waiting for a rate token).
    pub fn in_flight(&self) -> usize {
        (self.max_concurrent as usize).saturating_sub(self.slots.available_permits())
    }

    /// How long an attempt arriving now would wait for its rate token: the time to the next
    /// slot plus one interval per attempt queued ahead of it.
    pub fn estimated_wait(&self) -> Duration {
        let next = self.epoch + Duration::from_nanos(self.next_slot_ns.load(Ordering::Relaxed));
        let queued = self.rate_waiters.load(Ordering::Relaxed) as u32;
        next.saturating_duration_since(Instant::now()) + self.interval * queued
    }

    /// Waits for a concurrency slot, then for a rate token. With `max_wait`, gives up (and
    /// consumes nothing) when the wait would be longer: at once when the estimate says so, else
    /// when the deadline passes. Cancel-safe: dropping the future gives back the slot and
    /// consumes no token.
    pub async fn acquire(&self, max_wait: Option<Duration>) -> Result<LocalPermit, Shed> {
        let asked = Instant::now();
        let deadline = max_wait.map(|w| asked + w);
        if let Some(max_wait) = max_wait {
            let estimate = self.estimated_wait();
            if estimate > max_wait {
                return Err(Shed::requests(estimate));
            }
        }
        let slot = Arc::clone(&self.slots).acquire_owned();
        let slot = match deadline {
            None => slot.await,
            Some(d) => match tokio::time::timeout_at(d, slot).await {
                Ok(slot) => slot,
                Err(_) => return Err(self.shed_now()),
            },
        }
        .expect("the limiter's semaphore is never closed");
        let got_slot = Instant::now();
        {
            let _waiting = Waiting::new(&self.rate_waiters);
            let mut next = match deadline {
                None => self.next_slot.lock().await,
                Some(d) => match tokio::time::timeout_at(d, self.next_slot.lock()).await {
                    Ok(next) => next,
                    Err(_) => return Err(self.shed_now()),
                },
            };
            let now = Instant::now();
            let slot = (*next).max(now);
            // Shed only a wait past the deadline: with no wait (`slot == now`) even a deadline
            // already behind us (`limiter_max_wait: 0s`, or time spent getting the slot) lets
            // the attempt go.
            if let Some(d) = deadline
                && slot > now
                && slot > d
            {
                return Err(Shed::requests(slot - now));
            }
            if slot > now {
                // (A sleep until `now` would still wait for the timer's next 1 ms tick.)
                tokio::time::sleep_until(slot).await;
            }
            // From the slot, not from the wake-up, so a late wake-up is made up on the next
            // attempt; but never to less than a tenth of an interval after this one (see the
            // module docs). Set only once the wait is over: a cancelled acquire consumes nothing.
            let left = Instant::now();
            *next = (slot + self.interval).max(left + self.interval / 10);
            let ns = next.saturating_duration_since(self.epoch).as_nanos();
            self.next_slot_ns
                .store(u64::try_from(ns).unwrap_or(u64::MAX), Ordering::Relaxed);
        }
        Ok(LocalPermit {
            _slot: slot,
            slot_wait: got_slot - asked,
            rate_wait: got_slot.elapsed(),
        })
    }

    /// Only a concurrency slot, no rate token (shared mode: the rate is kept in Redis).
    pub async fn acquire_slot(&self, max_wait: Option<Duration>) -> Result<LocalPermit, Shed> {
        let asked = Instant::now();
        let slot = Arc::clone(&self.slots).acquire_owned();
        let slot = match max_wait {
            None => slot.await,
            Some(w) => match tokio::time::timeout(w, slot).await {
                Ok(slot) => slot,
                Err(_) => return Err(self.shed_now()),
            },
        }
        .expect("the limiter's semaphore is never closed");
        Ok(LocalPermit {
            _slot: slot,
            slot_wait: asked.elapsed(),
            rate_wait: Duration::ZERO,
        })
    }

    fn shed_now(&self) -> Shed {
        Shed::requests(self.estimated_wait().max(self.interval))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(per_min: u32, concurrent: u32) -> LocalLimiter {
        LocalLimiter::new(per_min, concurrent)
    }

    #[tokio::test(start_paused = true)]
    async fn attempts_are_spaced_evenly_not_burst() {
        // 600/min = one every 100 ms; even after a long idle, no burst beyond one.
        let l = limits(600, 100);
        tokio::time::sleep(Duration::from_secs(120)).await;
        let t0 = Instant::now();
        let mut at = Vec::new();
        for _ in 0..6 {
            let p = l.acquire(None).await.unwrap();
            at.push(t0.elapsed());
            drop(p);
        }
        let want: Vec<Duration> = (0..6).map(|i| Duration::from_millis(100 * i)).collect();
        assert_eq!(at, want);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_waiters_are_served_in_order_at_the_rate() {
        let l = Arc::new(limits(1200, 100)); // 50 ms
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for i in 0..10u64 {
            let l = Arc::clone(&l);
            tasks.push(tokio::spawn(async move {
                // Arrive 1 ms apart, so the order is defined.
                tokio::time::sleep(Duration::from_millis(i)).await;
                let p = l.acquire(None).await.unwrap();
                (i, t0.elapsed(), p.rate_wait)
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
            drop(l.acquire(None).await.unwrap());
        }
        let took = t1.elapsed();
        assert!(
            took >= Duration::from_millis(59_950) && took <= Duration::from_secs(61),
            "{took:?}"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn concurrency_cap_holds_and_drop_frees_a_slot() {
        let l = Arc::new(limits(60_000, 2)); // 1 ms spacing
        let a = l.acquire(None).await.unwrap();
        let b = l.acquire(None).await.unwrap();
        assert_eq!(l.in_flight(), 2);
        let waiter = {
            let l = Arc::clone(&l);
            tokio::spawn(async move { l.acquire(None).await.unwrap() })
        };
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(
            !waiter.is_finished(),
            "a third attempt must wait for a slot"
        );
        drop(a);
        let c = waiter.await.expect("task");
        assert!(c.slot_wait >= Duration::from_secs(5), "{:?}", c.slot_wait);
        assert!((c.slot_wait + c.rate_wait) >= c.slot_wait);
        assert_eq!(l.in_flight(), 2);
        drop((b, c));
        assert_eq!(l.in_flight(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn cancelled_acquire_gives_back_the_slot() {
        let l = limits(1, 1); // one per minute
        let first = l.acquire(None).await.unwrap();
        drop(first);
        // The next token is a minute away: give up after a second.
        let r = tokio::time::timeout(Duration::from_secs(1), l.acquire(None)).await;
        assert!(r.is_err());
        assert_eq!(l.in_flight(), 0);
        let t0 = Instant::now();
        let p = l.acquire(None).await.unwrap();
        assert!(
            t0.elapsed() <= Duration::from_secs(59),
            "{:?}",
            t0.elapsed()
        );
        assert!(p.rate_wait >= Duration::from_secs(58));
    }

    #[test]
    fn zero_limits_do_not_panic() {
        let l = limits(0, 0);
        assert_eq!(l.interval(), Duration::from_secs(60));
        assert_eq!(l.in_flight(), 0);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_past_max_wait_is_shed_at_once_with_the_time_to_a_free_slot() {
        let l = Arc::new(limits(60, 100)); // one a second
        let max_wait = Some(Duration::from_millis(2500));
        // The first three fit within 2.5 s (0, 1, 2 s); queue them.
        let mut queued = Vec::new();
        for _ in 0..3 {
            let l = Arc::clone(&l);
            queued.push(tokio::spawn(
                async move { l.acquire(max_wait).await.map(drop) },
            ));
            tokio::task::yield_now().await;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
        // The fourth would wait ~3 s: shed now, told to come back when the queue has drained.
        let t0 = Instant::now();
        let shed = l.acquire(max_wait).await.expect_err("shed");
        assert_eq!(t0.elapsed(), Duration::ZERO);
        assert!(
            shed.retry_after >= Duration::from_millis(2900)
                && shed.retry_after <= Duration::from_millis(3000),
            "{:?}",
            shed.retry_after
        );
        for q in queued {
            q.await.unwrap().expect("within max_wait");
        }
        // Nothing was consumed by the shed attempt: the next slot is 1 s after the third.
        let t1 = Instant::now();
        l.acquire(None).await.unwrap();
        assert!(t1.elapsed() <= Duration::from_secs(1), "{:?}", t1.elapsed());
    }

    #[tokio::test(start_paused = true)]
    async fn a_zero_max_wait_sheds_whenever_the_limiter_would_wait() {
        let l = limits(60, 100);
        l.acquire(Some(Duration::ZERO))
            .await
            .expect("the first leaves at once");
        let shed = l
            .acquire(Some(Duration::ZERO))
            .await
            .expect_err("the second would wait");
        assert!(
            shed.retry_after > Duration::from_millis(900),
            "{:?}",
            shed.retry_after
        );
    }

    #[tokio::test]
    async fn a_zero_max_wait_lets_an_attempt_go_that_need_not_wait_in_real_time() {
        // Real time passes between asking and getting the rate lock: that is not a wait.
        let l = limits(60, 100);
        l.acquire(Some(Duration::ZERO))
            .await
            .expect("nothing ahead of it");
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_for_a_slot_is_bounded_by_max_wait_too() {
        let l = limits(60_000, 1);
        let _held = l.acquire(None).await.unwrap();
        let t0 = Instant::now();
        let shed = l
            .acquire(Some(Duration::from_secs(2)))
            .await
            .expect_err("shed");
        assert_eq!(t0.elapsed(), Duration::from_secs(2));
        assert!(shed.retry_after >= l.interval());
        assert_eq!(l.in_flight(), 1);
    }
}
