//! `runtime.auth`: the HTTP API's keys (Spice's shape; `api_key` is accepted too).
//!
//! ```yaml
//! runtime:
//!   auth:
//!     api-key:
//!       enabled: true          # optional, default true
//!       keys:
//!         - ${ secrets:API_KEY }
//!         - ${ env:OTHER_KEY }:ro   # Spice's :ro / :rw suffix is accepted and dropped
//! ```

use serde_yaml::Value;

use super::super::Cx;
use super::super::error::{Problem, ProblemKind};
use crate::secrets::{self, Secret};

/// `runtime.auth.api-key` with `enabled` true: one of `keys` is required on every request.
#[derive(Debug, Clone)]
pub struct ApiKeyAuth {
    pub keys: Vec<Secret>,
}

const API_KEY_KEYS: &[&str] = &["enabled", "keys"];

impl Cx<'_> {
    /// `runtime.auth`; `None`: the API is open.
    pub(super) fn runtime_auth(&mut self, v: &Value) -> Option<ApiKeyAuth> {
        let line = self.loc.top_key("runtime");
        let bad = |key: &str, msg: &str| {
            Problem::new(ProblemKind::BadRuntime, msg.to_string())
                .at(line)
                .key(key.to_string())
        };
        let auth = match v {
            Value::Null => return None,
            Value::Mapping(m) => m,
            _ => {
                self.err(bad("runtime.auth", "must be a mapping with `api-key:`"));
                return None;
            }
        };
        for key in auth.keys() {
            let k = key.as_str().unwrap_or_default();
            if k != "api-key" && k != "api_key" {
                self.warn(
                    Problem::new(
                        ProblemKind::Notice,
                        "is ignored: bedrock-embed reads only `api-key` here",
                    )
                    .at(line)
                    .key(format!("runtime.auth.{}", key.as_str().unwrap_or("?"))),
                );
            }
        }
        let (name, api_key) = match (auth.get("api-key"), auth.get("api_key")) {
            (Some(v), _) => ("runtime.auth.api-key", v),
            (None, Some(v)) => ("runtime.auth.api_key", v),
            (None, None) => return None,
        };
        let api_key = match api_key {
            Value::Mapping(m) => m,
            _ => {
                self.err(bad(
                    name,
                    "must be a mapping with `keys:` (a list of keys, e.g. `- ${ secrets:API_KEY }`)",
                ));
                return None;
            }
        };
        for key in api_key.keys() {
            let k = key.as_str().unwrap_or("?");
            if !API_KEY_KEYS.contains(&k) {
                self.err(bad(
                    &format!("{name}.{k}"),
                    &format!("unknown key: allowed: {}", API_KEY_KEYS.join(", ")),
                ));
            }
        }
        match api_key.get("enabled") {
            None | Some(Value::Bool(true)) => {}
            Some(Value::Bool(false)) => return None,
            Some(_) => {
                self.err(bad(&format!("{name}.enabled"), "must be true or false"));
                return None;
            }
        }
        let items = match api_key.get("keys") {
            Some(Value::Sequence(items)) if !items.is_empty() => items,
            Some(Value::Sequence(_)) | None | Some(Value::Null) => {
                self.err(bad(
                    &format!("{name}.keys"),
                    "no keys: list at least one (`- ${ secrets:API_KEY }`), or set `enabled: false`",
                ));
                return None;
            }
            Some(_) => {
                self.err(bad(
                    &format!("{name}.keys"),
                    "must be a list of keys (`- ${ secrets:API_KEY }`)",
                ));
                return None;
            }
        };
        let before = self.problems.len();
        let mut keys = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let key = format!("{name}.keys[{i}]");
            let raw = match item {
                Value::String(s) => s.clone(),
                Value::Number(n) => n.to_string(),
                _ => {
                    self.err(bad(&key, "must be a string (`${ secrets:API_KEY }`)"));
                    continue;
                }
            };
            let resolved = match secrets::resolve(&raw, self.secrets) {
                Ok(r) => r,
                Err(errors) => {
                    for e in errors {
                        let kind = ProblemKind::from(&e);
                        self.err(Problem::new(kind, e.to_string()).at(line).key(key.clone()));
                    }
                    continue;
                }
            };
            // Spice's permission suffix: every route here only reads.
            let value = resolved
                .value
                .strip_suffix(":rw")
                .or_else(|| resolved.value.strip_suffix(":ro"))
                .unwrap_or(&resolved.value)
                .to_string();
            if value.trim().is_empty() || value.chars().any(|c| c.is_whitespace() || c.is_control())
            {
                self.err(bad(
                    &key,
                    "is empty or contains spaces or line breaks: fix the key",
                ));
                continue;
            }
            let origin = if resolved.refs.is_empty() {
                self.warn(
                    Problem::new(
                        ProblemKind::Notice,
                        "is written in the file: keep API keys out of it with `${ secrets:NAME }`",
                    )
                    .at(line)
                    .key(key.clone()),
                );
                format!("{key} (written in {})", self.path.display())
            } else {
                let refs: Vec<String> = resolved.refs.iter().map(ToString::to_string).collect();
                format!("{key} ({})", refs.join(", "))
            };
            keys.push(Secret::new(value, origin));
        }
        if self.problems.len() > before || keys.is_empty() {
            return None;
        }
        Some(ApiKeyAuth { keys })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::path::Path;

    use super::super::super::{ProblemKind, Spicepod};

    const HEAD: &str = "version: v1\nkind: Spicepod\nname: p\nembeddings:\n  - from: bedrock:amazon.titan-embed-text-v2:0\n    name: titan\n";

    fn parse(
        runtime: &str,
    ) -> Result<super::super::super::Loaded, super::super::super::SpicepodError> {
        let secrets: HashMap<String, String> = [
            ("KEY1".to_string(), "k-one".to_string()),
            ("KEY2".to_string(), "k-two".to_string()),
        ]
        .into();
        Spicepod::parse(
            &format!("{HEAD}{runtime}"),
            Path::new("spicepod.yaml"),
            &secrets,
        )
    }

    fn keys(runtime: &str) -> Option<Vec<String>> {
        let loaded = parse(runtime).unwrap_or_else(|e| panic!("{e}"));
        loaded
            .spicepod
            .runtime
            .auth
            .map(|a| a.keys.iter().map(|k| k.expose().to_string()).collect())
    }

    #[test]
    fn no_runtime_or_no_auth_means_open() {
        assert_eq!(keys(""), None);
        assert_eq!(
            keys("runtime:\n  results_cache:\n    enabled: true\n"),
            None
        );
        assert_eq!(
            keys("runtime:\n  auth:\n    api-key:\n      enabled: false\n      keys: [a]\n"),
            None
        );
    }

    #[test]
    fn keys_from_secrets_with_spice_suffixes() {
        let got = keys(
            "runtime:\n  auth:\n    api-key:\n      enabled: true\n      keys:\n        - ${ secrets:KEY1 }\n        - ${secrets:KEY2}:rw\n",
        );
        assert_eq!(got, Some(vec!["k-one".into(), "k-two".into()]));
        // Spice's cookbook spelling, no `enabled`.
        let got = keys("runtime:\n  auth:\n    api_key:\n      keys: [\"${ secrets:KEY1 }\"]\n");
        assert_eq!(got, Some(vec!["k-one".into()]));
    }

    #[test]
    fn literal_keys_work_with_a_warning_that_shows_no_key() {
        let loaded =
            parse("runtime:\n  auth:\n    api-key:\n      keys:\n        - literal-key\n").unwrap();
        let auth = loaded.spicepod.runtime.auth.unwrap();
        assert_eq!(auth.keys[0].expose(), "literal-key");
        let warning = loaded
            .warnings
            .iter()
            .find(|w| w.contains("runtime.auth.api-key.keys[0]"))
            .expect("a warning");
        assert!(!warning.contains("literal-key"), "{warning}");
        assert!(!format!("{auth:?}").contains("literal-key"));
    }

    #[test]
    fn problems_are_reported() {
        let cases = [
            ("runtime: 5\n", ProblemKind::BadRuntime),
            ("runtime:\n  auth: [1]\n", ProblemKind::BadRuntime),
            (
                "runtime:\n  auth:\n    api-key: yes\n",
                ProblemKind::BadRuntime,
            ),
            (
                "runtime:\n  auth:\n    api-key:\n      keys: []\n",
                ProblemKind::BadRuntime,
            ),
            (
                "runtime:\n  auth:\n    api-key:\n      enabled: 1\n      keys: [a]\n",
                ProblemKind::BadRuntime,
            ),
            (
                "runtime:\n  auth:\n    api-key:\n      keys: [a]\n      key: b\n",
                ProblemKind::BadRuntime,
            ),
            (
                "runtime:\n  auth:\n    api-key:\n      keys: [{a: 1}]\n",
                ProblemKind::BadRuntime,
            ),
            (
                "runtime:\n  auth:\n    api-key:\n      keys: [\"${ secrets:NOPE }\"]\n",
                ProblemKind::MissingSecret,
            ),
        ];
        for (text, kind) in cases {
            let err = parse(text).expect_err(text);
            assert_eq!(err.kinds(), vec![kind], "{text}: {err}");
        }
    }
}
