//! Hot-swap: watches the codecs directory (notify, debounced) and applies each change through
//! the catalog on a thread of its own, so compiling never runs on the async threads.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use anyhow::Context as _;
use notify::{EventKind, RecursiveMode};
use notify_debouncer_full::{DebounceEventResult, Debouncer, RecommendedCache, new_debouncer};

use super::catalog::Catalog;

/// Quiet time after the last event on a file before it is read. Writers that copy a file in
/// several writes are covered by it; writers that rename a finished file into place (the
/// recommended way) are not even seen half-way.
pub const DEBOUNCE: Duration = Duration::from_millis(100);

/// A running watcher. Dropping it stops watching (a change being applied finishes first).
pub struct WatchHandle {
    debouncer: Option<Debouncer<notify::RecommendedWatcher, RecommendedCache>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for WatchHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchHandle").finish_non_exhaustive()
    }
}

impl WatchHandle {
    /// Stops watching and waits for the change being applied, if any.
    pub fn stop(mut self) {
        self.shutdown(true);
    }

    fn shutdown(&mut self, join: bool) {
        if let Some(debouncer) = self.debouncer.take() {
            // Ends the debouncer thread, which drops the sender: the apply thread then ends.
            debouncer.stop_nonblocking();
        }
        if let Some(thread) = self.thread.take()
            && join
        {
            let _ = thread.join();
        }
    }
}

impl Drop for WatchHandle {
    fn drop(&mut self) {
        self.shutdown(false);
    }
}

impl Catalog {
    /// Watches the codecs directory and applies every change (create, modify, rename, remove)
    /// of a `*.wasm` file in it. Errors when the catalog has no directory or it cannot be
    /// watched.
    pub fn watch(self: &Arc<Self>) -> anyhow::Result<WatchHandle> {
        let dir = self
            .dir()
            .context("no codecs directory to watch")?
            .to_path_buf();
        let (tx, rx) = mpsc::channel::<DebounceEventResult>();
        let mut debouncer =
            new_debouncer(DEBOUNCE, None, tx).context("starting the codecs directory watcher")?;
        debouncer
            .watch(&dir, RecursiveMode::NonRecursive)
            .with_context(|| format!("watching the codecs directory {}", dir.display()))?;
        let catalog = self.clone();
        let thread = std::thread::Builder::new()
            .name("codec-watcher".into())
            .spawn(move || {
                for result in rx {
                    catalog.apply_events(result);
                }
            })
            .context("starting the codec watcher thread")?;
        tracing::info!(dir = %dir.display(), "watching the codecs directory for changes");
        Ok(WatchHandle {
            debouncer: Some(debouncer),
            thread: Some(thread),
        })
    }

    fn apply_events(&self, result: DebounceEventResult) {
        let events = match result {
            Ok(events) => events,
            Err(errors) => {
                for error in errors {
                    tracing::error!("codecs directory watcher: {error}");
                }
                // Events may have been lost: look at everything again.
                self.rescan();
                return;
            }
        };
        let mut paths = BTreeSet::<PathBuf>::new();
        let mut rescan = false;
        for event in &events {
            if event.need_rescan() {
                rescan = true;
            }
            if matches!(event.kind, EventKind::Access(_)) {
                continue;
            }
            paths.extend(event.paths.iter().cloned());
        }
        if rescan {
            tracing::warn!("the OS dropped codecs directory events; rescanning");
            self.rescan();
            return;
        }
        // Each path's current state decides: present → (re)load, gone → remove. Renames name
        // both ends, so a file renamed into place loads and one renamed away is removed.
        for path in paths {
            let outcome = self.reload_file(&path);
            tracing::debug!(path = %path.display(), ?outcome, "codec file event applied");
        }
    }
}
