//! The OpenAI-compatible HTTP API (axum).
//!
//! - `POST /v1/embeddings`: OpenAI's request and response, `model` = a spicepod `name`;
//! - `GET /v1/models`, `GET /v1/models/{model}`: the served models;
//! - `GET /v1/codecs`: the loaded codecs and the model-id prefixes each serves;
//! - `GET /health` (always 200), `GET /v1/ready` (503 until [`AppState::set_ready`]);
//! - `GET /metrics`: Prometheus text.
//!
//! Errors are OpenAI's `{"error":{"message","type","code","param"}}`; [`error`] has the status
//! table. Every answer carries `x-request-id` ([`request_id`]). With API keys configured every
//! route but `/health` and `/v1/ready` needs one ([`auth`]). Connections are served by
//! [`listen`]: hyper's deadlines, a connection cap, a bounded drain on shutdown.
//!
//! ```no_run
//! # async fn demo(embedder: std::sync::Arc<bedrock_embed::embedder::Embedder>) -> anyhow::Result<()> {
//! use bedrock_embed::server::{AppState, serve};
//! let state = AppState::new(embedder);
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8090").await?;
//! state.set_ready(true);
//! serve(listener, state, async { let _ = tokio::signal::ctrl_c().await; }).await?;
//! # Ok(()) }
//! ```

pub mod auth;
pub mod error;
pub mod listen;
pub mod metrics;
pub mod openai;
pub mod request_id;
pub mod routes;
#[cfg(test)]
mod tests;
pub mod token_ids;

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;

pub use self::auth::ApiKeys;
pub use self::error::{ApiError, ErrorDetail};
pub use self::listen::{Drained, HttpConfig};
use crate::embedder::Embedder;
use crate::secrets::Secret;

/// Default request body limit (16 MiB: 2048 inputs of ~8 KB each).
pub const DEFAULT_MAX_BODY_BYTES: usize = 16 * 1024 * 1024;
/// Default inputs per request (OpenAI's limit).
pub const DEFAULT_MAX_INPUTS: usize = 2048;

/// Request limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Larger bodies get 413.
    pub max_body_bytes: usize,
    /// More inputs in one request get 400 (as OpenAI answers them).
    pub max_inputs: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_inputs: DEFAULT_MAX_INPUTS,
        }
    }
}

/// What every handler shares. Cheap to clone (reference counts and a few words).
#[derive(Clone)]
pub struct AppState {
    pub embedder: Arc<Embedder>,
    /// Set by the caller once models are loaded; `/v1/ready` and `/v1/embeddings` answer 503
    /// while it is false.
    pub ready: Arc<AtomicBool>,
    /// `None`: no API key needed.
    pub api_keys: Option<Arc<ApiKeys>>,
    pub limits: ServerLimits,
    pub metrics: PrometheusHandle,
    /// `created` of the models in `/v1/models` (when this state was made, Unix seconds).
    pub created: u64,
    /// The codec catalog, for `/v1/codecs` (load times, failed files); without it the listing
    /// shows what the embedder's routing table holds.
    pub catalog: Option<Arc<crate::codec::Catalog>>,
    /// Connection deadlines, cap, drain time and error detail ([`listen`]).
    pub http: HttpConfig,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field(
                "models",
                &self
                    .embedder
                    .models()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>(),
            )
            .field("ready", &self.is_ready())
            .field("api_keys", &self.api_keys)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// Not ready, no API keys, default limits, the process's Prometheus recorder (installed
    /// on first use).
    pub fn new(embedder: Arc<Embedder>) -> Self {
        let created = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0);
        Self {
            embedder,
            ready: Arc::new(AtomicBool::new(false)),
            api_keys: None,
            limits: ServerLimits::default(),
            metrics: metrics::handle(),
            created,
            catalog: None,
            http: HttpConfig::default(),
        }
    }

    pub fn with_http(mut self, http: HttpConfig) -> Self {
        self.http = http;
        self
    }

    /// How much of an error the client sees.
    pub fn error_detail(&self) -> ErrorDetail {
        self.http.error_detail.unwrap_or_default()
    }

    /// Requires one of `keys` on every route but `/health` and `/v1/ready`; no keys: open.
    pub fn with_api_keys(mut self, keys: &[Secret]) -> Self {
        self.api_keys = ApiKeys::new(keys).map(Arc::new);
        self
    }

    pub fn with_limits(mut self, limits: ServerLimits) -> Self {
        self.limits = limits;
        self
    }

    pub fn with_catalog(mut self, catalog: Arc<crate::codec::Catalog>) -> Self {
        self.catalog = Some(catalog);
        self
    }

    /// Shares an existing readiness flag.
    pub fn with_ready_flag(mut self, ready: Arc<AtomicBool>) -> Self {
        self.ready = ready;
        self
    }

    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}

/// The whole API as a router (state applied).
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/v1/embeddings", post(routes::embeddings::create))
        // Spice and some clients omit the `/v1`.
        .route("/embeddings", post(routes::embeddings::create))
        .route("/v1/models", get(routes::models::list))
        .route("/v1/models/{model}", get(routes::models::get))
        .route("/v1/codecs", get(routes::codecs::list))
        .route("/health", get(routes::probes::health))
        .route("/v1/ready", get(routes::probes::ready))
        .route("/metrics", get(routes::probes::metrics))
        .fallback(routes::probes::not_found)
        .method_not_allowed_fallback(routes::probes::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.limits.max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            auth::require_key,
        ))
        .layer(axum::middleware::from_fn(metrics::track))
        // Outermost: every answer, a 401 or a 404 included, gets its request id.
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            request_id::tag,
        ))
        .with_state(state)
}

/// Serves `state` on `listener` until `shutdown` completes; then stops accepting, closes idle
/// and stalled connections, and gives requests in flight `state.http.shutdown_timeout` to
/// finish. The answer says whether they all did.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<Drained> {
    let addr = listener.local_addr().ok();
    let upkeep = tokio::spawn(metrics::upkeep(state.metrics.clone()));
    let keys = state.api_keys.as_ref().map_or(0, |k| k.len());
    let http = state.http;
    tracing::info!(
        addr = ?addr,
        api_keys = keys,
        models = state.embedder.models().count(),
        header_read_timeout = ?http.header_read_timeout,
        body_read_timeout = ?http.body_read_timeout,
        keep_alive = http.keep_alive,
        max_connections = http.max_connections,
        "HTTP API serving"
    );
    let drained = listen::run(listener, router(state), http, shutdown).await;
    upkeep.abort();
    Ok(drained)
}
