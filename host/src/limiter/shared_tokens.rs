//! The token budget shared by every replica naming the same Redis: the same bucketed sliding
//! windows as [`super::tokens`], kept in Redis.
//!
//! Each window is one hash: a field per bucket (tokens reserved in it), `t` (their total) and
//! `o` (the oldest bucket still counted). One script reserves in both windows or in neither,
//! dropping the buckets that left the window on the way (each bucket once, so an acquire costs
//! O(1) amortized), on Redis' own clock; another settles a reservation to Bedrock's count. A
//! replica keeps one reservation attempt at a time per model (a local FIFO lock), and polls
//! every [`TOKEN_POLL`] while the budget is full, since other replicas' settles give tokens back
//! without telling it.

use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use redis::Script;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::tokens::{DAY, MINUTE, Reserved, TokenShed, WindowSpec};
use crate::redis_link::RedisLink;

/// How often a replica waiting for tokens asks Redis again.
pub const TOKEN_POLL: Duration = Duration::from_millis(100);

/// `KEYS[1]` minute window, `KEYS[2]` day window; `ARGV[1]` tokens; then per window: limit
/// (0: none), bucket width µs, buckets behind. Answers `{1, minute bucket, day bucket}` (-1
/// for a window without a limit) or `{0, µs until there is room}`.
static RESERVE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local t = redis.call('TIME')
local now = t[1] * 1000000 + t[2]
local tokens = tonumber(ARGV[1])
local state = {}
local wait = 0
for i, key in ipairs(KEYS) do
  local base = 1 + (i - 1) * 3
  local limit = tonumber(ARGV[base + 1])
  if limit > 0 then
    local width = tonumber(ARGV[base + 2])
    local behind = tonumber(ARGV[base + 3])
    local b = math.floor(now / width)
    local first = b - behind
    local oldest = tonumber(redis.call('HGET', key, 'o') or first)
    local total = tonumber(redis.call('HGET', key, 't') or '0')
    if oldest < first then
      if first - oldest > behind + 1 then
        redis.call('DEL', key)
        total = 0
      else
        for j = oldest, first - 1 do
          local v = redis.call('HGET', key, tostring(j))
          if v then
            total = total - tonumber(v)
            redis.call('HDEL', key, tostring(j))
          end
        end
      end
      oldest = first
    end
    redis.call('HSET', key, 't', total, 'o', oldest)
    redis.call('PEXPIRE', key, math.ceil((behind + 2) * width / 1000))
    if total + tokens > limit then
      local need = total + tokens - limit
      local freed = 0
      local w = -1
      for j = oldest, b do
        local v = redis.call('HGET', key, tostring(j))
        if v then
          freed = freed + tonumber(v)
          if freed >= need then
            w = (j + behind + 1) * width - now
            break
          end
        end
      end
      if w < 0 then w = (b + behind + 1) * width - now end
      if w > wait then wait = w end
    end
    state[i] = {key, b}
  end
end
if wait > 0 then
  return {0, wait}
end
local out = {1, -1, -1}
for i, s in pairs(state) do
  redis.call('HINCRBY', s[1], tostring(s[2]), tokens)
  redis.call('HINCRBY', s[1], 't', tokens)
  out[i + 1] = s[2]
end
return out
",
    )
});

/// `KEYS` as for [`RESERVE`]; `ARGV[1]` tokens reserved, `ARGV[2]` tokens used, `ARGV[3]` and
/// `ARGV[4]` the minute and day buckets (-1: none). A bucket that left its window is left alone.
static SETTLE: LazyLock<Script> = LazyLock::new(|| {
    Script::new(
        r"
local from = tonumber(ARGV[1])
local to = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  local b = ARGV[2 + i]
  if b ~= '-1' then
    local v = redis.call('HGET', key, b)
    if v then
      local was = tonumber(v)
      local now = math.max(0, was - from) + to
      redis.call('HSET', key, b, now)
      redis.call('HINCRBY', key, 't', now - was)
    end
  end
end
return 1
",
    )
});

#[derive(Debug)]
pub struct SharedTokens {
    redis: RedisLink,
    minute_key: String,
    day_key: String,
    per_min: Option<u64>,
    per_day: Option<u64>,
    turn: Mutex<()>,
    /// This replica's reservations not settled yet.
    unsettled: AtomicU64,
}

fn window_args(limit: Option<u64>, spec: WindowSpec) -> [u64; 3] {
    [
        limit.unwrap_or(0),
        spec.width.as_micros() as u64,
        spec.behind,
    ]
}

impl SharedTokens {
    pub fn new(
        redis: RedisLink,
        model_key: &str,
        per_min: Option<u64>,
        per_day: Option<u64>,
    ) -> Self {
        Self {
            minute_key: redis.key(&format!("limiter:{model_key}:tokens:minute")),
            day_key: redis.key(&format!("limiter:{model_key}:tokens:day")),
            redis,
            per_min,
            per_day,
            turn: Mutex::new(()),
            unsettled: AtomicU64::new(0),
        }
    }

    pub fn redis(&self) -> &RedisLink {
        &self.redis
    }

    /// Reserves `tokens` in the shared windows, waiting in turn (see the module docs).
    /// `Ok(None)`: Redis failed on the way (nothing is reserved; the caller uses its share).
    pub async fn reserve(
        &self,
        tokens: u64,
        deadline: Option<Instant>,
    ) -> Result<Option<Reserved>, TokenShed> {
        let _turn = match deadline {
            None => self.turn.lock().await,
            Some(d) => tokio::time::timeout_at(d, self.turn.lock())
                .await
                .map_err(|_| TokenShed {
                    retry_after: MINUTE.width,
                })?,
        };
        loop {
            let reply = self
                .redis
                .run("reserve_tokens", |mut c| {
                    let keys = [self.minute_key.clone(), self.day_key.clone()];
                    let (m, d) = (
                        window_args(self.per_min, MINUTE),
                        window_args(self.per_day, DAY),
                    );
                    async move {
                        RESERVE
                            .key(&keys[0])
                            .key(&keys[1])
                            .arg(tokens)
                            .arg(&m[..])
                            .arg(&d[..])
                            .invoke_async::<Vec<i64>>(&mut c)
                            .await
                    }
                })
                .await;
            let Some(reply) = reply else {
                return Ok(None);
            };
            let bucket = |i: usize| reply.get(i).and_then(|&b| u64::try_from(b).ok());
            if reply.first() == Some(&1) {
                self.unsettled.fetch_add(1, Ordering::Relaxed);
                return Ok(Some(Reserved {
                    tokens,
                    minute: bucket(1),
                    day: bucket(2),
                }));
            }
            let wait = Duration::from_micros(bucket(1).unwrap_or(0));
            let now = Instant::now();
            let wake = now + wait.min(TOKEN_POLL);
            if let Some(d) = deadline {
                let hopeless = now + wait > d && self.unsettled.load(Ordering::Relaxed) == 0;
                if hopeless || now >= d {
                    return Err(TokenShed { retry_after: wait });
                }
                tokio::time::sleep_until(wake.min(d)).await;
            } else {
                tokio::time::sleep_until(wake).await;
            }
        }
    }

    /// Settles `r` to `actual` in Redis, in the background (never delays the answer). A
    /// settle lost to a Redis failure leaves the estimate counted: the budget errs low.
    pub fn settle(&self, r: Reserved, actual: u64) {
        self.unsettled.fetch_sub(1, Ordering::Relaxed);
        if actual == r.tokens {
            return;
        }
        let (redis, keys) = (
            self.redis.clone(),
            [self.minute_key.clone(), self.day_key.clone()],
        );
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        handle.spawn(async move {
            let bucket = |b: Option<u64>| b.map_or(-1, |b| b as i64);
            redis
                .run("settle_tokens", |mut c| {
                    let keys = keys.clone();
                    async move {
                        SETTLE
                            .key(&keys[0])
                            .key(&keys[1])
                            .arg(r.tokens)
                            .arg(actual)
                            .arg(bucket(r.minute))
                            .arg(bucket(r.day))
                            .invoke_async::<i64>(&mut c)
                            .await
                    }
                })
                .await;
        });
    }

    /// A reservation that will never be settled: its estimate stays counted.
    pub fn abandon(&self) {
        self.unsettled.fetch_sub(1, Ordering::Relaxed);
    }
}
