//! The top-level `runtime:` section: a dispatcher over its sub-sections, each in its own
//! module. Read: `auth` (the HTTP API's keys) and `http` (serving: connection deadlines, cap,
//! drain, error detail). Every other runtime setting Spice knows is ignored.

mod auth;
mod http;

use serde_yaml::Value;

use super::Cx;
use super::error::{Problem, ProblemKind};
use crate::server::HttpConfig;

pub use self::auth::ApiKeyAuth;

/// What the server needs from `runtime:`.
#[derive(Debug, Clone, Default)]
pub struct RuntimeConfig {
    /// API keys the HTTP API requires (`None`: open).
    pub auth: Option<ApiKeyAuth>,
    /// `runtime.http` (defaults where unset).
    pub http: HttpConfig,
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
                        "must be a mapping (e.g. `auth:`, `http:`)",
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
        config
    }
}
