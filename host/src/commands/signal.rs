//! The one place the process watches for SIGINT (Ctrl-C) and SIGTERM: `run` drains on it,
//! the bulk `embed` job stops at a line boundary on it.

/// Resolves on SIGINT or SIGTERM, naming which. Where a signal cannot be watched, only the
/// other one ends the wait (and if neither can, it never resolves).
pub async fn shutdown_signal() -> &'static str {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                term.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => "SIGINT",
        () = terminate => "SIGTERM",
    }
}
