//! `bedrock-embed run`: load everything, then serve the OpenAI-compatible API until SIGINT or
//! SIGTERM; then close idle and stalled connections at once and give requests in flight
//! `runtime.http.shutdown_timeout`. Exit status 0 when they all finished, 1 when the drain
//! gave up (the last log line says which).

use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context as _;

use super::setup::{self, SetupArgs};
use super::signal::shutdown_signal;
use crate::server::listen::{connections_within, raise_fd_limit};
use crate::server::{self, AppState, ErrorDetail};

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
            tokens_per_min_limit = ?limits.tokens_per_min_limit,
            tokens_per_day_limit = ?limits.tokens_per_day_limit,
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
    let mut serving = setup.spicepod.runtime.http;
    // Offline mode serves the emulator on this machine: the whole error is the useful one.
    let offline = args.offline.is_some();
    serving.error_detail = serving
        .error_detail
        .or(offline.then_some(ErrorDetail::Full));
    let fd_limit = raise_fd_limit();
    let (max_connections, lowered) = connections_within(serving.max_connections, fd_limit);
    if lowered {
        tracing::warn!(
            "runtime.http.max_connections {} is more than this process may open (open-files \
             limit {}); serving at most {max_connections} connections: raise `ulimit -n` (or \
             LimitNOFILE=) to allow more",
            serving.max_connections,
            fd_limit.unwrap_or_default()
        );
    }
    serving.max_connections = max_connections;
    let state = AppState::new(embedder)
        .with_api_keys(api_keys)
        .with_catalog(setup.catalog.clone())
        .with_http(serving);
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
        "{signal}: closing idle connections, finishing requests in flight (up to {} s)",
        serving.shutdown_timeout.as_secs_f64()
    );
    let _ = signal_tx.send(());
    let drained = server.await.context("the HTTP server task failed")??;
    if drained.complete {
        tracing::info!(
            connections = drained.open_at_signal,
            "shutdown complete: every request in flight finished"
        );
        Ok(())
    } else {
        anyhow::bail!(
            "shutdown drain timed out after {} s with {} of {} connection(s) still busy; \
             their requests were cut off (raise runtime.http.shutdown_timeout to wait longer)",
            serving.shutdown_timeout.as_secs_f64(),
            drained.left,
            drained.open_at_signal
        )
    }
}
