//! The embeddings cache (`runtime.caching.embeddings`): one vector per text, in process (an
//! LRU bounded by bytes, [`lru::ByteLru`]) and, with `runtime.redis`, in Redis shared by every
//! replica.
//!
//! The key ([`KeyScope`] + the text, sha256) covers everything that changes a vector and
//! nothing else: the model id as sent to Bedrock (region and account do not change vectors),
//! the codec's name and version, the codec params, the request options (dimensions, and the
//! embedding type once a codec takes one), and the text. Values in Redis are the vector as
//! little-endian f32 bytes under `<key_prefix>:emb:<hex key>`, with `item_ttl` as their expiry
//! (Redis' own `maxmemory` policy bounds its size).
//!
//! Reads try the process first, then Redis for what it missed (one `MGET`); writes go to both
//! (one pipelined round trip). While Redis is down (see [`crate::redis_link`]) only the
//! process tier is used; nothing fails.

pub mod lru;

use std::sync::Mutex;
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use self::lru::ByteLru;
use crate::codec::Param;
use crate::redis_link::RedisLink;
use crate::spicepod::EmbeddingsCacheConfig;

/// A text's key: sha256 over its [`KeyScope`] and the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CacheKey(pub [u8; 32]);

impl CacheKey {
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// Everything besides the text that changes a vector.
#[derive(Debug, Clone, Copy)]
pub struct KeyScope<'a> {
    /// The model id as sent to Bedrock.
    pub model_id: &'a str,
    pub codec_name: &'a str,
    pub codec_version: &'a str,
    /// The codec params (order does not matter: they are sorted).
    pub params: &'a [Param],
    pub dimensions: Option<u32>,
    /// Room for an embedding type (`float`, `int8`, …) once a codec takes one per request.
    pub embedding_type: Option<&'a str>,
}

/// The hash state of a scope: cloned and finished per text.
#[derive(Clone)]
pub struct ScopeHasher(Sha256);

/// Bumped when the key layout changes, so old entries are never read as new ones.
const KEY_VERSION: &[u8] = b"bedrock-embed cache key v1";

impl KeyScope<'_> {
    pub fn hasher(&self) -> ScopeHasher {
        let mut h = Sha256::new();
        let mut field = |bytes: &[u8]| {
            // Length-prefixed, so no two field lists hash alike.
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(bytes);
        };
        field(KEY_VERSION);
        field(self.model_id.as_bytes());
        field(self.codec_name.as_bytes());
        field(self.codec_version.as_bytes());
        let mut params: Vec<(&str, &str)> = self
            .params
            .iter()
            .map(|p| (p.name.as_str(), p.value.as_str()))
            .collect();
        params.sort_unstable();
        field(&(params.len() as u64).to_le_bytes());
        for (name, value) in params {
            field(name.as_bytes());
            field(value.as_bytes());
        }
        match self.dimensions {
            Some(d) => field(&u64::from(d).to_le_bytes()),
            None => field(b""),
        }
        field(self.embedding_type.unwrap_or("").as_bytes());
        ScopeHasher(h)
    }
}

impl ScopeHasher {
    pub fn key(&self, text: &str) -> CacheKey {
        let mut h = self.0.clone();
        h.update((text.len() as u64).to_le_bytes());
        h.update(text.as_bytes());
        CacheKey(h.finalize().into())
    }
}

/// The cache of every model (keys carry the model).
#[derive(Debug)]
pub struct EmbeddingCache {
    local: Mutex<ByteLru>,
    redis: Option<RedisLink>,
    ttl: Duration,
}

impl EmbeddingCache {
    pub fn new(config: EmbeddingsCacheConfig, redis: Option<RedisLink>) -> Self {
        Self {
            local: Mutex::new(ByteLru::new(config.max_size, config.item_ttl)),
            redis,
            ttl: config.item_ttl,
        }
    }

    /// Whether a Redis tier is configured (it may be down right now).
    pub fn is_shared(&self) -> bool {
        self.redis.is_some()
    }

    /// Bytes the process tier holds.
    pub fn local_bytes(&self) -> u64 {
        self.lock().bytes()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ByteLru> {
        self.local.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached vector of each key, or `None`.
    pub async fn get_many(&self, keys: &[CacheKey]) -> Vec<Option<Vec<f32>>> {
        let now = Instant::now();
        let mut found: Vec<Option<Vec<f32>>> = {
            let mut local = self.lock();
            keys.iter().map(|k| local.get(k, now)).collect()
        };
        let local_hits = found.iter().filter(|v| v.is_some()).count();
        let missing: Vec<usize> = (0..keys.len()).filter(|&i| found[i].is_none()).collect();
        let mut redis_hits = 0;
        if let (Some(redis), false) = (&self.redis, missing.is_empty()) {
            let names: Vec<String> = missing
                .iter()
                .map(|&i| redis.key(&format!("emb:{}", keys[i].hex())))
                .collect();
            let values = redis
                .run("cache_get", |mut c| async move {
                    redis::cmd("MGET")
                        .arg(&names)
                        .query_async::<Vec<Option<Vec<u8>>>>(&mut c)
                        .await
                })
                .await;
            if let Some(values) = values {
                let mut local = self.lock();
                for (&i, bytes) in missing.iter().zip(values) {
                    if let Some(vector) = bytes.as_deref().and_then(from_le_bytes) {
                        local.put(keys[i], &vector, now);
                        found[i] = Some(vector);
                        redis_hits += 1;
                    }
                }
            }
        }
        let misses = keys.len() - local_hits - redis_hits;
        metrics::counter!("bedrock_embed_cache_lookups_total", "result" => "hit", "tier" => "local")
            .increment(local_hits as u64);
        metrics::counter!("bedrock_embed_cache_lookups_total", "result" => "hit", "tier" => "redis")
            .increment(redis_hits as u64);
        metrics::counter!("bedrock_embed_cache_lookups_total", "result" => "miss", "tier" => "all")
            .increment(misses as u64);
        found
    }

    /// Stores vectors in the process and (when up) in Redis.
    pub async fn put_many(&self, items: &[(CacheKey, &[f32])]) {
        if items.is_empty() {
            return;
        }
        let now = Instant::now();
        {
            let mut local = self.lock();
            for (key, vector) in items {
                local.put(*key, vector, now);
            }
            metrics::gauge!("bedrock_embed_cache_bytes").set(local.bytes() as f64);
        }
        let Some(redis) = &self.redis else { return };
        let ttl_ms = self.ttl.as_millis().max(1) as u64;
        let mut pipe = redis::pipe();
        for (key, vector) in items {
            pipe.cmd("SET")
                .arg(redis.key(&format!("emb:{}", key.hex())))
                .arg(to_le_bytes(vector))
                .arg("PX")
                .arg(ttl_ms)
                .ignore();
        }
        redis
            .run("cache_put", |mut c| async move {
                pipe.query_async::<()>(&mut c).await
            })
            .await;
    }
}

/// A vector as little-endian f32 bytes.
pub fn to_le_bytes(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|f| f.to_le_bytes()).collect()
}

/// Little-endian f32 bytes as a vector; `None` when the length is not a whole number of floats
/// (a value someone else wrote under our key: a miss, not an error).
pub fn from_le_bytes(bytes: &[u8]) -> Option<Vec<f32>> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(4) {
        return None;
    }
    Some(
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn param(name: &str, value: &str) -> Param {
        Param {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn the_key_changes_with_everything_that_changes_a_vector() {
        let params = [param("normalize", "true"), param("dimensions", "512")];
        let base = KeyScope {
            model_id: "amazon.titan-embed-text-v2:0",
            codec_name: "titan",
            codec_version: "0.1.0",
            params: &params,
            dimensions: None,
            embedding_type: None,
        };
        let k = |s: KeyScope, text: &str| s.hasher().key(text);
        let key = k(base, "hello");
        assert_eq!(key, k(base, "hello"), "deterministic");
        let reordered = [param("dimensions", "512"), param("normalize", "true")];
        assert_eq!(
            key,
            k(
                KeyScope {
                    params: &reordered,
                    ..base
                },
                "hello"
            )
        );
        let other_params = [param("normalize", "false"), param("dimensions", "512")];
        let variants = [
            k(base, "hello "),
            k(
                KeyScope {
                    model_id: "us.amazon.titan-embed-text-v2:0",
                    ..base
                },
                "hello",
            ),
            k(
                KeyScope {
                    codec_name: "titan2",
                    ..base
                },
                "hello",
            ),
            k(
                KeyScope {
                    codec_version: "0.1.1",
                    ..base
                },
                "hello",
            ),
            k(
                KeyScope {
                    params: &other_params,
                    ..base
                },
                "hello",
            ),
            k(
                KeyScope {
                    params: &[],
                    ..base
                },
                "hello",
            ),
            k(
                KeyScope {
                    dimensions: Some(256),
                    ..base
                },
                "hello",
            ),
            k(
                KeyScope {
                    embedding_type: Some("int8"),
                    ..base
                },
                "hello",
            ),
        ];
        for (i, v) in variants.iter().enumerate() {
            assert_ne!(*v, key, "variant {i}");
        }
        // Field boundaries are part of the hash.
        let ab = [param("ab", "c")];
        let a_bc = [param("a", "bc")];
        assert_ne!(
            k(
                KeyScope {
                    params: &ab,
                    ..base
                },
                "x"
            ),
            k(
                KeyScope {
                    params: &a_bc,
                    ..base
                },
                "x"
            )
        );
    }

    #[test]
    fn vectors_round_trip_as_little_endian_f32() {
        let v = vec![1.0f32, -0.5, f32::MIN_POSITIVE, 3.25e7];
        let bytes = to_le_bytes(&v);
        assert_eq!(&bytes[..4], &1.0f32.to_le_bytes());
        assert_eq!(bytes.len(), 16);
        assert_eq!(from_le_bytes(&bytes), Some(v));
        assert_eq!(from_le_bytes(&bytes[..5]), None);
        assert_eq!(from_le_bytes(&[]), None);
    }

    #[tokio::test]
    async fn the_process_tier_serves_what_was_stored() {
        let cache = EmbeddingCache::new(EmbeddingsCacheConfig::default(), None);
        let keys = [CacheKey([1; 32]), CacheKey([2; 32])];
        assert_eq!(cache.get_many(&keys).await, vec![None, None]);
        cache.put_many(&[(keys[1], &[0.5, 0.25][..])]).await;
        assert_eq!(
            cache.get_many(&keys).await,
            vec![None, Some(vec![0.5, 0.25])]
        );
        assert!(cache.local_bytes() > 8);
        assert!(!cache.is_shared());
    }
}
