//! The top-level `runtime:` section: a dispatcher over its sub-sections, each in its own
//! module. Read: `auth` (the HTTP API's keys), `http` (serving: connection deadlines, cap,
//! drain, error detail), and through [`super::scale_out`] `caching.embeddings` and `redis`.
//! Every other runtime setting Spice knows is ignored.

mod auth;
mod http;

use serde_yaml::Value;

use super::Cx;
use super::error::{Problem, ProblemKind};
use super::scale_out::{EmbeddingsCacheConfig, RedisConfig};
use crate::server::HttpConfig;

pub use self::auth::ApiKeyAuth;

/// What the server needs from `runtime:`.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// API keys the HTTP API requires (`None`: open).
    pub auth: Option<ApiKeyAuth>,
    /// `runtime.http` (defaults where unset).
    pub http: HttpConfig,
    /// `caching.embeddings` (`None`: no cache).
    pub embeddings_cache: Option<EmbeddingsCacheConfig>,
    /// `redis` (`None`: limiter and cache are this process's own).
    pub redis: Option<RedisConfig>,
}

impl Cx<'_> {
    pub(super) fn runtime(&mut self, v: Option<&Value>) -> RuntimeConfig {
        let mut config = RuntimeConfig::default();
        let runtime = match v {
            None | Some(Value::Null) => return config,
            Some(Value::Mapping(m)) => m,
            Some(_) => {
                self.err(
                    Problem::new(
                        ProblemKind::BadRuntime,
                        "must be a mapping (e.g. `auth:`, `http:`, `caching:`, `redis:`)",
                    )
                    .at(self.loc.top_key("runtime"))
                    .key("runtime"),
                );
                return config;
            }
        };
        if let Some(auth) = runtime.get("auth") {
            config.auth = self.runtime_auth(auth);
        }
        if let Some(http) = runtime.get("http") {
            config.http = self.runtime_http(http);
        }
        config.embeddings_cache = self.embeddings_cache(runtime);
        config.redis = self.redis(runtime);
        config
    }
}
