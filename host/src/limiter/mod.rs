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
//!
//! ## Tokens
//! With `tokens_per_min_limit` or `tokens_per_day_limit`, an attempt that got its slot and rate
//! token then reserves its estimated input tokens ([`estimate`], [`tokens`]; shared:
//! [`shared_tokens`]), right before it is sent, so the reservation is timed as Bedrock counts
//! the call. The [`Permit`] carries the reservation; [`TokenHold::settle`] sets it to Bedrock's
//! count. While Redis is down the local share is `limit / R` tokens, as for requests.

pub mod estimate;
pub mod local;
pub mod shared;
pub mod shared_tokens;
pub mod tokens;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use self::local::LocalPermit;
pub use self::local::{BURST, LocalLimiter};
use self::shared::{Lease, SharedLimiter};
use self::shared_tokens::SharedTokens;
use self::tokens::{LocalTokens, Reserved};
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
    /// `None` without a token limit.
    tokens: Option<Tokens>,
}

/// The local share a limiter uses while Redis is unreachable, rebuilt when the number of
/// replicas it is a share of changes.
#[derive(Debug)]
struct ShareCell<T>(Mutex<Option<(u32, Arc<T>)>>);

impl<T> ShareCell<T> {
    fn new() -> Self {
        Self(Mutex::new(None))
    }

    /// The share for `replicas`, made by `make` (which logs it) when it changed.
    fn get(&self, replicas: u32, make: impl FnOnce() -> T) -> Arc<T> {
        let mut current = self.0.lock().unwrap_or_else(|e| e.into_inner());
        match &*current {
            Some((n, share)) if *n == replicas => Arc::clone(share),
            _ => {
                let share = Arc::new(make());
                *current = Some((replicas, Arc::clone(&share)));
                share
            }
        }
    }
}

/// The token budget of a model: this process's own, or the one shared in Redis (with its local
/// share while Redis is down).
#[derive(Debug)]
enum Tokens {
    Local(Arc<LocalTokens>),
    Shared {
        shared: Arc<SharedTokens>,
        fallback: ShareCell<LocalTokens>,
    },
}

#[derive(Debug)]
struct Shared {
    limiter: SharedLimiter,
    /// The local share used while Redis is unreachable, rebuilt when the share changes.
    fallback: ShareCell<LocalLimiter>,
}

/// A request that would wait longer than its `max_wait`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shed {
    /// When trying again is worth it: the limiter's current backlog.
    pub retry_after: Duration,
    /// Which budget was full.
    pub cause: ShedCause,
}

/// The budget a shed request found full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ShedCause {
    /// `requests_per_min_limit` or `max_concurrent_invocations`.
    #[default]
    Requests,
    /// `tokens_per_min_limit` or `tokens_per_day_limit`.
    Tokens,
}

impl Shed {
    pub(crate) fn requests(retry_after: Duration) -> Self {
        Self {
            retry_after,
            cause: ShedCause::Requests,
        }
    }
}

/// A call whose estimated tokens alone are over a token limit: it could never be sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OverTokenLimit {
    pub estimate: u64,
    pub limit: u64,
    /// `tokens_per_min_limit` or `tokens_per_day_limit`.
    pub param: &'static str,
}

/// The tokens reserved for one attempt: [`TokenHold::settle`] it with Bedrock's count. Dropped
/// unsettled (the answer was lost), the estimate stays counted.
#[derive(Debug)]
pub struct TokenHold {
    reserved: Reserved,
    by: HeldBy,
    model: String,
    settled: bool,
}

#[derive(Debug)]
enum HeldBy {
    Local(Arc<LocalTokens>),
    Shared(Arc<SharedTokens>),
}

impl TokenHold {
    /// Tokens reserved (the estimate).
    pub fn reserved(&self) -> u64 {
        self.reserved.tokens
    }

    /// Sets the reservation to `actual` tokens (Bedrock's count; 0 when it refused the call).
    pub fn settle(mut self, actual: u64) {
        self.settled = true;
        metrics::counter!("bedrock_embed_tokens_settled_total", "model" => self.model.clone())
            .increment(actual);
        match &self.by {
            HeldBy::Local(l) => l.settle(&self.reserved, actual),
            HeldBy::Shared(s) => s.settle(self.reserved, actual),
        }
    }
}

impl Drop for TokenHold {
    fn drop(&mut self) {
        if !self.settled {
            match &self.by {
                HeldBy::Local(l) => l.abandon(&self.reserved),
                HeldBy::Shared(s) => s.abandon(),
            }
        }
    }
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
    token_wait: Duration,
    tokens: Option<TokenHold>,
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

    /// Time spent waiting for room in the token budget, after the rate token.
    pub fn token_wait(&self) -> Duration {
        self.token_wait
    }

    /// Total time `acquire` waited (for metrics: limiter wait per attempt).
    pub fn waited(&self) -> Duration {
        self.slot_wait + self.rate_wait + self.token_wait
    }

    /// The attempt's token reservation, to settle once Bedrock answered (`None` without a
    /// token limit).
    pub fn take_tokens(&mut self) -> Option<TokenHold> {
        self.tokens.take()
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
            tokens: LocalTokens::new(limits.tokens_per_min_limit, limits.tokens_per_day_limit)
                .map(|t| Tokens::Local(Arc::new(t))),
            limits,
            shared: None,
        }
    }

    /// A limiter whose budget every replica naming the same Redis (and key prefix) shares for
    /// the model key `model_key` (the model id as sent to Bedrock).
    pub fn shared(limits: LimitParams, redis: RedisLink, model_key: &str) -> Self {
        let mut limiter = Self::new(limits);
        if limiter.tokens.is_some() {
            limiter.tokens = Some(Tokens::Shared {
                shared: Arc::new(SharedTokens::new(
                    redis.clone(),
                    model_key,
                    limits.tokens_per_min_limit,
                    limits.tokens_per_day_limit,
                )),
                fallback: ShareCell::new(),
            });
        }
        limiter.shared = Some(Shared {
            limiter: SharedLimiter::new(limits, redis, model_key),
            fallback: ShareCell::new(),
        });
        limiter
    }

    /// Whether `tokens` (a call's estimate) fit the token limits at all: a call over one could
    /// never be sent.
    pub fn check_tokens(&self, tokens: u64) -> Result<(), OverTokenLimit> {
        let over = |limit: Option<u64>, param| match limit {
            Some(limit) if tokens > limit => Err(OverTokenLimit {
                estimate: tokens,
                limit,
                param,
            }),
            _ => Ok(()),
        };
        over(self.limits.tokens_per_min_limit, "tokens_per_min_limit")?;
        over(self.limits.tokens_per_day_limit, "tokens_per_day_limit")
    }

    /// Whether a token budget is set.
    pub fn limits_tokens(&self) -> bool {
        self.tokens.is_some()
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

    /// Waits for a concurrency slot, then for a rate token, then (with a token limit) for room
    /// for `tokens`, the attempt's estimate (checked with [`Limiter::check_tokens`] first); with
    /// `max_wait`, gives up with a [`Shed`] rather than wait longer (see the module docs).
    /// Cancel-safe.
    pub async fn acquire(
        &self,
        max_wait: Option<Duration>,
        tokens: u64,
        model: &str,
    ) -> Result<Permit, Shed> {
        let started = tokio::time::Instant::now();
        let mut permit = self.acquire_request(max_wait).await?;
        let Some(budget) = &self.tokens else {
            return Ok(permit);
        };
        let deadline = max_wait.map(|w| started + w);
        let asked = tokio::time::Instant::now();
        let shed = |s: tokens::TokenShed| Shed {
            retry_after: s.retry_after,
            cause: ShedCause::Tokens,
        };
        let (reserved, by) = match budget {
            Tokens::Local(local) => (
                local.reserve(tokens, deadline).await.map_err(shed)?,
                HeldBy::Local(Arc::clone(local)),
            ),
            Tokens::Shared { shared, fallback } => {
                let got = if shared.redis().is_up() {
                    shared.reserve(tokens, deadline).await.map_err(shed)?
                } else {
                    None
                };
                match got {
                    Some(r) => (r, HeldBy::Shared(Arc::clone(shared))),
                    None => {
                        let share = self.token_fallback(fallback, shared);
                        (
                            share.reserve(tokens, deadline).await.map_err(shed)?,
                            HeldBy::Local(share),
                        )
                    }
                }
            }
        };
        metrics::counter!("bedrock_embed_tokens_reserved_total", "model" => model.to_string())
            .increment(reserved.tokens);
        permit.token_wait = asked.elapsed();
        metrics::histogram!("bedrock_embed_limiter_token_wait_seconds", "model" => model.to_string())
            .record(permit.token_wait.as_secs_f64());
        permit.tokens = Some(TokenHold {
            reserved,
            by,
            model: model.to_string(),
            settled: false,
        });
        Ok(permit)
    }

    /// The token share for now (see [`ShareCell`]).
    fn token_fallback(
        &self,
        fallback: &ShareCell<LocalTokens>,
        shared: &SharedTokens,
    ) -> Arc<LocalTokens> {
        let replicas = shared.redis().replicas_for_share();
        fallback.get(replicas, || {
            let (per_min, per_day) = token_share_of(self.limits, replicas);
            tracing::info!(
                replicas,
                tokens_per_min_limit = per_min,
                tokens_per_day_limit = per_day,
                "limiter: Redis is unreachable; using this replica's share of the token budget"
            );
            LocalTokens::new(per_min, per_day).expect("a shared token budget has a limit")
        })
    }

    /// A concurrency slot and a rate token (see [`Limiter::acquire`]).
    async fn acquire_request(&self, max_wait: Option<Duration>) -> Result<Permit, Shed> {
        let Some(shared) = &self.shared else {
            let slot = self.local.acquire(max_wait).await?;
            return Ok(Permit {
                slot_wait: slot.slot_wait,
                rate_wait: slot.rate_wait,
                _slot: slot,
                _lease: None,
                _fallback_slot: None,
                token_wait: Duration::ZERO,
                tokens: None,
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
                        token_wait: Duration::ZERO,
                        tokens: None,
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
            token_wait: Duration::ZERO,
            tokens: None,
            shared: false,
        })
    }

    /// The local share for now (see [`ShareCell`]).
    fn fallback(&self, shared: &Shared) -> Arc<LocalLimiter> {
        let replicas = shared.limiter.redis().replicas_for_share();
        shared.fallback.get(replicas, || {
            let (per_min, concurrent) = share_of(self.limits, replicas);
            tracing::info!(
                replicas,
                requests_per_min_limit = per_min,
                max_concurrent_invocations = concurrent,
                "limiter: Redis is unreachable; using this replica's share of the budget"
            );
            LocalLimiter::new(per_min, concurrent)
        })
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

/// One replica's share of the token budgets among `replicas`, rounded down, at least 1.
pub fn token_share_of(limits: LimitParams, replicas: u32) -> (Option<u64>, Option<u64>) {
    let r = u64::from(replicas.max(1));
    let share = |l: Option<u64>| l.map(|l| (l / r).max(1));
    (
        share(limits.tokens_per_min_limit),
        share(limits.tokens_per_day_limit),
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
        let tokens = LimitParams {
            tokens_per_min_limit: Some(20_000),
            tokens_per_day_limit: Some(1_000_000),
            ..LimitParams::default()
        };
        assert_eq!(token_share_of(tokens, 3), (Some(6_666), Some(333_333)));
        assert_eq!(token_share_of(LimitParams::default(), 3), (None, None));
    }

    #[tokio::test(start_paused = true)]
    async fn a_permit_carries_the_token_reservation_and_its_wait() {
        let limits = LimitParams {
            requests_per_min_limit: 60_000,
            tokens_per_min_limit: Some(1_000),
            ..LimitParams::default()
        };
        let l = Limiter::new(limits);
        let model = "m";
        assert!(l.limits_tokens());
        assert_eq!(
            l.check_tokens(1_001),
            Err(OverTokenLimit {
                estimate: 1_001,
                limit: 1_000,
                param: "tokens_per_min_limit"
            })
        );
        assert_eq!(l.check_tokens(1_000), Ok(()));
        let mut p = l.acquire(None, 800, model).await.unwrap();
        let hold = p.take_tokens().expect("a reservation");
        assert_eq!(hold.reserved(), 800);
        drop(p);
        hold.settle(100);
        // 900 left: no wait.
        let p = l
            .acquire(Some(Duration::from_millis(10)), 900, model)
            .await
            .unwrap();
        assert_eq!(p.token_wait(), Duration::ZERO);
        // Full: it waits for `p`'s settle until its deadline, then sheds.
        let shed = l
            .acquire(Some(Duration::from_secs(1)), 10, model)
            .await
            .expect_err("over the budget");
        assert_eq!(shed.cause, ShedCause::Tokens);
        assert!(shed.retry_after > Duration::from_secs(60), "{shed:?}");
        drop(p);
        // Without a token limit nothing is reserved.
        let mut p = Limiter::new(LimitParams::default())
            .acquire(None, 10, model)
            .await
            .unwrap();
        assert!(p.take_tokens().is_none());
    }
}
