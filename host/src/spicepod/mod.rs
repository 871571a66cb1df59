//! The `spicepod.yaml` file model: loading, validation, errors with locations.
//!
//! The file has Spice's shape: `version`, `kind: Spicepod`, `name`, and `embeddings:` entries
//! with `from: bedrock:<model-id>`, `name`, `params` (and an optional `description`). Other
//! top-level sections Spice knows (`datasets`, `models`, `secrets`, …) are parsed and ignored;
//! of `runtime`, `auth` (the HTTP API's keys) and `http` (serving) are read. Every problem of a file is
//! collected and reported together ([`SpicepodError`]).
//!
//! Params split in two: host params ([`HOST_PARAMS`]: AWS settings, limiter, codec pin),
//! validated here and never sent to a codec, and model params (everything else), passed to the
//! model's codec in file order as strings. The codec validates those later;
//! [`unknown_params`] refuses names the codec does not declare.

mod entry;
mod error;
mod host_params;
mod locate;
mod params;
mod runtime;
mod scale_out;
#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};

use serde_yaml::Value;

pub use self::error::{EntryRef, Problem, ProblemKind, SpicepodError};
pub use self::params::{
    CREDENTIAL_PARAMS, HOST_PARAMS, MAX_CONCURRENT_RANGE, MAX_WAIT_RANGE, REQUESTS_PER_MIN_RANGE,
    TOKENS_PER_DAY_RANGE, TOKENS_PER_MIN_RANGE, did_you_mean,
};
pub use self::runtime::{ApiKeyAuth, RuntimeConfig};
pub use self::scale_out::{EmbeddingsCacheConfig, RedisConfig, parse_duration, parse_size};

use self::error::q;
use self::locate::Locator;
use crate::secrets::{Secret, SecretLookup, SecretStore};

/// AWS settings of one model (host-only: never sent to a codec).
#[derive(Debug, Clone, Default)]
pub struct AwsParams {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub access_key_id: Option<Secret>,
    pub secret_access_key: Option<Secret>,
    pub session_token: Option<Secret>,
    /// `aws_endpoint_url` (VPC endpoints, the emulator).
    pub endpoint_url: Option<String>,
}

/// How a model picks its codec, beyond its model id's prefix.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CodecChoice {
    /// `codec`: a codec by name.
    pub codec: Option<String>,
    /// `base_model`: the model id codecs see, for ARNs that do not name their model.
    pub base_model: Option<String>,
}

/// The limiter settings of one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitParams {
    pub max_concurrent_invocations: u32,
    pub requests_per_min_limit: u32,
    /// `tokens_per_min_limit`: input tokens a minute (AWS's per-model tokens-per-minute quota of
    /// the bedrock-runtime endpoint). `None`: no token limit.
    pub tokens_per_min_limit: Option<u64>,
    /// `tokens_per_day_limit`: input tokens a day (AWS's tokens-per-day quota). `None`: none.
    pub tokens_per_day_limit: Option<u64>,
    /// `limiter_max_wait`: how long an HTTP request may wait for the limiter before it answers
    /// 429 (the bulk `embed` job always waits).
    pub max_wait: std::time::Duration,
}

/// `limiter_max_wait` default: under the 60 s idle timeout of AWS load balancers (and the
/// 60 s most proxies use), so a queued client gets a 429 with `Retry-After` it can act on
/// instead of a 504 from the proxy; and long enough that a burst of 750 attempts at the
/// default 1,500/min (30 s of quota) still queues rather than fails.
pub const DEFAULT_MAX_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

impl Default for LimitParams {
    fn default() -> Self {
        Self {
            max_concurrent_invocations: 40,
            requests_per_min_limit: 1500,
            tokens_per_min_limit: None,
            tokens_per_day_limit: None,
            max_wait: DEFAULT_MAX_WAIT,
        }
    }
}

/// One `embeddings:` entry with `from: bedrock:<model-id>`.
#[derive(Debug, Clone)]
pub struct EmbeddingModel {
    /// The `name` clients use as `model`.
    pub name: String,
    /// The model id exactly as written after `bedrock:` (sent to Bedrock unchanged).
    pub model_id: String,
    pub aws: AwsParams,
    pub limits: LimitParams,
    /// `codec` param: pin this model to a codec by name.
    pub codec: Option<String>,
    /// `base_model` param: the model an ARN that does not name one runs (imported,
    /// provisioned, application inference profile), e.g. `amazon.titan-embed-text-v2:0`. Codecs
    /// are routed and called with it; Bedrock still gets `model_id`.
    pub base_model: Option<String>,
    /// The remaining params, for the codec, in file order, secrets resolved.
    pub params: Vec<(String, String)>,
    /// 1-based line of the entry in the file, for messages.
    pub line: usize,
}

impl EmbeddingModel {
    /// The id codecs are routed by and called with: `base_model` when set, else the model id.
    pub fn codec_model_id(&self) -> &str {
        self.base_model.as_deref().unwrap_or(&self.model_id)
    }
}

#[derive(Debug, Clone)]
pub struct Spicepod {
    pub path: PathBuf,
    pub name: String,
    pub embeddings: Vec<EmbeddingModel>,
    /// `runtime:` (`auth` and `http`).
    pub runtime: RuntimeConfig,
}

/// A loaded spicepod and the warnings to log (each a full `path:line: ...` line, no secrets).
#[derive(Debug, Clone)]
pub struct Loaded {
    pub spicepod: Spicepod,
    pub warnings: Vec<String>,
}

/// Top-level keys of a Spice spicepod. Only `embeddings` is served; the rest is ignored.
const TOP_LEVEL_KEYS: &[&str] = &[
    "version",
    "kind",
    "name",
    "metadata",
    "extensions",
    "secrets",
    "catalogs",
    "datasets",
    "views",
    "models",
    "embeddings",
    "tools",
    "workers",
    "evals",
    "dependencies",
    "runtime",
    "management",
];
const VERSIONS: &[&str] = &["v1", "v1beta1"];
const ENTRY_KEYS: &[&str] = &["from", "name", "params", "description"];

impl Spicepod {
    /// Reads and validates the spicepod at `path` (a file, or a directory holding
    /// `spicepod.yaml`), resolving secrets from the environment, `.env.local` and `.env` beside it.
    pub fn load(path: &Path) -> Result<Loaded, SpicepodError> {
        let path = if path.is_dir() {
            ["spicepod.yaml", "spicepod.yml"]
                .iter()
                .map(|f| path.join(f))
                .find(|p| p.is_file())
                .unwrap_or_else(|| path.join("spicepod.yaml"))
        } else {
            path.to_path_buf()
        };
        let text = std::fs::read_to_string(&path).map_err(|e| {
            let problem = match e.kind() {
                std::io::ErrorKind::NotFound => Problem::new(
                    ProblemKind::NotFound,
                    "no such file: create it, or pass --spicepod PATH to use another one",
                ),
                std::io::ErrorKind::InvalidData => Problem::new(
                    ProblemKind::Unreadable,
                    "is not UTF-8 text: save it as UTF-8",
                ),
                _ => Problem::new(ProblemKind::Unreadable, format!("cannot read it: {e}")),
            };
            SpicepodError::one(&path, problem)
        })?;
        let (store, env_warnings) = SecretStore::for_spicepod(&path);
        let mut loaded = Self::parse(&text, &path, &store)?;
        let mut warnings = env_warnings;
        warnings.append(&mut loaded.warnings);
        loaded.warnings = warnings;
        Ok(loaded)
    }

    /// Validates spicepod `text` (as if read from `path`), resolving secrets with `secrets`.
    pub fn parse(
        text: &str,
        path: &Path,
        secrets: &dyn SecretLookup,
    ) -> Result<Loaded, SpicepodError> {
        let mut root: Value = serde_yaml::from_str(text).map_err(|e| {
            let mut p = Problem::new(ProblemKind::Syntax, format!("YAML syntax error: {e}"));
            if let Some(loc) = e.location() {
                p.line = Some(loc.line());
                p.column = Some(loc.column());
            }
            SpicepodError::one(path, p)
        })?;
        // `<<: *anchor` merge keys (sharing params between entries).
        root.apply_merge().map_err(|e| {
            let p = Problem::new(ProblemKind::Syntax, format!("YAML merge key `<<`: {e}"));
            SpicepodError::one(path, p)
        })?;
        let mut cx = Cx {
            path,
            loc: Locator::new(text),
            secrets,
            problems: Vec::new(),
            warnings: Vec::new(),
        };
        let spicepod = cx.pod(&root);
        if !cx.problems.is_empty() {
            return Err(SpicepodError {
                path: path.to_path_buf(),
                problems: cx.problems,
            });
        }
        let warnings = cx.warnings.iter().map(|w| w.render(path)).collect();
        match spicepod {
            Some(spicepod) => Ok(Loaded { spicepod, warnings }),
            // Unreachable in practice (no problems means a pod), but never panic.
            None => Err(SpicepodError::one(
                path,
                Problem::new(ProblemKind::NotAMapping, "is not a spicepod"),
            )),
        }
    }
}

/// Params of `model` its codec does not declare, one error each with a did-you-mean
/// (among the codec's params and the host params), for `check` and every load to refuse (the
/// caller prefixes the entry's file and line).
///
/// `known` are the names in the codec's `info().params`. WIT 0.1 has no flag for free-form
/// params, so a spec name ending in `*` is a pattern: `*` passes every other param through to
/// the codec's own `check`, `extra_*` those starting with `extra_`.
pub fn unknown_params(model: &EmbeddingModel, known: &[&str]) -> Vec<String> {
    let (patterns, names): (Vec<&str>, Vec<&str>) = known.iter().partition(|k| k.ends_with('*'));
    let passes = |k: &str| {
        names.contains(&k)
            || patterns
                .iter()
                .any(|p| k.starts_with(p.trim_end_matches('*')))
    };
    model
        .params
        .iter()
        .filter(|(k, _)| !passes(k))
        .map(|(k, _)| {
            let hint = match did_you_mean(k, names.iter().chain(HOST_PARAMS).copied()) {
                Some(s) => format!(": did you mean `{s}`?"),
                None if names.is_empty() => ": this model takes no params".to_string(),
                None => format!(": this model takes {}", names.join(", ")),
            };
            format!(
                "params.{k}: unknown param of model {}{hint}",
                model.model_id
            )
        })
        .collect()
}

struct Cx<'a> {
    path: &'a Path,
    loc: Locator,
    secrets: &'a dyn SecretLookup,
    problems: Vec<Problem>,
    warnings: Vec<Problem>,
}

/// A param value as text, or why it cannot be one.
fn scalar_text(v: &Value) -> Result<String, &'static str> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null => Err("has no value: write a value, or remove the key"),
        Value::Sequence(_) => Err("is a list: write a string, number or boolean"),
        Value::Mapping(_) => Err("is a mapping: write a string, number or boolean"),
        Value::Tagged(_) => {
            Err("is a tagged value (!tag): write a plain string, number or boolean")
        }
    }
}

impl Cx<'_> {
    fn err(&mut self, p: Problem) {
        self.problems.push(p);
    }

    fn warn(&mut self, p: Problem) {
        self.warnings.push(p);
    }

    fn pod(&mut self, root: &Value) -> Option<Spicepod> {
        let map = match root {
            Value::Mapping(m) => m,
            Value::Null => {
                self.err(Problem::new(
                    ProblemKind::EmptyFile,
                    "is empty: add `version: v1`, `kind: Spicepod`, `name` and `embeddings:` entries",
                ));
                return None;
            }
            _ => {
                self.err(Problem::new(
                    ProblemKind::NotAMapping,
                    "is not a spicepod: the top level must be a mapping with `version`, `kind`, `name` and `embeddings`",
                ));
                return None;
            }
        };
        for key in map.keys() {
            match key.as_str() {
                Some(k) if TOP_LEVEL_KEYS.contains(&k) => {}
                Some(k) => {
                    let hint = match did_you_mean(k, TOP_LEVEL_KEYS.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!("allowed: {}", TOP_LEVEL_KEYS.join(", ")),
                    };
                    let p = Problem::new(
                        ProblemKind::UnknownTopLevelKey,
                        format!("unknown top-level key: {hint}"),
                    )
                    .at(self.loc.top_key(k))
                    .key(k)
                    .value(k);
                    self.err(p);
                }
                None => self.err(Problem::new(
                    ProblemKind::UnknownTopLevelKey,
                    format!(
                        "top-level key {key:?} is not a string: allowed: {}",
                        TOP_LEVEL_KEYS.join(", ")
                    ),
                )),
            }
        }
        self.header(
            map.get("version"),
            "version",
            ProblemKind::BadVersion,
            |v| {
                (!VERSIONS.contains(&v)).then(|| {
                    format!(
                        "{} is not a spicepod version bedrock-embed reads: use v1",
                        q(v)
                    )
                })
            },
        );
        self.header(map.get("kind"), "kind", ProblemKind::BadKind, |v| {
            (v != "Spicepod").then(|| format!("{} is not allowed: use Spicepod", q(v)))
        });
        let name = self.header(map.get("name"), "name", ProblemKind::BadPodName, |v| {
            v.trim()
                .is_empty()
                .then(|| "is empty: name the spicepod".to_string())
        });
        let runtime = self.runtime(map.get("runtime"));
        let entries = match map.get("embeddings") {
            None if self
                .problems
                .iter()
                .any(|p| p.message.contains("`embeddings`?")) =>
            {
                // A misspelt `embeddings:` key was reported already.
                return None;
            }
            None | Some(Value::Null) => {
                let p = Problem::new(
                    ProblemKind::NoEmbeddings,
                    "no `embeddings:` entries: add one with `from: bedrock:<model-id>` and `name`",
                )
                .at(self.loc.top_key("embeddings"));
                self.err(p);
                return None;
            }
            Some(Value::Sequence(s)) if s.is_empty() => {
                let p = Problem::new(
                    ProblemKind::NoEmbeddings,
                    "is an empty list: add an entry with `from: bedrock:<model-id>` and `name`",
                )
                .at(self.loc.top_key("embeddings"))
                .key("embeddings");
                self.err(p);
                return None;
            }
            Some(Value::Sequence(s)) => s,
            Some(_) => {
                let p = Problem::new(
                    ProblemKind::EmbeddingsNotAList,
                    "must be a list of entries (`- from: bedrock:<model-id>`)",
                )
                .at(self.loc.top_key("embeddings"))
                .key("embeddings");
                self.err(p);
                return None;
            }
        };
        let block_lines = self.loc.entry_count() == entries.len();
        let mut models: Vec<EmbeddingModel> = Vec::new();
        for (index, entry) in entries.iter().enumerate() {
            let line = if block_lines {
                self.loc.entry(index)
            } else {
                None
            }
            .or(self.loc.top_key("embeddings"));
            if let Some(m) = self.entry(index, entry, line, block_lines) {
                if let Some(first) = models.iter().find(|o| o.name == m.name) {
                    let msg = format!(
                        "{} is already the name of an earlier entry (line {}): names must be unique",
                        q(&m.name),
                        first.line
                    );
                    let key_line = if block_lines {
                        self.loc.entry_key(index, "name")
                    } else {
                        None
                    };
                    let p = Problem::new(ProblemKind::DuplicateName, msg)
                        .at(key_line.or(line))
                        .entry(&EntryRef {
                            index,
                            name: Some(m.name.clone()),
                        })
                        .key("name")
                        .value(m.name.clone());
                    self.err(p);
                } else {
                    models.push(m);
                }
            }
        }
        Some(Spicepod {
            path: self.path.to_path_buf(),
            name: name.unwrap_or_else(|| "spicepod".into()),
            embeddings: models,
            runtime,
        })
    }

    /// A top-level scalar (`version`, `kind`, `name`): missing → warning; bad → error.
    fn header(
        &mut self,
        v: Option<&Value>,
        key: &str,
        kind: ProblemKind,
        check: impl Fn(&str) -> Option<String>,
    ) -> Option<String> {
        let line = self.loc.top_key(key);
        let Some(v) = v else {
            let fix = match key {
                "version" => "add `version: v1`",
                "kind" => "add `kind: Spicepod`",
                _ => "add `name: <pod name>`",
            };
            self.warn(Problem::new(
                ProblemKind::Notice,
                format!("`{key}` is missing: {fix}"),
            ));
            return None;
        };
        match scalar_text(v) {
            Ok(text) => match check(&text) {
                Some(msg) => {
                    self.err(Problem::new(kind, msg).at(line).key(key).value(text));
                    None
                }
                None => Some(text),
            },
            Err(why) => {
                self.err(Problem::new(kind, why).at(line).key(key));
                None
            }
        }
    }
}
