//! `bedrock-embed run`: load everything, then serve the OpenAI-compatible API until SIGINT or
//! SIGTERM, finishing in-flight requests (bounded) before exiting.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;

use super::setup::{self, SetupArgs};
use crate::server::{self, AppState};

/// How long in-flight requests may take to finish after a shutdown signal.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

pub async fn run(args: SetupArgs, http: SocketAddr) -> anyhow::Result<()> {
    let mut setup = setup::load(&args).await?;
    for warning in &setup.warnings {
        tracing::warn!("{warning}");
    }
    for failure in &setup.catalog.failures() {
        tracing::error!(
            "codec file {} was not loaded: {}",
            failure.path.display(),
            failure.reason
        );
    }
    for model in &setup.models {
        let limits = model.limiter.limits();
        tracing::info!(
            model = %model.name,
            model_id = %model.model_id,
            codec = %model.codec_at_load,
            region = %model.aws.region,
            endpoint = %model.aws.endpoint_display(),
            credentials = %model.aws.credentials_source,
            max_concurrent_invocations = limits.max_concurrent_invocations,
            requests_per_min_limit = limits.requests_per_min_limit,
            limiter_max_wait = %humantime::format_duration(limits.max_wait),
            shared_limiter = model.limiter.is_shared(),
            "model loaded"
        );
    }

    // Hot-swap: watch the codecs directory for as long as we serve (dropping the handle stops it).
    let _watch = match setup.catalog.dir() {
        Some(dir) => match setup.catalog.watch() {
            Ok(handle) => {
                tracing::info!("watching {} for codec changes", dir.display());
                Some(handle)
            }
            Err(err) => {
                tracing::error!(
                    "hot-swap is off: watching {} failed: {err:#}",
                    dir.display()
                );
                None
            }
        },
        None => None,
    };
    if let Some(cache) = &setup.cache {
        tracing::info!(shared = cache.is_shared(), "embeddings cache on");
    }
    let embedder = Arc::new(setup.embedder());
    let api_keys = setup
        .spicepod
        .runtime
        .auth
        .as_ref()
        .map_or(&[][..], |auth| &auth.keys[..]);
    let state = AppState::new(embedder)
        .with_api_keys(api_keys)
        .with_catalog(setup.catalog.clone());
    let listener = tokio::net::TcpListener::bind(http).await.with_context(|| {
        format!("cannot listen on {http}: is another process using it? Pass --http ADDR")
    })?;
    let addr = listener.local_addr().context("reading the bound address")?;
    state.set_ready(true);
    tracing::info!(
        "serving {} model(s) on http://{addr}",
        setup.spicepod.embeddings.len()
    );
    // Scripts wait for this line (stdout, one line) to know the server is ready.
    println!("bedrock-embed listening on http://{addr}");

    let (signal_tx, signal_rx) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(server::serve(listener, state, async move {
        let _ = signal_rx.await;
    }));
    let signal = shutdown_signal().await;
    tracing::info!(
        "{signal}: finishing in-flight requests (up to {} s), then exiting",
        SHUTDOWN_GRACE.as_secs()
    );
    let _ = signal_tx.send(());
    match tokio::time::timeout(SHUTDOWN_GRACE, server).await {
        Ok(joined) => joined.context("the HTTP server task failed")??,
        Err(_) => tracing::warn!(
            "in-flight requests did not finish within {} s; exiting anyway",
            SHUTDOWN_GRACE.as_secs()
        ),
    }
    Ok(())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM, naming which.
async fn shutdown_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = term.recv() => "SIGTERM",
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
                "SIGINT"
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
        "Ctrl-C"
    }
}
