//! The scale-out keys of `runtime:`: the embeddings cache (Spice's `runtime.caching.embeddings`)
//! and the Redis server that makes the limiter and the cache shared between replicas.
//!
//! ```yaml
//! runtime:
//!   caching:
//!     embeddings:
//!       enabled: true          # default true once the section is written; no section: off
//!       max_size: 128MiB       # in-process bytes (vectors + keys), default 128MiB
//!       item_ttl: 1h           # default 1h (in-process and in Redis)
//!       eviction_policy: lru   # the only policy
//!   redis:
//!     url: ${ secrets:REDIS_URL }   # redis://[user:password@]host:port[/db]
//!     key_prefix: bedrock-embed     # default; replicas that share a budget share the prefix
//!     timeout: 250ms                # bound on every Redis call, default 250ms
//!     replicas: 3                   # local share while Redis is down (default: replicas seen)
//! ```

use std::time::Duration;

use serde_yaml::{Mapping, Value};

use super::Cx;
use super::error::{Problem, ProblemKind};
use crate::secrets::{self, Secret};

/// `runtime.caching.embeddings`, when on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EmbeddingsCacheConfig {
    /// Bytes the in-process cache may hold (vectors and keys).
    pub max_size: u64,
    /// How long an entry is served after it was stored (in-process and in Redis).
    pub item_ttl: Duration,
}

impl Default for EmbeddingsCacheConfig {
    fn default() -> Self {
        Self {
            max_size: DEFAULT_MAX_SIZE,
            item_ttl: DEFAULT_ITEM_TTL,
        }
    }
}

/// 128 MiB: about 32,000 Titan vectors of 1,024 floats; Spice's default cache size.
pub const DEFAULT_MAX_SIZE: u64 = 128 << 20;
/// One hour: a popular query is embedded once an hour instead of on every request, and a model
/// that changes behind the same id (it should not) is noticed within the hour.
pub const DEFAULT_ITEM_TTL: Duration = Duration::from_secs(3600);
/// A bound on every Redis call: a local round trip is well under a millisecond, so 250 ms means
/// Redis is down or overloaded, and the request goes on with the local fallback.
pub const DEFAULT_REDIS_TIMEOUT: Duration = Duration::from_millis(250);
pub const DEFAULT_KEY_PREFIX: &str = "bedrock-embed";
/// `runtime.redis.replicas` range.
pub const REPLICAS_RANGE: (u32, u32) = (1, 10_000);

/// `runtime.redis`.
#[derive(Debug, Clone)]
pub struct RedisConfig {
    /// The URL (it may hold a password: a [`Secret`], never printed).
    pub url: Secret,
    /// Prefix of every key this host writes.
    pub key_prefix: String,
    /// Bound on every Redis call.
    pub timeout: Duration,
    /// How many replicas share the budgets, for the local share while Redis is unreachable.
    /// `None`: the most replicas seen alive in Redis (at least 1).
    pub replicas: Option<u32>,
}

const CACHE_KEYS: &[&str] = &["enabled", "max_size", "item_ttl", "eviction_policy"];
const REDIS_KEYS: &[&str] = &["url", "key_prefix", "timeout", "replicas"];

impl Cx<'_> {
    fn scale_problem(&self, path: &[&str], msg: String) -> Problem {
        let mut full = vec!["runtime"];
        full.extend_from_slice(path);
        Problem::new(ProblemKind::BadRuntime, msg)
            .at(self.loc.nested(&full))
            .key(full.join("."))
    }

    /// `runtime.caching.embeddings` (other `caching` sections are Spice's SQL caches: ignored).
    pub(super) fn embeddings_cache(&mut self, runtime: &Mapping) -> Option<EmbeddingsCacheConfig> {
        let caching = match runtime.get("caching") {
            None | Some(Value::Null) => return None,
            Some(Value::Mapping(m)) => m,
            Some(_) => {
                let p = self.scale_problem(
                    &["caching"],
                    "must be a mapping (e.g. `embeddings:`)".into(),
                );
                self.err(p);
                return None;
            }
        };
        let section = match caching.get("embeddings") {
            None => return None,
            // `embeddings:` with nothing under it: on, with the defaults.
            Some(Value::Null) => return Some(EmbeddingsCacheConfig::default()),
            Some(Value::Mapping(m)) => m,
            Some(_) => {
                let p = self.scale_problem(
                    &["caching", "embeddings"],
                    format!("must be a mapping with {}", CACHE_KEYS.join(", ")),
                );
                self.err(p);
                return None;
            }
        };
        let at = ["caching", "embeddings"];
        self.unknown_keys(section, &at, CACHE_KEYS);
        let mut config = EmbeddingsCacheConfig::default();
        let mut enabled = true;
        for (key, value) in section {
            let Some(key) = key.as_str() else { continue };
            let path = [at[0], at[1], key];
            match key {
                "enabled" => match value {
                    Value::Bool(b) => enabled = *b,
                    _ => {
                        let p = self.scale_problem(&path, "must be true or false".into());
                        self.err(p);
                    }
                },
                "max_size" => match text(value).map(|t| parse_size(&t)) {
                    Some(Ok(n)) => config.max_size = n,
                    Some(Err(why)) => {
                        let p = self.scale_problem(&path, why);
                        self.err(p);
                    }
                    None => {
                        let p = self
                            .scale_problem(&path, "must be a size such as 128MiB or 1GiB".into());
                        self.err(p);
                    }
                },
                "item_ttl" => match text(value).map(|t| parse_duration(&t)) {
                    Some(Ok(d)) => config.item_ttl = d,
                    Some(Err(why)) => {
                        let p = self.scale_problem(&path, why);
                        self.err(p);
                    }
                    None => {
                        let p = self
                            .scale_problem(&path, "must be a duration such as 1h or 30m".into());
                        self.err(p);
                    }
                },
                "eviction_policy" if text(value).as_deref() != Some("lru") => {
                    let p = self.scale_problem(&path, "the only eviction policy is `lru`".into());
                    self.err(p);
                }
                _ => {}
            }
        }
        enabled.then_some(config)
    }

    /// `runtime.redis`.
    pub(super) fn redis(&mut self, runtime: &Mapping) -> Option<RedisConfig> {
        let section = match runtime.get("redis") {
            None | Some(Value::Null) => return None,
            Some(Value::Mapping(m)) => m,
            Some(_) => {
                let p = self.scale_problem(
                    &["redis"],
                    "must be a mapping with `url: ${ secrets:REDIS_URL }`".into(),
                );
                self.err(p);
                return None;
            }
        };
        self.unknown_keys(section, &["redis"], REDIS_KEYS);
        let before = self.problems.len();
        let url = match section.get("url").and_then(text) {
            Some(raw) => self.redis_url(&raw),
            None => {
                let p = self.scale_problem(
                    &["redis", "url"],
                    "is missing: write `url: ${ secrets:REDIS_URL }` (redis://host:port), or remove `redis:`".into(),
                );
                self.err(p);
                None
            }
        };
        let mut config = RedisConfig {
            url: url.unwrap_or_else(|| Secret::new("", "")),
            key_prefix: DEFAULT_KEY_PREFIX.to_string(),
            timeout: DEFAULT_REDIS_TIMEOUT,
            replicas: None,
        };
        if let Some(v) = section.get("key_prefix") {
            match text(v) {
                Some(p) if !p.trim().is_empty() && !p.chars().any(char::is_whitespace) => {
                    config.key_prefix = p
                }
                _ => {
                    let p = self.scale_problem(
                        &["redis", "key_prefix"],
                        "must be a word without spaces, such as bedrock-embed".into(),
                    );
                    self.err(p);
                }
            }
        }
        if let Some(v) = section.get("timeout") {
            match text(v).map(|t| parse_duration(&t)) {
                Some(Ok(d)) => config.timeout = d,
                Some(Err(why)) => {
                    let p = self.scale_problem(&["redis", "timeout"], why);
                    self.err(p);
                }
                None => {
                    let p = self.scale_problem(
                        &["redis", "timeout"],
                        "must be a duration such as 250ms".into(),
                    );
                    self.err(p);
                }
            }
        }
        if let Some(v) = section.get("replicas") {
            match text(v).map(|t| super::params::parse_limit(&t, REPLICAS_RANGE)) {
                Some(Ok(n)) => config.replicas = Some(n),
                _ => {
                    let p = self.scale_problem(
                        &["redis", "replicas"],
                        format!(
                            "must be a whole number from {} to {}: how many replicas share this Redis",
                            REPLICAS_RANGE.0, REPLICAS_RANGE.1
                        ),
                    );
                    self.err(p);
                }
            }
        }
        (self.problems.len() == before).then_some(config)
    }

    fn redis_url(&mut self, raw: &str) -> Option<Secret> {
        let key = "runtime.redis.url";
        let line = self.loc.nested(&["runtime", "redis", "url"]);
        let resolved = match secrets::resolve(raw, self.secrets) {
            Ok(r) => r,
            Err(errors) => {
                for e in errors {
                    let kind = ProblemKind::from(&e);
                    self.err(Problem::new(kind, e.to_string()).at(line).key(key));
                }
                return None;
            }
        };
        let origin = if resolved.refs.is_empty() {
            format!("{key} (written in {})", self.path.display())
        } else {
            let refs: Vec<String> = resolved.refs.iter().map(ToString::to_string).collect();
            format!("{key} ({})", refs.join(", "))
        };
        let url = resolved.value.trim();
        // Never quote the URL: it may carry a password.
        let problem = match url.split_once("://").map(|(scheme, _)| scheme) {
            Some("redis") => None,
            Some("rediss") => Some(
                "uses rediss:// (TLS), which this build does not support: use redis:// (a local or VPC-internal Redis), or a TLS sidecar",
            ),
            _ => Some(
                "is not a redis:// URL: write redis://host:port (redis://user:password@host:port/db)",
            ),
        };
        if let Some(msg) = problem {
            let msg = if resolved.refs.is_empty() {
                msg.to_string()
            } else {
                format!("the value of {origin} {msg}")
            };
            self.err(Problem::new(ProblemKind::BadRuntime, msg).at(line).key(key));
            return None;
        }
        Some(Secret::new(url, origin))
    }

    fn unknown_keys(&mut self, map: &Mapping, at: &[&str], allowed: &[&str]) {
        for key in map.keys() {
            let k = key.as_str().unwrap_or("?");
            if !allowed.contains(&k) {
                let hint = match super::params::did_you_mean(k, allowed.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("allowed: {}", allowed.join(", ")),
                };
                let mut path = at.to_vec();
                path.push(k);
                let p = self.scale_problem(&path, format!("unknown key: {hint}"));
                self.err(p);
            }
        }
    }
}

/// A scalar as text (`128MiB`, `3600`, `true`).
fn text(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// `128MiB`, `1GB`, `512 KiB`, or a number of bytes. At least 1 KiB.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let bytes = t
        .parse::<bytesize::ByteSize>()
        .map(|b| b.as_u64())
        .map_err(|_| {
            format!(
                "{t:?} is not a size: write one such as 128MiB, 512MB or 1GiB (MiB = 2^20 bytes)"
            )
        })?;
    if bytes < 1024 {
        return Err(format!(
            "{t:?} is too small (under 1 KiB): write a size such as 128MiB, or `enabled: false` to turn the cache off"
        ));
    }
    Ok(bytes)
}

/// `1h`, `30m`, `250ms`, `1h 30m`. Not zero.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    let d = humantime::parse_duration(t).map_err(|e| {
        format!("{t:?} is not a duration ({e}): write one such as 250ms, 30s, 10m or 1h")
    })?;
    if d.is_zero() {
        return Err(format!("{t:?} is zero: write a duration such as 30s"));
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::Path;
    use std::time::Duration;

    use super::super::{ProblemKind, Spicepod};
    use super::*;

    const HEAD: &str = "version: v1\nkind: Spicepod\nname: p\nembeddings:\n  - from: bedrock:amazon.titan-embed-text-v2:0\n    name: titan\n";

    fn parse(runtime: &str) -> Result<super::super::Loaded, super::super::SpicepodError> {
        let secrets: HashMap<String, String> = [(
            "REDIS_URL".to_string(),
            "redis://:pw@127.0.0.1:6379/0".to_string(),
        )]
        .into();
        Spicepod::parse(
            &format!("{HEAD}{runtime}"),
            Path::new("spicepod.yaml"),
            &secrets,
        )
    }

    #[test]
    fn cache_is_off_without_its_section_and_on_with_defaults_when_written() {
        let rt = |t: &str| parse(t).unwrap().spicepod.runtime;
        assert_eq!(rt("").embeddings_cache, None);
        assert_eq!(
            rt("runtime:\n  caching:\n    sql_results:\n      enabled: true\n").embeddings_cache,
            None
        );
        assert_eq!(
            rt("runtime:\n  caching:\n    embeddings:\n").embeddings_cache,
            Some(EmbeddingsCacheConfig::default())
        );
        let got = rt(
            "runtime:\n  caching:\n    embeddings:\n      enabled: true\n      max_size: 64MiB\n      item_ttl: 10m\n      eviction_policy: lru\n",
        );
        assert_eq!(
            got.embeddings_cache,
            Some(EmbeddingsCacheConfig {
                max_size: 64 << 20,
                item_ttl: Duration::from_secs(600)
            })
        );
        assert_eq!(
            rt(
                "runtime:\n  caching:\n    embeddings:\n      enabled: false\n      max_size: 1GB\n"
            )
            .embeddings_cache,
            None
        );
    }

    #[test]
    fn bad_cache_keys_name_the_line_key_and_fix() {
        let cases = [
            (
                "      max_size: lots\n",
                "runtime.caching.embeddings.max_size",
                "not a size",
            ),
            (
                "      max_size: 10\n",
                "runtime.caching.embeddings.max_size",
                "too small",
            ),
            (
                "      item_ttl: forever\n",
                "runtime.caching.embeddings.item_ttl",
                "not a duration",
            ),
            (
                "      item_ttl: 0s\n",
                "runtime.caching.embeddings.item_ttl",
                "is zero",
            ),
            (
                "      eviction_policy: lfu\n",
                "runtime.caching.embeddings.eviction_policy",
                "`lru`",
            ),
            (
                "      enabled: yes please\n",
                "runtime.caching.embeddings.enabled",
                "true or false",
            ),
            (
                "      max_sise: 1MiB\n",
                "runtime.caching.embeddings.max_sise",
                "did you mean `max_size`?",
            ),
        ];
        for (line, key, msg) in cases {
            let text = format!("runtime:\n  caching:\n    embeddings:\n{line}");
            let err = parse(&text).expect_err(line);
            assert_eq!(err.kinds(), vec![ProblemKind::BadRuntime], "{line}");
            let rendered = err.to_string();
            // Line 10: HEAD has 6 lines, then runtime/caching/embeddings, then the key.
            assert!(rendered.contains("spicepod.yaml:10:"), "{rendered}");
            assert!(rendered.contains(key), "{rendered}");
            assert!(rendered.contains(msg), "{rendered}");
        }
    }

    #[test]
    fn redis_url_comes_from_a_secret_and_is_never_shown() {
        let rt = parse("runtime:\n  redis:\n    url: ${ secrets:REDIS_URL }\n    replicas: 3\n    timeout: 100ms\n")
            .unwrap()
            .spicepod
            .runtime;
        let redis = rt.redis.expect("redis");
        assert_eq!(redis.url.expose(), "redis://:pw@127.0.0.1:6379/0");
        assert_eq!(redis.replicas, Some(3));
        assert_eq!(redis.timeout, Duration::from_millis(100));
        assert_eq!(redis.key_prefix, DEFAULT_KEY_PREFIX);
        assert!(!format!("{redis:?}").contains("pw@"));
    }

    #[test]
    fn bad_redis_settings_are_errors() {
        let cases = [
            (
                "runtime:\n  redis:\n    key_prefix: x\n",
                "runtime.redis.url",
                "is missing",
            ),
            (
                "runtime:\n  redis:\n    url: http://x:1\n",
                "runtime.redis.url",
                "not a redis:// URL",
            ),
            (
                "runtime:\n  redis:\n    url: rediss://x:1\n",
                "runtime.redis.url",
                "TLS",
            ),
            (
                "runtime:\n  redis:\n    url: ${ secrets:NOPE }\n",
                "runtime.redis.url",
                "NOPE",
            ),
            (
                "runtime:\n  redis:\n    url: redis://x:1\n    replicas: 0\n",
                "runtime.redis.replicas",
                "whole number",
            ),
            (
                "runtime:\n  redis:\n    url: redis://x:1\n    timeout: soon\n",
                "runtime.redis.timeout",
                "not a duration",
            ),
            (
                "runtime:\n  redis:\n    url: redis://x:1\n    urll: y\n",
                "runtime.redis.urll",
                "did you mean `url`?",
            ),
        ];
        for (text, key, msg) in cases {
            let rendered = parse(text).expect_err(text).to_string();
            assert!(rendered.contains(key), "{rendered}");
            assert!(rendered.contains(msg), "{rendered}");
        }
        let rendered = parse("runtime:\n  redis:\n    url: ftp://user:hunter2@x\n")
            .expect_err("bad scheme")
            .to_string();
        assert!(!rendered.contains("hunter2"), "{rendered}");
    }
}
