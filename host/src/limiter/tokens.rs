//! The token budget of one model: `tokens_per_min_limit` and `tokens_per_day_limit`, as the
//! bedrock-runtime endpoint's per-model tokens-per-minute and tokens-per-day quotas count them
//! since May 2026. Reserve, then settle, as Bedrock does: before each InvokeModel attempt the
//! limiter reserves the call's estimated input tokens ([`super::estimate`]); once the answer
//! is in, the reservation is settled to the tokens Bedrock reported (0 for an attempt Bedrock
//! refused), so an over-estimate holds budget only while the call is in flight.
//!
//! ## Sliding windows, counted in buckets
//! Bedrock's window is not documented beyond "per minute"; the strictest reading is a sliding
//! 60 s window (what the emulator enforces), and a budget kept within it is kept within any
//! coarser one. Tokens are kept per bucket of [`MINUTE`]`.width` (1 s) and a bucket counts for
//! [`WindowSpec::behind`] more buckets: a reservation made at `t` counts until between
//! `t + 61 s` and `t + 62 s`, at least a second longer than Bedrock counts it, so a call that
//! reaches Bedrock late (a loaded machine, a slow network) cannot make the two windows
//! disagree. The price is under 3% of the budget. The day is the same with 1-minute buckets
//! over 1,441 minutes.
//!
//! Any 60-second window then holds at most the limit of settled tokens (when estimates are
//! upper bounds), and a job that has enough work uses the whole budget: there is no burst
//! limit beyond the budget itself (Bedrock allows a minute's quota at once too).
//!
//! ## Waiting
//! Waiters are served in arrival order (a FIFO lock around reserve-or-wait), so a long text is
//! not starved by short ones. A waiter wakes when the oldest buckets leave the window or when a
//! settle gives tokens back. With a deadline (HTTP's `limiter_max_wait`) it gives up at once
//! when even the window's expiry would come too late and nothing is in flight to give tokens
//! back; otherwise at the deadline.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::Notify;
use tokio::time::Instant;

/// One sliding window: buckets of `width`, each counting for `behind` buckets after its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowSpec {
    pub width: Duration,
    pub behind: u64,
}

/// `tokens_per_min_limit`: 1 s buckets, counted for 61 more (see the module docs).
pub const MINUTE: WindowSpec = WindowSpec {
    width: Duration::from_secs(1),
    behind: 61,
};

/// `tokens_per_day_limit`: 1 min buckets, counted for 1,441 more.
pub const DAY: WindowSpec = WindowSpec {
    width: Duration::from_secs(60),
    behind: 1441,
};

impl WindowSpec {
    /// The bucket of an instant `since` the limiter's epoch.
    pub fn bucket(self, since: Duration) -> u64 {
        (since.as_nanos() / self.width.as_nanos()) as u64
    }

    /// When bucket `b` stops counting (after the epoch).
    pub fn expiry(self, b: u64) -> Duration {
        self.width * u32::try_from(b + self.behind + 1).unwrap_or(u32::MAX)
    }
}

/// The reserved tokens of one window: `(bucket, tokens)`, oldest first.
#[derive(Debug)]
struct Window {
    spec: WindowSpec,
    limit: u64,
    buckets: VecDeque<(u64, u64)>,
    total: u64,
}

impl Window {
    fn new(spec: WindowSpec, limit: u64) -> Self {
        Self {
            spec,
            limit,
            buckets: VecDeque::new(),
            total: 0,
        }
    }

    fn expire(&mut self, now: u64) {
        let first = now.saturating_sub(self.spec.behind);
        while let Some(&(b, tokens)) = self.buckets.front() {
            if b >= first {
                break;
            }
            self.buckets.pop_front();
            self.total -= tokens;
        }
    }

    /// `Ok(())` when `tokens` fit now, else how long until enough buckets have left the window.
    fn fits(&mut self, since: Duration, tokens: u64) -> Result<(), Duration> {
        self.expire(self.spec.bucket(since));
        if self.total + tokens <= self.limit {
            return Ok(());
        }
        let need = self.total + tokens - self.limit;
        let mut freed = 0;
        for &(b, t) in &self.buckets {
            freed += t;
            if freed >= need {
                return Err(self.spec.expiry(b).saturating_sub(since));
            }
        }
        // Only when `tokens` alone is over the limit, which callers check first.
        Err(Duration::MAX)
    }

    fn add(&mut self, since: Duration, tokens: u64) -> u64 {
        let b = self.spec.bucket(since);
        match self.buckets.back_mut() {
            Some((last, t)) if *last == b => *t += tokens,
            _ => self.buckets.push_back((b, tokens)),
        }
        self.total += tokens;
        b
    }

    /// Moves bucket `b` from `from` tokens to `to`, if it still counts.
    fn settle(&mut self, b: u64, from: u64, to: u64) {
        if let Some((_, t)) = self.buckets.iter_mut().find(|(at, _)| *at == b) {
            let now = t.saturating_sub(from).saturating_add(to);
            self.total = self.total - *t + now;
            *t = now;
        }
    }
}

/// Where a reservation was recorded, to settle it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserved {
    pub tokens: u64,
    pub minute: Option<u64>,
    pub day: Option<u64>,
}

/// A reservation that cannot wait any longer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenShed {
    /// When the budget will have room (the window's expiry; sooner if calls settle lower).
    pub retry_after: Duration,
}

#[derive(Debug)]
struct Windows {
    minute: Option<Window>,
    day: Option<Window>,
}

impl Windows {
    fn fits(&mut self, since: Duration, tokens: u64) -> Result<(), Duration> {
        let m = self
            .minute
            .as_mut()
            .map_or(Ok(()), |w| w.fits(since, tokens));
        let d = self.day.as_mut().map_or(Ok(()), |w| w.fits(since, tokens));
        match (m, d) {
            (Ok(()), Ok(())) => Ok(()),
            (m, d) => Err(m.err().unwrap_or_default().max(d.err().unwrap_or_default())),
        }
    }
}

/// The in-process token budget of one model (or, in shared mode while Redis is unreachable,
/// this replica's share of it).
#[derive(Debug)]
pub struct LocalTokens {
    windows: Mutex<Windows>,
    /// FIFO order among waiters.
    turn: tokio::sync::Mutex<()>,
    /// Signalled when a settle gives tokens back.
    settled: Notify,
    /// Reservations not settled yet (tokens may come back).
    unsettled: AtomicU64,
    epoch: Instant,
}

impl LocalTokens {
    /// `None` when neither limit is set.
    pub fn new(per_min: Option<u64>, per_day: Option<u64>) -> Option<Self> {
        if per_min.is_none() && per_day.is_none() {
            return None;
        }
        Some(Self {
            windows: Mutex::new(Windows {
                minute: per_min.map(|l| Window::new(MINUTE, l)),
                day: per_day.map(|l| Window::new(DAY, l)),
            }),
            turn: tokio::sync::Mutex::new(()),
            settled: Notify::new(),
            unsettled: AtomicU64::new(0),
            epoch: Instant::now(),
        })
    }

    fn windows(&self) -> std::sync::MutexGuard<'_, Windows> {
        self.windows.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Tokens reserved in the per-minute window now (for tests and the bench).
    pub fn used_this_minute(&self) -> u64 {
        let since = self.epoch.elapsed();
        let mut w = self.windows();
        w.minute.as_mut().map_or(0, |m| {
            m.expire(MINUTE.bucket(since));
            m.total
        })
    }

    /// Reserves `tokens` (which the caller checked fit the model's limits), waiting in turn for
    /// room; with a `deadline`, gives up as the module docs say. Cancel-safe: a dropped future
    /// reserves nothing. A reservation larger than a limit here (a replica's share while Redis
    /// is down can be smaller than one call) is cut to that limit: it waits for a whole empty
    /// window, not forever.
    pub async fn reserve(
        &self,
        tokens: u64,
        deadline: Option<Instant>,
    ) -> Result<Reserved, TokenShed> {
        let tokens = {
            let w = self.windows();
            let smallest = [w.minute.as_ref(), w.day.as_ref()]
                .into_iter()
                .flatten()
                .map(|w| w.limit)
                .min()
                .unwrap_or(u64::MAX);
            tokens.min(smallest)
        };
        let shed = |retry_after| TokenShed { retry_after };
        let _turn = match deadline {
            None => self.turn.lock().await,
            Some(d) => tokio::time::timeout_at(d, self.turn.lock())
                .await
                .map_err(|_| shed(MINUTE.width))?,
        };
        loop {
            let settled = self.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            let since = self.epoch.elapsed();
            let wait = {
                let mut w = self.windows();
                match w.fits(since, tokens) {
                    Ok(()) => {
                        let minute = w.minute.as_mut().map(|m| m.add(since, tokens));
                        let day = w.day.as_mut().map(|d| d.add(since, tokens));
                        self.unsettled.fetch_add(1, Ordering::Relaxed);
                        return Ok(Reserved {
                            tokens,
                            minute,
                            day,
                        });
                    }
                    Err(wait) => wait,
                }
            };
            let now = Instant::now();
            let wake = now
                .checked_add(wait)
                .unwrap_or(now + Duration::from_secs(86_400));
            match deadline {
                Some(d) if wake > d && self.unsettled.load(Ordering::Relaxed) == 0 => {
                    return Err(shed(wait));
                }
                Some(d) if now >= d => return Err(shed(wait)),
                Some(d) => {
                    tokio::select! {
                        () = tokio::time::sleep_until(wake.min(d)) => {}
                        () = &mut settled => {}
                    }
                }
                None => {
                    tokio::select! {
                        () = tokio::time::sleep_until(wake) => {}
                        () = &mut settled => {}
                    }
                }
            }
        }
    }

    /// Settles `r` to the `actual` tokens the call used (Bedrock's count; 0 for an attempt it
    /// refused).
    pub fn settle(&self, r: &Reserved, actual: u64) {
        {
            let mut w = self.windows();
            if let (Some(m), Some(b)) = (w.minute.as_mut(), r.minute) {
                m.settle(b, r.tokens, actual);
            }
            if let (Some(d), Some(b)) = (w.day.as_mut(), r.day) {
                d.settle(b, r.tokens, actual);
            }
        }
        self.unsettled.fetch_sub(1, Ordering::Relaxed);
        self.settled.notify_waiters();
    }

    /// A reservation that will never be settled (its attempt's answer was lost): it keeps its
    /// estimate, and stops counting as in flight.
    pub fn abandon(&self, _r: &Reserved) {
        self.unsettled.fetch_sub(1, Ordering::Relaxed);
        self.settled.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn a_bucket_counts_at_least_a_second_longer_than_a_minute() {
        // Reserved anywhere in second 10 → counts until 72 s: between 61 and 62 s later.
        assert_eq!(MINUTE.bucket(Duration::from_millis(10_999)), 10);
        assert_eq!(MINUTE.expiry(10), Duration::from_secs(72));
        assert_eq!(DAY.expiry(0), Duration::from_secs(60 * 1442));
    }

    #[tokio::test(start_paused = true)]
    async fn the_minute_window_holds_the_limit_and_frees_it_after_61_to_62_s() {
        let t = LocalTokens::new(Some(1000), None).unwrap();
        let t0 = Instant::now();
        let a = t.reserve(600, None).await.unwrap();
        t.settle(&a, 600);
        tokio::time::sleep(Duration::from_millis(500)).await;
        let b = t.reserve(400, None).await.unwrap();
        t.settle(&b, 400);
        assert_eq!(t.used_this_minute(), 1000);
        // Full: the next waits until the first bucket (second 0) leaves, at 62 s.
        let c = t.reserve(1, None).await.unwrap();
        assert_eq!(t0.elapsed(), Duration::from_secs(62));
        assert_eq!(c.tokens, 1);
        assert_eq!(t.used_this_minute(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_settle_below_the_estimate_lets_the_next_waiter_go_at_once() {
        let t = Arc::new(LocalTokens::new(Some(1000), None).unwrap());
        let big = t.reserve(900, None).await.unwrap();
        let waiter = {
            let t = Arc::clone(&t);
            tokio::spawn(async move {
                let started = Instant::now();
                t.reserve(500, None).await.unwrap();
                started.elapsed()
            })
        };
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert!(!waiter.is_finished());
        // The call used 300 of its 900: 700 free.
        t.settle(&big, 300);
        assert_eq!(waiter.await.unwrap(), Duration::from_millis(250));
        assert_eq!(t.used_this_minute(), 800);
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_sheds_at_once_when_nothing_can_give_tokens_back() {
        let t = LocalTokens::new(Some(1000), None).unwrap();
        let a = t.reserve(1000, None).await.unwrap();
        t.settle(&a, 1000);
        let started = Instant::now();
        let shed = t
            .reserve(10, Some(Instant::now() + Duration::from_secs(30)))
            .await
            .unwrap_err();
        assert_eq!(started.elapsed(), Duration::ZERO);
        assert_eq!(shed.retry_after, Duration::from_secs(62));
        // With the window expiring within the deadline, it waits instead.
        tokio::time::sleep(Duration::from_secs(40)).await;
        let started = Instant::now();
        t.reserve(10, Some(Instant::now() + Duration::from_secs(30)))
            .await
            .unwrap();
        assert_eq!(started.elapsed(), Duration::from_secs(22));
    }

    #[tokio::test(start_paused = true)]
    async fn with_calls_in_flight_a_deadline_waits_for_their_settles() {
        let t = Arc::new(LocalTokens::new(Some(1000), None).unwrap());
        let in_flight = t.reserve(1000, None).await.unwrap();
        let waiter = {
            let t = Arc::clone(&t);
            tokio::spawn(async move {
                t.reserve(10, Some(Instant::now() + Duration::from_secs(5)))
                    .await
            })
        };
        tokio::time::sleep(Duration::from_secs(1)).await;
        t.settle(&in_flight, 0); // refused by Bedrock: nothing used
        assert!(waiter.await.unwrap().is_ok());
        // A deadline that passes while waiting sheds then.
        let full = t.reserve(990, None).await.unwrap();
        let started = Instant::now();
        let shed = t
            .reserve(500, Some(Instant::now() + Duration::from_secs(2)))
            .await
            .unwrap_err();
        assert_eq!(started.elapsed(), Duration::from_secs(2));
        assert!(shed.retry_after > Duration::from_secs(50), "{shed:?}");
        t.settle(&full, 990);
    }

    #[tokio::test(start_paused = true)]
    async fn waiters_are_served_in_arrival_order() {
        let t = Arc::new(LocalTokens::new(Some(100), None).unwrap());
        let t0 = Instant::now();
        // 50 tokens in second 0 (free at 62 s), 50 in second 1 (free at 63 s).
        for at in [0, 1] {
            tokio::time::sleep_until(t0 + Duration::from_secs(at)).await;
            let r = t.reserve(50, None).await.unwrap();
            t.settle(&r, 50);
        }
        let order = Arc::new(Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        // The big one needs both buckets gone (63 s); the small ones would fit at 62 s.
        for (i, tokens) in [(0, 90u64), (1, 5), (2, 5)] {
            let (t, order) = (Arc::clone(&t), Arc::clone(&order));
            tasks.push(tokio::spawn(async move {
                let r = t.reserve(tokens, None).await.unwrap();
                order.lock().unwrap().push((i, t0.elapsed().as_secs()));
                t.settle(&r, tokens);
            }));
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        for task in tasks {
            task.await.unwrap();
        }
        // In arrival order: the small ones wait behind the big one, which is not starved.
        assert_eq!(*order.lock().unwrap(), vec![(0, 63), (1, 63), (2, 63)]);
    }

    #[tokio::test(start_paused = true)]
    async fn the_day_window_binds_when_it_is_the_smaller_budget() {
        let t = LocalTokens::new(Some(1000), Some(1500)).unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            let r = t.reserve(500, None).await.unwrap();
            t.settle(&r, 500);
        }
        // Second 62 for the minute; the day's first minute-bucket leaves at 1,442 min.
        assert_eq!(t0.elapsed(), Duration::from_secs(62));
        let r = t.reserve(1, None).await.unwrap();
        assert_eq!(t0.elapsed(), Duration::from_secs(60 * 1442));
        assert_eq!(r.day, Some(1442));
        assert!(LocalTokens::new(None, None).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_reservation_over_the_limit_waits_for_an_empty_window_not_forever() {
        let t = LocalTokens::new(Some(100), None).unwrap();
        let a = t.reserve(10, None).await.unwrap();
        t.settle(&a, 10);
        let t0 = Instant::now();
        let r = t.reserve(250, None).await.unwrap();
        assert_eq!(r.tokens, 100);
        assert_eq!(t0.elapsed(), Duration::from_secs(62));
    }
}
