//! The accept loop and the connections: hyper's HTTP/1 server with the router as a tower
//! service, so every connection has hyper's own deadlines, and a cap on open connections.
//!
//! - **Header deadline** — hyper's `header_read_timeout`. hyper starts it whenever the
//!   connection waits for a request head: right after accept, and after each response on a
//!   keep-alive connection. So it is also the keep-alive idle limit (hyper has one timer for
//!   both).
//! - **Body deadline** — the embeddings route reads its body within
//!   [`HttpConfig::body_read_timeout`] (the whole body, not per chunk), else 408.
//! - **Connection cap** — a semaphore permit is taken *before* `accept`, so past
//!   [`HttpConfig::max_connections`] new connections wait in the kernel's listen backlog instead
//!   of costing a file descriptor; accept errors (EMFILE, ENFILE, ENOBUFS) back off instead of
//!   spinning.
//! - **Shutdown** — the listener closes; every connection gets hyper's `graceful_shutdown`
//!   (idle ones close at once, a request in flight finishes and its connection then closes);
//!   a connection with no request in flight (a stalled or half-sent head) is dropped after
//!   [`FLUSH_GRACE`]. In-flight requests get [`HttpConfig::shutdown_timeout`]; [`Drained`] says
//!   whether they all made it.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tower::ServiceExt as _;

use super::error::ErrorDetail;

/// After a shutdown signal, how long a connection with no request in flight may take to
/// finish writing what it has before it is dropped (a stalled head never finishes).
pub const FLUSH_GRACE: Duration = Duration::from_millis(500);

/// Longest pause after a failed `accept`.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_secs(1);

/// The serving settings (`runtime.http` in spicepod.yaml; defaults in [`HttpConfig::default`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HttpConfig {
    /// The longest a connection may go without a complete request head (from accept, and from
    /// the end of the previous response on a keep-alive connection).
    pub header_read_timeout: Duration,
    /// Keep connections open between requests (HTTP/1.1 keep-alive).
    pub keep_alive: bool,
    /// The longest the whole request body may take to arrive.
    pub body_read_timeout: Duration,
    /// Open connections at most; past it new ones wait in the listen backlog.
    pub max_connections: usize,
    /// How long requests in flight may take to finish after SIGTERM/SIGINT.
    pub shutdown_timeout: Duration,
    /// How much of an error the client sees; `None`: [`ErrorDetail::Client`], or
    /// [`ErrorDetail::Full`] for `run --offline`.
    pub error_detail: Option<ErrorDetail>,
}

/// Defaults (each explained in README, "Serving as a service").
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(75);
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
pub const DEFAULT_MAX_CONNECTIONS: usize = 16_384;
pub const DEFAULT_SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(25);

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            keep_alive: true,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            shutdown_timeout: DEFAULT_SHUTDOWN_TIMEOUT,
            error_detail: None,
        }
    }
}

/// How the drain after a shutdown signal ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Drained {
    /// Every connection closed within the shutdown timeout.
    pub complete: bool,
    /// Connections open when the signal came.
    pub open_at_signal: usize,
    /// Connections still open when the drain gave up (0 when complete).
    pub left: usize,
}

/// Requests of one connection that are in the router right now.
#[derive(Debug, Default)]
struct InFlight(AtomicUsize);

struct InFlightGuard(Arc<InFlight>);

impl InFlight {
    fn enter(self: &Arc<Self>) -> InFlightGuard {
        self.0.fetch_add(1, Ordering::AcqRel);
        InFlightGuard(self.clone())
    }

    fn get(&self) -> usize {
        self.0.load(Ordering::Acquire)
    }
}

impl Drop for InFlightGuard {
    fn drop(&mut self) {
        self.0.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Accepts on `listener` and serves `app` until `shutdown` resolves, then drains.
pub async fn run(
    listener: TcpListener,
    app: Router,
    config: HttpConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Drained {
    let stop = CancellationToken::new();
    let on_signal = stop.clone();
    let signal = tokio::spawn(async move {
        shutdown.await;
        on_signal.cancel();
    });
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(config.header_read_timeout)
        .keep_alive(config.keep_alive);
    let http = Arc::new(http);
    let slots = Arc::new(Semaphore::new(config.max_connections.max(1)));
    let connections = TaskTracker::new();
    let mut backoff = Duration::ZERO;
    loop {
        // The permit first: past the cap, nothing is accepted (no fd is spent).
        let permit = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            permit = slots.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            biased;
            () = stop.cancelled() => break,
            accepted = listener.accept() => accepted,
        };
        match stream {
            Ok((stream, _peer)) => {
                backoff = Duration::ZERO;
                let _ = stream.set_nodelay(true);
                connections.spawn(connection(
                    stream,
                    http.clone(),
                    app.clone(),
                    stop.clone(),
                    permit,
                ));
            }
            Err(err) => {
                drop(permit);
                // EMFILE/ENFILE (out of descriptors), ENOBUFS/ENOMEM: retrying at once would
                // spin. Back off, doubling up to a second, and say so once per burst.
                if backoff.is_zero() {
                    tracing::warn!(
                        open = connections.len(),
                        "accept failed: {err}; backing off"
                    );
                }
                metrics::counter!("bedrock_embed_accept_errors_total").increment(1);
                backoff = (backoff * 2).clamp(Duration::from_millis(10), MAX_ACCEPT_BACKOFF);
                tokio::select! {
                    () = stop.cancelled() => break,
                    () = tokio::time::sleep(backoff) => {}
                }
            }
        }
    }
    drop(listener);
    signal.abort();
    let open_at_signal = connections.len();
    connections.close();
    let complete = tokio::time::timeout(config.shutdown_timeout, connections.wait())
        .await
        .is_ok();
    Drained {
        complete,
        open_at_signal,
        left: if complete { 0 } else { connections.len() },
    }
}

/// Serves one connection; see the module docs for what happens on shutdown.
async fn connection(
    stream: TcpStream,
    http: Arc<http1::Builder>,
    app: Router,
    stop: CancellationToken,
    _permit: OwnedSemaphorePermit,
) {
    let in_flight = Arc::new(InFlight::default());
    let counted = in_flight.clone();
    let service = tower::service_fn(move |request: Request<hyper::body::Incoming>| {
        let guard = counted.enter();
        let app = app.clone();
        async move {
            let response = app.oneshot(request.map(axum::body::Body::new)).await;
            drop(guard);
            response
        }
    });
    let conn = http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
    tokio::pin!(conn);
    tokio::select! {
        result = conn.as_mut() => {
            if let Err(err) = result {
                tracing::debug!("connection ended: {err}");
            }
            return;
        }
        () = stop.cancelled() => {}
    }
    conn.as_mut().graceful_shutdown();
    if in_flight.get() == 0 {
        // Idle: hyper closes it at once. A half-sent head would wait for the header deadline:
        // give a response being flushed a moment, then drop the connection.
        match tokio::time::timeout(FLUSH_GRACE, conn.as_mut()).await {
            Ok(_) => return,
            Err(_) if in_flight.get() == 0 => return,
            Err(_) => {}
        }
    }
    // A request in flight: it finishes (the drain deadline bounds it), then hyper closes.
    let _ = conn.await;
}

/// Raises this process's soft open-files limit to the hard one (as Go's runtime does), and
/// returns the soft limit now in force (`None` where there is none to read).
pub fn raise_fd_limit() -> Option<u64> {
    #[cfg(unix)]
    {
        let _ = rlimit::increase_nofile_limit(u64::MAX);
        rlimit::Resource::NOFILE.get().ok().map(|(soft, _)| soft)
    }
    #[cfg(not(unix))]
    {
        None
    }
}

/// File descriptors kept free of connections: the listener, codec files and their watcher,
/// the AWS connection pool, logs.
pub const FD_RESERVE: u64 = 256;

/// `max_connections` capped so connections alone can never exhaust `fd_limit`; the second
/// value is true when it had to be lowered.
pub fn connections_within(max_connections: usize, fd_limit: Option<u64>) -> (usize, bool) {
    match fd_limit {
        Some(limit) => {
            let room =
                usize::try_from(limit.saturating_sub(FD_RESERVE).max(1)).unwrap_or(usize::MAX);
            if max_connections > room {
                (room, true)
            } else {
                (max_connections, false)
            }
        }
        None => (max_connections, false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cap_leaves_room_for_the_process_own_files() {
        assert_eq!(connections_within(16_384, Some(20_000)), (16_384, false));
        assert_eq!(connections_within(16_384, Some(1_024)), (768, true));
        assert_eq!(connections_within(100, Some(10)), (1, true));
        assert_eq!(connections_within(100, None), (100, false));
    }
}
