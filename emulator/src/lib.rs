//! bedrock-emulator: a local Amazon Bedrock Runtime for offline runs and tests.
//!
//! It speaks the real wire — `POST /model/{modelId}/invoke`, restJson1, SigV4 (service
//! `bedrock`) — so the AWS SDKs work against it unchanged, and answers the embedding models
//! (Titan text v1/v2, Titan image v1, Cohere v3/v4, Nova 2 multimodal) with deterministic
//! vectors that carry meaning ([`embed`]). Faults (throttling, 5xx, resets, latency) are
//! injected on demand, a tokens-per-minute quota throttles as Bedrock's does
//! ([`Config::tokens_per_minute`]), and `/_emulator/stats` shows what a rate limiter or a concurrency cap
//! did from the outside.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let emulator = bedrock_emulator::spawn(bedrock_emulator::Config::default()).await?;
//! println!("{}", emulator.endpoint_url()); // http://127.0.0.1:PORT
//! // ... point an aws-sdk-bedrockruntime client at it with emulator.access_key_id() ...
//! let stats = emulator.stats();
//! emulator.shutdown().await;
//! # Ok(()) }
//! ```

mod auth;
pub mod config;
mod conn;
pub mod credentials;
pub mod error;
pub mod faults;
pub mod model_id;
pub mod models;
mod server;
pub mod sigv4;
pub mod stats;
pub mod token_quota;
pub mod vectors;

pub use config::{
    Config, Credential, DEFAULT_ACCESS_KEY_ID, DEFAULT_ACCOUNT_ID, DEFAULT_PORT, DEFAULT_REGION,
    DEFAULT_SECRET_ACCESS_KEY, DEFAULT_SEED,
};
pub use credentials::{CredentialCall, CredentialEndpoints, ECS_PATH, IssuedBy, IssuedCredentials};
pub use error::{ApiError, ErrorCode};
pub use faults::{FaultConfig, FaultSettings};
pub use model_id::{ApplicationProfiles, ModelKind, ResolvedModel};
pub use stats::{CallRecord, ModelStats, RequestRecord, SecondStats, StatsSnapshot};
pub use vectors::{cosine, embed, embed_as, token_count};

use anyhow::Context as _;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// How long [`Emulator::shutdown`] waits for calls in flight before dropping them.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// A running emulator. Dropping it stops the server (without waiting).
#[derive(Debug)]
pub struct Emulator {
    addr: SocketAddr,
    state: Arc<server::AppState>,
    shutdown_tx: watch::Sender<bool>,
    task: Option<JoinHandle<()>>,
}

/// Binds `config.listen` and serves in a tokio task.
pub async fn spawn(config: Config) -> anyhow::Result<Emulator> {
    config.validate()?;
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let state = Arc::new(server::AppState::new(config));
    let app =
        server::router(state.clone()).into_make_service_with_connect_info::<conn::ConnControl>();
    let (shutdown_tx, mut shutdown_rx) = watch::channel(false);
    let listener = conn::ResettableListener::new(listener);
    let task = tokio::spawn(async move {
        let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
            let _ = shutdown_rx.wait_for(|stop| *stop).await;
        });
        if let Err(e) = serve.await {
            tracing::error!(error = %e, "emulator server failed");
        }
    });
    tracing::info!(%addr, "bedrock-emulator listening");
    Ok(Emulator {
        addr,
        state,
        shutdown_tx,
        task: Some(task),
    })
}

impl Emulator {
    /// `http://127.0.0.1:PORT`, for `endpoint_url` / `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configuration it runs with (faults as at start; see [`Emulator::faults`]).
    pub fn config(&self) -> &Config {
        &self.state.config
    }

    /// Access key id of the first accepted credentials.
    pub fn access_key_id(&self) -> &str {
        self.state
            .config
            .credentials
            .first()
            .map(|c| c.access_key_id.as_str())
            .unwrap_or_default()
    }

    /// Secret access key of the first accepted credentials.
    pub fn secret_access_key(&self) -> &str {
        self.state
            .config
            .credentials
            .first()
            .map(|c| c.secret_access_key.as_str())
            .unwrap_or_default()
    }

    /// Session token required with the first accepted credentials, if any.
    pub fn session_token(&self) -> Option<&str> {
        self.state
            .config
            .credentials
            .first()
            .and_then(|c| c.session_token.as_deref())
    }

    /// `AWS_CONTAINER_CREDENTIALS_FULL_URI` of the emulated container credentials endpoint.
    pub fn ecs_credentials_url(&self) -> String {
        format!("http://{}{}", self.addr, credentials::ECS_PATH)
    }

    /// Session credentials issued by the credential endpoints so far (oldest first).
    pub fn issued_credentials(&self) -> Vec<IssuedCredentials> {
        self.state.credentials.issued()
    }

    /// Requests to the credential endpoints so far (oldest first).
    pub fn credential_calls(&self) -> Vec<CredentialCall> {
        self.state.credentials.calls()
    }

    /// A copy of the stats.
    pub fn stats(&self) -> StatsSnapshot {
        self.state.stats.snapshot()
    }

    /// The last received invocations (oldest first).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state.stats.requests()
    }

    /// Clears stats, the request log, the fault sequence and the token-quota windows (fault
    /// settings stay).
    pub fn reset(&self) {
        self.state.reset();
    }

    /// The fault settings in force.
    pub fn faults(&self) -> FaultSettings {
        self.state.fault_settings()
    }

    /// Replaces all fault settings.
    pub fn set_faults(&self, settings: FaultSettings) -> Result<(), faults::FaultConfigError> {
        settings.validate()?;
        self.state.set_fault_settings(settings);
        Ok(())
    }

    /// Replaces the faults of every model without its own entry.
    pub fn set_default_faults(&self, faults: FaultConfig) -> Result<(), faults::FaultConfigError> {
        let mut s = self.faults();
        s.default = faults;
        self.set_faults(s)
    }

    /// Sets the faults of one model (id as sent, or its foundation-model id).
    pub fn set_model_faults(
        &self,
        model: impl Into<String>,
        faults: FaultConfig,
    ) -> Result<(), faults::FaultConfigError> {
        let mut s = self.faults();
        s.models.insert(model.into(), faults);
        self.set_faults(s)
    }

    /// Removes a model's own faults (it falls back to the default).
    pub fn clear_model_faults(&self, model: &str) {
        let mut s = self.faults();
        s.models.remove(model);
        self.state.set_fault_settings(s);
    }

    /// Stops accepting, lets calls in flight finish (up to 5 s), then stops.
    pub async fn shutdown(mut self) {
        let _ = self.shutdown_tx.send(true);
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(SHUTDOWN_GRACE, &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }

    /// Waits until the server task ends (after a shutdown signal).
    pub async fn wait(mut self) {
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }

    /// A handle that triggers shutdown from elsewhere (e.g. a signal handler).
    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.shutdown_tx.clone())
    }
}

/// Triggers a graceful shutdown of an [`Emulator`].
#[derive(Clone, Debug)]
pub struct ShutdownHandle(watch::Sender<bool>);

impl ShutdownHandle {
    pub fn shutdown(&self) {
        let _ = self.0.send(true);
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.shutdown_tx.send(true);
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}
