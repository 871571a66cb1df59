//! `runtime.http`: how the HTTP API treats connections (see `server::listen`; the defaults and
//! why they are what they are are in README, "Serving as a service").
//!
//! ```yaml
//! runtime:
//!   http:
//!     header_read_timeout: 75s   # also the keep-alive idle limit
//!     keep_alive: true
//!     body_read_timeout: 30s
//!     max_connections: 16384
//!     shutdown_timeout: 25s
//!     error_detail: client       # or `full`; `run --offline` defaults to full
//! ```

use std::time::Duration;

use serde_yaml::Value;

use super::super::Cx;
use super::super::error::{Problem, ProblemKind};
use super::super::params::did_you_mean;
use crate::server::{ErrorDetail, HttpConfig};

/// The keys of `runtime.http`.
pub const HTTP_KEYS: &[&str] = &[
    "header_read_timeout",
    "keep_alive",
    "body_read_timeout",
    "max_connections",
    "shutdown_timeout",
    "error_detail",
];

/// Bounds of `max_connections`.
pub const MAX_CONNECTIONS_RANGE: (u64, u64) = (1, 1_000_000);
/// Longest deadline accepted (an hour: anything longer is a typo or no deadline at all).
const MAX_DEADLINE: Duration = Duration::from_secs(3600);

impl Cx<'_> {
    /// `runtime.http`: the defaults with what the file sets; problems are collected.
    pub(super) fn runtime_http(&mut self, v: &Value) -> HttpConfig {
        let mut config = HttpConfig::default();
        let line = self.loc.top_key("runtime");
        let http = match v {
            Value::Null => return config,
            Value::Mapping(m) => m,
            _ => {
                self.err(
                    Problem::new(
                        ProblemKind::BadRuntime,
                        "must be a mapping, e.g. `header_read_timeout: 75s`",
                    )
                    .at(line)
                    .key("runtime.http"),
                );
                return config;
            }
        };
        for (key, value) in http {
            let name = key.as_str().unwrap_or("?");
            let full = format!("runtime.http.{name}");
            let shown = match value {
                Value::String(s) => s.clone(),
                other => serde_yaml::to_string(other)
                    .unwrap_or_default()
                    .trim()
                    .to_string(),
            };
            let mut bad = |msg: String| {
                self.err(
                    Problem::new(ProblemKind::BadRuntime, msg)
                        .at(line)
                        .key(full.clone())
                        .value(shown.clone()),
                );
            };
            match name {
                "header_read_timeout" | "body_read_timeout" | "shutdown_timeout" => {
                    match duration(value, name == "shutdown_timeout") {
                        Ok(d) if name == "header_read_timeout" => config.header_read_timeout = d,
                        Ok(d) if name == "body_read_timeout" => config.body_read_timeout = d,
                        Ok(d) => config.shutdown_timeout = d,
                        Err(why) => bad(why),
                    }
                }
                "keep_alive" => match value {
                    Value::Bool(b) => config.keep_alive = *b,
                    _ => bad("must be true or false".into()),
                },
                "max_connections" => {
                    let (lo, hi) = MAX_CONNECTIONS_RANGE;
                    match value.as_u64().filter(|n| (lo..=hi).contains(n)) {
                        Some(n) => config.max_connections = n as usize,
                        None => bad(format!("must be a whole number from {lo} to {hi}")),
                    }
                }
                "error_detail" => match value.as_str() {
                    Some("client") => config.error_detail = Some(ErrorDetail::Client),
                    Some("full") => config.error_detail = Some(ErrorDetail::Full),
                    _ => bad("must be `client` (what the client can act on; the operator's detail goes to the log) or `full` (everything, for trusted networks)".into()),
                },
                _ => {
                    let hint = match did_you_mean(name, HTTP_KEYS.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`? "),
                        None => String::new(),
                    };
                    bad(format!("unknown key: {hint}allowed: {}", HTTP_KEYS.join(", ")));
                }
            }
        }
        config
    }
}

/// A duration with its unit (`30s`, `500ms`, `2m`, `1m 30s`), above zero unless `zero_ok`, at
/// most an hour.
fn duration(value: &Value, zero_ok: bool) -> Result<Duration, String> {
    let example = "write it with its unit, e.g. `30s`, `500ms` or `2m`";
    let text = match value {
        Value::String(s) => s.trim(),
        Value::Number(_) => return Err(format!("has no unit: {example}")),
        _ => return Err(format!("must be a duration: {example}")),
    };
    let d = humantime::parse_duration(text)
        .map_err(|e| format!("is not a duration ({e}): {example}"))?;
    if d.is_zero() && !zero_ok {
        return Err("must be more than zero".into());
    }
    if d > MAX_DEADLINE {
        return Err("must be at most 1h".into());
    }
    Ok(d)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::Path;
    use std::time::Duration;

    use super::super::super::{ProblemKind, Spicepod};
    use crate::server::{ErrorDetail, HttpConfig};

    const HEAD: &str = "version: v1\nkind: Spicepod\nname: p\nembeddings:\n  - from: bedrock:amazon.titan-embed-text-v2:0\n    name: titan\n";

    fn parse(http: &str) -> Result<HttpConfig, String> {
        Spicepod::parse(
            &format!("{HEAD}runtime:\n  http:\n{http}"),
            Path::new("spicepod.yaml"),
            &HashMap::new(),
        )
        .map(|l| l.spicepod.runtime.http)
        .map_err(|e| e.to_string())
    }

    #[test]
    fn unset_keys_keep_their_defaults() {
        let config = parse("    header_read_timeout: 5s\n").unwrap();
        assert_eq!(config.header_read_timeout, Duration::from_secs(5));
        assert_eq!(
            HttpConfig {
                header_read_timeout: HttpConfig::default().header_read_timeout,
                ..config
            },
            HttpConfig::default()
        );
    }

    #[test]
    fn every_key_is_read() {
        let config = parse(
            "    header_read_timeout: 500ms\n    keep_alive: false\n    body_read_timeout: 1m 30s\n    max_connections: 2000\n    shutdown_timeout: 0s\n    error_detail: full\n",
        )
        .unwrap();
        assert_eq!(
            config,
            HttpConfig {
                header_read_timeout: Duration::from_millis(500),
                keep_alive: false,
                body_read_timeout: Duration::from_secs(90),
                max_connections: 2000,
                shutdown_timeout: Duration::ZERO,
                error_detail: Some(ErrorDetail::Full),
            }
        );
    }

    #[test]
    fn bad_values_name_the_key_and_the_fix() {
        for (yaml, says) in [
            ("    header_read_timeout: 30\n", "has no unit"),
            ("    body_read_timeout: soon\n", "is not a duration"),
            ("    header_read_timeout: 0s\n", "more than zero"),
            ("    shutdown_timeout: 2h\n", "at most 1h"),
            ("    keep_alive: yes please\n", "true or false"),
            ("    max_connections: 0\n", "from 1 to 1000000"),
            ("    error_detail: all\n", "`client`"),
            (
                "    header_timeout: 5s\n",
                "did you mean `header_read_timeout`?",
            ),
        ] {
            let err = parse(yaml).expect_err(yaml);
            assert!(err.contains("runtime.http."), "{yaml}: {err}");
            assert!(err.contains(says), "{yaml}: {err}");
        }
        let err = Spicepod::parse(
            &format!("{HEAD}runtime:\n  http: 5\n"),
            Path::new("spicepod.yaml"),
            &HashMap::new(),
        )
        .unwrap_err();
        assert_eq!(err.kinds(), vec![ProblemKind::BadRuntime]);
    }
}
