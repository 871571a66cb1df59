//! The limiter shared by every replica naming the same Redis: the same GCRA and the same
//! in-flight cap as [`super::local`], with their state in Redis.
//!
//! ## Rate: GCRA in one script per acquire
//! As redis-cell does it, the key holds the theoretical arrival time (TAT, µs of Redis' own
//! clock, so replicas' clocks do not matter). The script reserves the next slot,
//! `max(TAT, now)`, sets `TAT = slot + interval` and answers how long to wait for it; with a
//! deadline it reserves nothing and answers the wait when the slot is too far. The TAT moves by
//! exactly one interval per attempt whatever the wake-up lateness (drift-free), and an idle
//! budget never banks more than one attempt (burst 1), so any 60 s window holds at most
//! `n + 1` attempts across all replicas, as in the local limiter. Each replica keeps one
//! reservation outstanding at a time (a local FIFO lock around reserve-and-sleep), so its own
//! waiters leave in order and a cancelled request wastes at most that one slot.
//!
//! ## In flight: leases
//! A sorted set of lease ids scored by expiry; the script prunes expired leases and adds one
//! when fewer than the cap are left. A lease is refreshed every [`LEASE_TTL`]/3 while its
//! attempt runs and removed when the attempt ends, so a replica killed mid-call holds its slots
//! for at most [`LEASE_TTL`]. A replica whose waiters find the cap reached polls every
//! [`LEASE_POLL`] (one poller per replica and model: the others wait behind it locally).

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::Script;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::{Shed, interval_of};
use crate::redis_link::RedisLink;
use crate::spicepod::LimitParams;

/// How long a lease outlives its last refresh (a dead replica's slots come back after this).
pub const LEASE_TTL: Duration = Duration::from_secs(10);
/// How often a replica asks again for a lease while the cap is reached.
pub const LEASE_POLL: Duration = Duration::from_millis(10);

/// `KEYS[1]` TAT; `ARGV[1]` interval µs; `ARGV[2]` the most the caller will wait, µs (-1: no
/// limit). Answers `{reserved (1|0), wait µs}`.
static GCRA: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(tat, now)
local wait = slot - now
local max_wait = tonumber(ARGV[2])
if max_wait >= 0 and wait > max_wait then
  return {0, wait}
end
local next_tat = slot + tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.0f', next_tat), 'PX', math.ceil((next_tat - now) / 1000) + 1000)
return {1, wait}
",
    )
});

/// `KEYS[1]` leases; `ARGV[1]` lease id; `ARGV[2]` ttl ms; `ARGV[3]` cap. Answers 1 when the
/// lease was taken.
static TAKE_LEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[3]) then
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
  redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
  return 1
end
return 0
",
    )
});

/// `KEYS[1]` leases; `ARGV[1]` lease id; `ARGV[2]` ttl ms. Pushes a held lease's expiry.
static REFRESH_LEASE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
redis.call('ZADD', KEYS[1], 'XX', now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) * 2)
return 1
",
    )
});

#[derive(Debug)]
pub struct SharedLimiter {
    redis: RedisLink,
    tat_key: String,
    lease_key: String,
    interval: Duration,
    cap: u32,
    /// One lease poller per replica; the others queue here in order.
    lease_lock: Mutex<()>,
    /// One outstanding reservation per replica; waiters queue here in order.
    rate_lock: Mutex<()>,
    next_lease: AtomicU64,
}

/// A shared attempt slot and rate token.
#[derive(Debug)]
pub struct Acquired {
    pub lease: Lease,
    pub lease_wait: Duration,
    pub rate_wait: Duration,
}

/// A held in-flight lease: refreshed while held, removed when dropped.
#[derive(Debug)]
pub struct Lease {
    redis: RedisLink,
    key: String,
    id: String,
    refresher: tokio::task::JoinHandle<()>,
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.refresher.abort();
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let (redis, key, id) = (
                self.redis.clone(),
                std::mem::take(&mut self.key),
                std::mem::take(&mut self.id),
            );
            handle.spawn(async move {
                redis
                    .run("release_lease", |mut c| async move {
                        redis::cmd("ZREM")
                            .arg(&key)
                            .arg(&id)
                            .query_async::<i64>(&mut c)
                            .await
                    })
                    .await;
            });
        }
    }
}

impl SharedLimiter {
    pub fn new(limits: LimitParams, redis: RedisLink, model_key: &str) -> Self {
        Self {
            tat_key: redis.key(&format!("limiter:{model_key}:tat")),
            lease_key: redis.key(&format!("limiter:{model_key}:leases")),
            redis,
            interval: interval_of(limits.requests_per_min_limit),
            cap: limits.max_concurrent_invocations.max(1),
            lease_lock: Mutex::new(()),
            rate_lock: Mutex::new(()),
            next_lease: AtomicU64::new(0),
        }
    }

    pub fn redis(&self) -> &RedisLink {
        &self.redis
    }

    /// A lease, then a rate token. `Ok(None)`: Redis failed on the way (the caller falls back to
    /// its local share; a lease already taken is given back).
    pub async fn acquire(&self, max_wait: Option<Duration>) -> Result<Option<Acquired>, Shed> {
        let started = Instant::now();
        let deadline = max_wait.map(|w| started + w);
        let shed = Shed::requests(self.interval);
        let lease = {
            let _turn = match deadline {
                None => self.lease_lock.lock().await,
                Some(d) => tokio::time::timeout_at(d, self.lease_lock.lock())
                    .await
                    .map_err(|_| shed)?,
            };
            let id = format!(
                "{}:{}",
                self.redis.replica_id(),
                self.next_lease.fetch_add(1, Ordering::Relaxed)
            );
            loop {
                let taken = self
                    .redis
                    .run("take_lease", |mut c| {
                        let (key, id) = (self.lease_key.clone(), id.clone());
                        async move {
                            TAKE_LEASE
                                .key(key)
                                .arg(id)
                                .arg(LEASE_TTL.as_millis() as u64)
                                .arg(self.cap)
                                .invoke_async::<i64>(&mut c)
                                .await
                        }
                    })
                    .await;
                match taken {
                    None => return Ok(None),
                    Some(1) => break,
                    Some(_) => {
                        let jitter = Duration::from_micros(rand::random_range(0..5_000));
                        let at = Instant::now() + LEASE_POLL + jitter;
                        if deadline.is_some_and(|d| at > d) {
                            return Err(shed);
                        }
                        tokio::time::sleep_until(at).await;
                    }
                }
            }
            self.lease(id)
        };
        let lease_wait = started.elapsed();

        let _turn = match deadline {
            None => self.rate_lock.lock().await,
            Some(d) => tokio::time::timeout_at(d, self.rate_lock.lock())
                .await
                .map_err(|_| shed)?,
        };
        let got_turn = Instant::now();
        let max_wait_us: i64 = deadline.map_or(-1, |d| {
            d.saturating_duration_since(got_turn).as_micros() as i64
        });
        let reply = self
            .redis
            .run("gcra", |mut c| {
                let key = self.tat_key.clone();
                let interval_us = self.interval.as_micros() as u64;
                async move {
                    GCRA.key(key)
                        .arg(interval_us)
                        .arg(max_wait_us)
                        .invoke_async::<(i64, i64)>(&mut c)
                        .await
                }
            })
            .await;
        let (reserved, wait_us) = match reply {
            None => return Ok(None),
            Some(r) => r,
        };
        let wait = Duration::from_micros(wait_us.max(0) as u64);
        if reserved != 1 {
            return Err(Shed::requests(wait));
        }
        if !wait.is_zero() {
            tokio::time::sleep_until(got_turn + wait).await;
        }
        Ok(Some(Acquired {
            lease,
            lease_wait,
            rate_wait: started.elapsed() - lease_wait,
        }))
    }

    fn lease(&self, id: String) -> Lease {
        let (redis, key, refresh_id) = (self.redis.clone(), self.lease_key.clone(), id.clone());
        let refresher = tokio::spawn({
            let (redis, key) = (redis.clone(), key.clone());
            async move {
                loop {
                    tokio::time::sleep(LEASE_TTL / 3).await;
                    redis
                        .run("refresh_lease", |mut c| {
                            let (key, id) = (key.clone(), refresh_id.clone());
                            async move {
                                REFRESH_LEASE
                                    .key(key)
                                    .arg(id)
                                    .arg(LEASE_TTL.as_millis() as u64)
                                    .invoke_async::<i64>(&mut c)
                                    .await
                            }
                        })
                        .await;
                }
            }
        });
        Lease {
            redis,
            key,
            id,
            refresher,
        }
    }
}
