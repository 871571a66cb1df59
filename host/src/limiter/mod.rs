//! The per-model limiter: `requests_per_min_limit` as a smooth rate over InvokeModel attempts
//! (retries count: the AWS quota counts them) and `max_concurrent_invocations` as a cap on
//! attempts in flight, either for this process alone ([`local`]) or for every replica that
//! names the same Redis ([`shared`]).
//!
//! Every attempt calls [`Limiter::acquire`] and holds the returned [`Permit`] until the attempt
//! ends (response read or failed). With a `max_wait` (the model's `limiter_max_wait`, for HTTP
//! requests), an attempt that would wait longer gets a [`Shed`] with the time after which it
//! is worth trying again, and consumes nothing; the bulk job passes `None` and waits.
//!
//! ## Redis down: a local share
//! In shared mode every acquire first asks the [`RedisLink`] whether Redis is up. While it is
//! not (unreachable, or slower than `runtime.redis.timeout` on any call), attempts go through a
//! local limiter with this replica's share of the budget: `requests_per_min_limit / R` and
//! `max_concurrent_invocations / R` (rounded down, at least 1), where `R` is
//! `runtime.redis.replicas` when set, else the number of replicas last seen alive in Redis.
//! So the replicas together stay within the budget while Redis is down, and no request fails
//! for it. When Redis answers again, the next attempt is shared again.

pub mod local;
pub mod shared;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use self::local::LocalPermit;
pub use self::local::{BURST, LocalLimiter};
use self::shared::{Lease, SharedLimiter};
use crate::redis_link::RedisLink;
use crate::spicepod::LimitParams;

/// The limiter of one model. Share it (`Arc<Limiter>`) between all requests of the model.
#[derive(Debug)]
pub struct Limiter {
    limits: LimitParams,
    /// This process's own limiter (no Redis), or the per-replica gate of shared mode (a
    /// replica never holds more than the whole cap, and its own waiters stay in FIFO order).
    local: LocalLimiter,
    shared: Option<Shared>,
}

#[derive(Debug)]
struct Shared {
    limiter: SharedLimiter,
    /// The local share used while Redis is unreachable, rebuilt when the share changes.
    fallback: Mutex<Option<(u32, Arc<LocalLimiter>)>>,
}

/// A request that would wait longer than its `max_wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shed {
    /// When trying again is worth it: the limiter's current backlog.
    pub retry_after: Duration,
}

/// The right to make one InvokeModel attempt. Dropping it frees the concurrency slot (and the
/// shared lease).
#[derive(Debug)]
pub struct Permit {
    _slot: LocalPermit,
    _lease: Option<Lease>,
    _fallback_slot: Option<LocalPermit>,
    slot_wait: Duration,
    rate_wait: Duration,
    shared: bool,
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

    /// Whether the budget shared in Redis was used (false: this process's own or its share).
    pub fn shared(&self) -> bool {
        self.shared
    }
}

/// The spacing between attempts at `per_min` a minute, rounded up (never faster than the
/// quota). 0 counts as 1.
pub(crate) fn interval_of(per_min: u32) -> Duration {
    let per_min = u128::from(per_min.max(1));
    Duration::from_nanos(60_000_000_000u128.div_ceil(per_min) as u64)
}

impl Limiter {
    /// This process's own limiter.
    pub fn new(limits: LimitParams) -> Self {
        Self {
            local: LocalLimiter::new(
                limits.requests_per_min_limit,
                limits.max_concurrent_invocations,
            ),
            limits,
            shared: None,
        }
    }

    /// A limiter whose budget every replica naming the same Redis (and key prefix) shares for
    /// the model key `model_key` (the model id as sent to Bedrock).
    pub fn shared(limits: LimitParams, redis: RedisLink, model_key: &str) -> Self {
        let mut limiter = Self::new(limits);
        limiter.shared = Some(Shared {
            limiter: SharedLimiter::new(limits, redis, model_key),
            fallback: Mutex::new(None),
        });
        limiter
    }

    /// The settings this limiter enforces.
    pub fn limits(&self) -> LimitParams {
        self.limits
    }

    /// The spacing between attempts at full rate (`60 s / requests_per_min_limit`).
    pub fn interval(&self) -> Duration {
        self.local.interval()
    }

    /// Attempts of this process holding a slot right now (in flight or waiting for a token).
    pub fn in_flight(&self) -> usize {
        self.local.in_flight()
    }

    /// Whether this limiter is shared through Redis (it may be on its local share right now).
    pub fn is_shared(&self) -> bool {
        self.shared.is_some()
    }

    /// Waits for a concurrency slot, then for a rate token; with `max_wait`, gives up with a
    /// [`Shed`] rather than wait longer (see the module docs). Cancel-safe.
    pub async fn acquire(&self, max_wait: Option<Duration>) -> Result<Permit, Shed> {
        let Some(shared) = &self.shared else {
            let slot = self.local.acquire(max_wait).await?;
            return Ok(Permit {
                slot_wait: slot.slot_wait,
                rate_wait: slot.rate_wait,
                _slot: slot,
                _lease: None,
                _fallback_slot: None,
                shared: false,
            });
        };
        let started = tokio::time::Instant::now();
        // The per-replica gate: a concurrency slot only (the rate is the shared one).
        let slot = self.local.acquire_slot(max_wait).await?;
        let remaining = max_wait.map(|w| w.saturating_sub(started.elapsed()));
        if shared.limiter.redis().is_up() {
            match shared.limiter.acquire(remaining).await {
                Ok(Some(got)) => {
                    return Ok(Permit {
                        slot_wait: slot.slot_wait + got.lease_wait,
                        rate_wait: got.rate_wait,
                        _slot: slot,
                        _lease: Some(got.lease),
                        _fallback_slot: None,
                        shared: true,
                    });
                }
                Err(shed) => return Err(shed),
                // Redis failed during the acquire: fall through to the local share.
                Ok(None) => {}
            }
        }
        let fallback = self.fallback(shared);
        let remaining = max_wait.map(|w| w.saturating_sub(started.elapsed()));
        let share = fallback.acquire(remaining).await?;
        Ok(Permit {
            slot_wait: started.elapsed() - share.rate_wait,
            rate_wait: share.rate_wait,
            _slot: slot,
            _lease: None,
            _fallback_slot: Some(share),
            shared: false,
        })
    }

    /// The local share for now, rebuilt when the number of replicas changed.
    fn fallback(&self, shared: &Shared) -> Arc<LocalLimiter> {
        let replicas = shared.limiter.redis().replicas_for_share();
        let mut current = shared.fallback.lock().unwrap_or_else(|e| e.into_inner());
        match &*current {
            Some((n, limiter)) if *n == replicas => Arc::clone(limiter),
            _ => {
                let (per_min, concurrent) = share_of(self.limits, replicas);
                tracing::info!(
                    replicas,
                    requests_per_min_limit = per_min,
                    max_concurrent_invocations = concurrent,
                    "limiter: Redis is unreachable; using this replica's share of the budget"
                );
                let limiter = Arc::new(LocalLimiter::new(per_min, concurrent));
                *current = Some((replicas, Arc::clone(&limiter)));
                limiter
            }
        }
    }
}

/// One replica's share of the budget among `replicas`: (requests/min, in flight), rounded
/// down so the replicas together stay within it, at least 1 each.
pub fn share_of(limits: LimitParams, replicas: u32) -> (u32, u32) {
    let r = replicas.max(1);
    (
        (limits.requests_per_min_limit / r).max(1),
        (limits.max_concurrent_invocations / r).max(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_the_documented_ones() {
        let l = Limiter::new(LimitParams::default());
        assert_eq!(l.limits().requests_per_min_limit, 1500);
        assert_eq!(l.limits().max_concurrent_invocations, 40);
        assert_eq!(l.limits().max_wait, Duration::from_secs(30));
        assert_eq!(l.interval(), Duration::from_millis(40));
        assert_eq!(l.in_flight(), 0);
        assert!(!l.is_shared());
    }

    #[test]
    fn the_local_share_keeps_the_replicas_within_the_budget() {
        let limits = LimitParams {
            requests_per_min_limit: 600,
            max_concurrent_invocations: 10,
            ..LimitParams::default()
        };
        assert_eq!(share_of(limits, 3), (200, 3));
        assert_eq!(share_of(limits, 1), (600, 10));
        assert_eq!(share_of(limits, 0), (600, 10));
        // Never 0: a replica can always make progress.
        assert_eq!(share_of(limits, 50), (12, 1));
        assert_eq!(interval_of(0), Duration::from_secs(60));
    }
}
