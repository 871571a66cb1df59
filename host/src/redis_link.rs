//! The connection to `runtime.redis`, and whether to use it right now.
//!
//! One multiplexed connection per process ([`redis::aio::ConnectionManager`], which reconnects
//! by itself), every call bounded by `runtime.redis.timeout`. Redis must never fail a request:
//! a call that errors or times out marks the link down, and callers ([`crate::limiter`],
//! [`crate::cache`]) then use their local fallback without asking Redis at all. A heartbeat
//! (every [`HEARTBEAT`]) keeps trying; the first one that succeeds marks the link up again.
//! Each transition is logged once (warn going down, info coming back), counted in
//! `bedrock_embed_redis_fallbacks_total`, and shown by the gauge `bedrock_embed_redis_up`.
//!
//! The heartbeat also registers this replica in a sorted set (scored by expiry), so every
//! replica knows how many share the budget: that count sizes the local share while Redis is
//! down (unless `runtime.redis.replicas` says it).

use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use anyhow::Context as _;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{RedisResult, Script};

use crate::spicepod::RedisConfig;

/// How often the heartbeat runs (and so how soon shared mode comes back after Redis does).
pub const HEARTBEAT: Duration = Duration::from_secs(1);
/// A replica that stopped sending heartbeats stops counting after this long.
const REPLICA_TTL: Duration = Duration::from_secs(5);

/// Registers this replica and answers how many are alive (one round trip).
static HEARTBEAT_SCRIPT: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = t[1] * 1000 + math.floor(t[2] / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ttl * 2)
return redis.call('ZCARD', KEYS[1])
",
    )
});

/// A handle on the shared Redis; cheap to clone.
#[derive(Clone)]
pub struct RedisLink(Arc<Inner>);

struct Inner {
    conn: ConnectionManager,
    prefix: String,
    timeout: Duration,
    up: AtomicBool,
    /// Replicas alive at the last heartbeat (at least 1).
    replicas_seen: AtomicU32,
    configured_replicas: Option<u32>,
    /// This process, in the replica set and in lease ids.
    replica_id: String,
    /// `host:port` for messages (the URL may hold a password).
    shown: String,
}

impl std::fmt::Debug for RedisLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisLink")
            .field("at", &self.0.shown)
            .field("up", &self.is_up())
            .finish_non_exhaustive()
    }
}

impl RedisLink {
    /// Opens the link and runs the first heartbeat. Redis being down is not an error (the
    /// host starts on its local fallback and keeps trying); a URL the client cannot parse is.
    pub async fn connect(config: &RedisConfig) -> anyhow::Result<Self> {
        let client = redis::Client::open(config.url.expose()).map_err(|e| {
            anyhow::anyhow!(
                "{}: not a Redis URL the client accepts ({}): write redis://[user:password@]host:port[/db]",
                config.url.origin(),
                e.category()
            )
        })?;
        let info = client.get_connection_info();
        let shown = format!("{}", info.addr());
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.timeout))
            .set_response_timeout(Some(config.timeout))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, manager_config)
            .context("setting up the Redis connection")?;
        let replica_id = format!(
            "{}-{}-{:08x}",
            hostname(),
            std::process::id(),
            rand::random::<u32>()
        );
        let link = Self(Arc::new(Inner {
            conn,
            prefix: config.key_prefix.clone(),
            timeout: config.timeout,
            up: AtomicBool::new(false),
            replicas_seen: AtomicU32::new(1),
            configured_replicas: config.replicas,
            replica_id,
            shown,
        }));
        metrics::gauge!("bedrock_embed_redis_up").set(0.0);
        if !link.heartbeat().await {
            tracing::warn!(
                "Redis at {} is unreachable at start: limiters use this replica's share of each budget and the cache is in-process until it answers (retrying every {} s)",
                link.0.shown,
                HEARTBEAT.as_secs()
            );
            metrics::counter!("bedrock_embed_redis_fallbacks_total").increment(1);
        }
        let weak = Arc::downgrade(&link.0);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(HEARTBEAT);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            tick.tick().await;
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                RedisLink(inner).heartbeat().await;
            }
        });
        Ok(link)
    }

    /// Where Redis is (`host:port`, no credentials).
    pub fn shown(&self) -> &str {
        &self.0.shown
    }

    /// Whether shared mode is on right now.
    pub fn is_up(&self) -> bool {
        self.0.up.load(Ordering::Relaxed)
    }

    /// `prefix:part`.
    pub fn key(&self, part: &str) -> String {
        format!("{}:{part}", self.0.prefix)
    }

    /// This process's id among the replicas.
    pub fn replica_id(&self) -> &str {
        &self.0.replica_id
    }

    /// How many replicas share the budgets, for the local share while Redis is down.
    pub fn replicas_for_share(&self) -> u32 {
        self.0
            .configured_replicas
            .unwrap_or_else(|| self.0.replicas_seen.load(Ordering::Relaxed))
            .max(1)
    }

    /// Runs one Redis call when the link is up, bounded by the timeout. `None` when the link is
    /// down or the call failed (which marks it down): the caller uses its fallback.
    pub async fn run<T, F, Fut>(&self, what: &'static str, call: F) -> Option<T>
    where
        F: FnOnce(ConnectionManager) -> Fut,
        Fut: Future<Output = RedisResult<T>>,
    {
        if !self.is_up() {
            return None;
        }
        metrics::counter!("bedrock_embed_redis_calls_total", "op" => what).increment(1);
        match tokio::time::timeout(self.0.timeout, call(self.0.conn.clone())).await {
            Ok(Ok(v)) => Some(v),
            Ok(Err(e)) => {
                self.mark_down(&format!("{what}: {e}"));
                None
            }
            Err(_) => {
                self.mark_down(&format!(
                    "{what}: no answer within {} ms (runtime.redis.timeout)",
                    self.0.timeout.as_millis()
                ));
                None
            }
        }
    }

    fn mark_down(&self, why: &str) {
        if self.0.up.swap(false, Ordering::Relaxed) {
            tracing::warn!(
                "Redis at {} failed ({why}): limiters use this replica's share of each budget (1/{} of it) and the cache is in-process until Redis answers again",
                self.0.shown,
                self.replicas_for_share()
            );
            metrics::counter!("bedrock_embed_redis_fallbacks_total").increment(1);
            metrics::gauge!("bedrock_embed_redis_up").set(0.0);
        }
    }

    /// One heartbeat, whatever the link's state. True when Redis answered.
    async fn heartbeat(&self) -> bool {
        let key = self.key("replicas");
        let mut conn = self.0.conn.clone();
        let mut invocation = HEARTBEAT_SCRIPT.key(&key);
        invocation
            .arg(&self.0.replica_id)
            .arg(REPLICA_TTL.as_millis() as u64);
        let call = invocation.invoke_async::<u32>(&mut conn);
        match tokio::time::timeout(self.0.timeout, call).await {
            Ok(Ok(n)) => {
                self.0.replicas_seen.store(n.max(1), Ordering::Relaxed);
                if !self.0.up.swap(true, Ordering::Relaxed) {
                    tracing::info!(
                        "Redis at {} answers: limiters and cache are shared ({n} replica(s) alive)",
                        self.0.shown
                    );
                    metrics::gauge!("bedrock_embed_redis_up").set(1.0);
                }
                true
            }
            Ok(Err(e)) => {
                self.mark_down(&format!("heartbeat: {e}"));
                false
            }
            Err(_) => {
                self.mark_down("heartbeat: no answer within runtime.redis.timeout");
                false
            }
        }
    }
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".to_string())
}
