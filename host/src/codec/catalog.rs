//! The codec catalog: the built-in codecs, every codec file of the codecs directory with its
//! state (hash, when it loaded, the last error), and the routing table requests read.
//!
//! Every change goes through one pipeline ([`Catalog::reload_file`], [`Catalog::remove_file`]):
//! read the whole file, hash it (same hash: nothing to do), compile off the async threads
//! (through the compiled-codec cache), pre-instantiate, call `info` and a smoke `encode` on
//! throwaway stores, check prefix conflicts, re-`check` the params of every model whose codec
//! would change, then store the new [`Registry`] in the shared `ArcSwap` in one step. A request
//! holds the `Arc<Codec>` it routed to, so requests in flight finish on the codec they started
//! with and new ones use the new table. A file that fails any step changes nothing: the codec
//! it had (if any) keeps serving and the error is logged and kept for the listings.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Instant, SystemTime};

use anyhow::Context as _;
use arc_swap::ArcSwap;
use sha2::{Digest, Sha256};

use super::bindings::{Param, RequestOptions};
use super::builtin;
use super::directory::{self, LoadFailure};
use super::error::CodecError;
use super::listing::{CodecListing, listing_of, rfc3339};
use super::loaded::{Codec, CodecSource};
use super::registry::{Registry, Removed};
use super::sandbox::Sandbox;

/// A served model as the catalog needs to know it: which codec it routes to and the params
/// that codec must accept. Given by the caller ([`Catalog::set_models`]) so the catalog does
/// not depend on how models are built.
#[derive(Debug, Clone)]
pub struct ModelUse {
    pub name: String,
    pub model_id: String,
    /// `params.codec`, when the model is pinned to a codec by name.
    pub pinned: Option<String>,
    pub params: Arc<[Param]>,
}

/// What became of one file event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The file's codec now serves.
    Loaded { name: String, sha256: String },
    /// Same bytes as before: nothing to do.
    Unchanged,
    /// The file was refused; nothing changed.
    Failed(String),
    /// The file is gone and its codec no longer serves.
    Removed { name: Option<String> },
    /// Not a codec file of this directory (ignored).
    Ignored,
}

/// The codecs, their files and the live routing table.
pub struct Catalog {
    sandbox: Sandbox,
    dir: Option<PathBuf>,
    builtins: Vec<Arc<Codec>>,
    started: SystemTime,
    registry: Arc<ArcSwap<Registry>>,
    /// Serializes changes (a load can take a while; listings do not wait for it).
    apply: Mutex<()>,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// By file name, in name order (the load order, so conflict messages are stable).
    files: BTreeMap<OsString, FileState>,
    removed: Vec<Removed>,
    models: Vec<ModelUse>,
}

#[derive(Default, Clone)]
struct FileState {
    codec: Option<Arc<Codec>>,
    loaded_at: Option<SystemTime>,
    /// The hash of the bytes last tried, loaded or not: the same bytes are not tried again.
    tried_sha256: Option<String>,
    last_error: Option<(String, SystemTime)>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog")
            .field("dir", &self.dir)
            .field("builtins", &self.builtins.len())
            .finish_non_exhaustive()
    }
}

impl Catalog {
    /// Loads the built-in codecs and every `*.wasm` in `dir`. A file that fails is recorded
    /// (see [`Catalog::failures`]), never fatal; a missing or unreadable `dir` is an error.
    /// CPU-heavy: call it off the async threads.
    pub fn load(sandbox: &Sandbox, dir: Option<&Path>) -> anyhow::Result<Self> {
        let builtins = builtin::load_all(sandbox)?
            .into_iter()
            .map(Arc::new)
            .collect();
        Self::with_builtins(sandbox, builtins, dir)
    }

    /// Like [`Catalog::load`] with the given codecs standing for the built-ins (tests).
    pub fn with_builtins(
        sandbox: &Sandbox,
        builtins: Vec<Arc<Codec>>,
        dir: Option<&Path>,
    ) -> anyhow::Result<Self> {
        let registry = Registry::new(builtins.clone()).context("the built-in codecs conflict")?;
        let catalog = Self {
            sandbox: sandbox.clone(),
            dir: dir.map(Path::to_path_buf),
            builtins,
            started: SystemTime::now(),
            registry: Arc::new(ArcSwap::from_pointee(registry)),
            apply: Mutex::new(()),
            state: Mutex::new(State::default()),
        };
        if let Some(dir) = dir {
            for path in directory::wasm_files(dir)? {
                catalog.reload_file(&path);
            }
        }
        Ok(catalog)
    }

    /// The routing table requests read (`registry().load().route(..)`); every change is
    /// stored here whole.
    pub fn registry(&self) -> Arc<ArcSwap<Registry>> {
        self.registry.clone()
    }

    pub fn sandbox(&self) -> &Sandbox {
        &self.sandbox
    }

    /// The codecs directory, when there is one.
    pub fn dir(&self) -> Option<&Path> {
        self.dir.as_deref()
    }

    /// The models served, so a codec change is checked against their params before it lands.
    pub fn set_models(&self, models: Vec<ModelUse>) {
        self.state().models = models;
    }

    /// Codec files whose last load failed, with the reason.
    pub fn failures(&self) -> Vec<LoadFailure> {
        let dir = self.dir.clone().unwrap_or_default();
        self.state()
            .files
            .iter()
            .filter_map(|(name, f)| {
                f.last_error.as_ref().map(|(reason, _)| LoadFailure {
                    path: dir.join(name),
                    reason: reason.clone(),
                })
            })
            .collect()
    }

    /// Every codec, built-in first, then the codec files by name (failed ones included).
    pub fn listing(&self) -> Vec<CodecListing> {
        let registry = self.registry.load_full();
        let state = self.state();
        let mut out: Vec<CodecListing> = self
            .builtins
            .iter()
            .map(|c| listing_of(c, &registry, Some(self.started), None))
            .collect();
        let dir = self.dir.clone().unwrap_or_default();
        for (name, file) in &state.files {
            let error = file.last_error.as_ref();
            out.push(match &file.codec {
                Some(codec) => listing_of(codec, &registry, file.loaded_at, error),
                None => CodecListing {
                    name: None,
                    version: None,
                    interface_version: None,
                    model_prefixes: vec![],
                    serves: vec![],
                    source: dir.join(name).display().to_string(),
                    builtin: false,
                    sha256: None,
                    loaded_at: None,
                    last_error: error.map(|(e, _)| e.clone()),
                    last_error_at: error.map(|(_, at)| rfc3339(*at)),
                    params: vec![],
                },
            });
        }
        out
    }

    /// Applies the current content of `path` (a file of the codecs directory): loads it, or,
    /// when it no longer exists, removes its codec.
    pub fn reload_file(&self, path: &Path) -> Outcome {
        let Some(name) = self.file_name(path) else {
            return Outcome::Ignored;
        };
        let path = self.path_of(&name);
        let _apply = lock(&self.apply);
        self.reload_locked(&name, &path)
    }

    fn reload_locked(&self, name: &OsString, path: &Path) -> Outcome {
        let (name, path) = (name.clone(), path.to_path_buf());
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                let outcome = self.remove_locked(&name, &path);
                if matches!(outcome, Outcome::Removed { name: Some(_) }) {
                    self.retry_failed();
                }
                return outcome;
            }
            Err(err) => {
                return self.fail(&name, None, format!("reading {}: {err}", path.display()));
            }
        };
        let sha256 = hex::encode(Sha256::digest(&bytes));
        if self
            .state()
            .files
            .get(&name)
            .and_then(|f| f.tried_sha256.as_deref())
            == Some(&sha256)
        {
            return Outcome::Unchanged;
        }
        let started = Instant::now();
        match self.try_load(&name, &path, &bytes) {
            Ok((codec, registry)) => {
                let codec_name = codec.name().to_string();
                let serving: Vec<&str> = registry
                    .routes()
                    .filter(|(_, c)| Arc::ptr_eq(c, &codec))
                    .map(|(p, _)| p)
                    .collect();
                tracing::info!(
                    codec = %codec_name,
                    version = %codec.info().version,
                    path = %path.display(),
                    sha256 = %&sha256[..12],
                    ms = started.elapsed().as_millis() as u64,
                    "codec loaded; serving {}",
                    serving.join(", ")
                );
                let mut state = self.state();
                state
                    .removed
                    .retain(|r| r.name != codec_name && r.source != path.display().to_string());
                let registry = registry.with_removed(state.removed.clone());
                state.files.insert(
                    name,
                    FileState {
                        codec: Some(codec),
                        loaded_at: Some(SystemTime::now()),
                        tried_sha256: Some(sha256.clone()),
                        last_error: None,
                    },
                );
                self.registry.store(Arc::new(registry));
                Outcome::Loaded {
                    name: codec_name,
                    sha256,
                }
            }
            Err(err) => self.fail(&name, Some(sha256), format!("{err:#}")),
        }
    }

    /// Removes the codec of `path` (a file that was deleted or renamed away).
    pub fn remove_file(&self, path: &Path) -> Outcome {
        let Some(name) = self.file_name(path) else {
            return Outcome::Ignored;
        };
        let path = self.path_of(&name);
        let _apply = lock(&self.apply);
        let outcome = self.remove_locked(&name, &path);
        if matches!(outcome, Outcome::Removed { name: Some(_) }) {
            self.retry_failed();
        }
        outcome
    }

    /// Tries again the files that failed (a removal may have ended their prefix conflict).
    fn retry_failed(&self) {
        let failed: Vec<OsString> = {
            let mut state = self.state();
            state
                .files
                .iter_mut()
                .filter(|(_, f)| f.last_error.is_some())
                .map(|(name, f)| {
                    f.tried_sha256 = None;
                    name.clone()
                })
                .collect()
        };
        for name in failed {
            self.reload_locked(&name, &self.path_of(&name));
        }
    }

    /// Re-reads the whole directory: new and changed files load, missing ones are removed.
    /// The watcher calls it when the OS dropped events.
    pub fn rescan(&self) -> Vec<(PathBuf, Outcome)> {
        let Some(dir) = self.dir.clone() else {
            return vec![];
        };
        let mut paths: Vec<PathBuf> = match directory::wasm_files(&dir) {
            Ok(files) => files,
            Err(err) => {
                tracing::error!("{err:#}");
                vec![]
            }
        };
        for name in self.state().files.keys() {
            let path = dir.join(name);
            if !paths.contains(&path) {
                paths.push(path);
            }
        }
        paths
            .into_iter()
            .map(|p| {
                let outcome = self.reload_file(&p);
                (p, outcome)
            })
            .collect()
    }

    fn remove_locked(&self, name: &OsString, path: &Path) -> Outcome {
        let mut state = self.state();
        let Some(file) = state.files.remove(name) else {
            return Outcome::Ignored;
        };
        let Some(codec) = file.codec else {
            tracing::info!(path = %path.display(), "codec file removed (it had not loaded)");
            return Outcome::Removed { name: None };
        };
        state.removed.retain(|r| r.name != codec.name());
        state.removed.push(Removed {
            name: codec.name().to_string(),
            prefixes: codec.info().model_prefixes.clone(),
            source: path.display().to_string(),
        });
        let codecs = self.codecs_of(&state.files);
        let registry = match Registry::new(codecs) {
            Ok(registry) => registry.with_removed(state.removed.clone()),
            // Removing a codec cannot create a conflict; keep serving if it ever did.
            Err(err) => {
                tracing::error!("removing {}: {err}", path.display());
                return Outcome::Failed(err.to_string());
            }
        };
        for model in &state.models {
            match registry.route(&model.model_id, model.pinned.as_deref()) {
                Ok(route) => {
                    if let Err(err) = route.codec.check(&route.base_model_id, &model.params) {
                        tracing::warn!(model = %model.name, "after removing {}, codec {} refuses the model's params: {err}", path.display(), route.codec.name());
                    }
                }
                Err(err) => {
                    tracing::warn!(model = %model.name, "model has no codec now (requests answer 503): {err}")
                }
            }
        }
        tracing::warn!(codec = %codec.name(), path = %path.display(), "codec file removed; its prefixes fall back to the built-in codecs where one serves them");
        self.registry.store(Arc::new(registry));
        Outcome::Removed {
            name: Some(codec.name().to_string()),
        }
    }

    /// Every step but the swap. Returns the codec and the table it would go live in.
    fn try_load(
        &self,
        name: &OsString,
        path: &Path,
        bytes: &[u8],
    ) -> anyhow::Result<(Arc<Codec>, Registry)> {
        let codec = Arc::new(Codec::load(
            &self.sandbox,
            bytes,
            CodecSource::File(path.to_path_buf()),
        )?);
        let (files, models) = {
            let state = self.state();
            let mut files = state.files.clone();
            files.insert(
                name.clone(),
                FileState {
                    codec: Some(codec.clone()),
                    ..FileState::default()
                },
            );
            (files, state.models.clone())
        };
        let registry = Registry::new(self.codecs_of(&files))
            .map_err(|e| anyhow::anyhow!("loading codec {}: {e}", path.display()))?;
        smoke(&codec, &registry, &models)
            .with_context(|| format!("loading codec {}", path.display()))?;
        recheck_models(&self.registry.load(), &registry, &models).with_context(|| {
            format!(
                "loading codec {} (refused: the models would break)",
                path.display()
            )
        })?;
        Ok((codec, registry))
    }

    fn fail(&self, name: &OsString, sha256: Option<String>, reason: String) -> Outcome {
        let mut state = self.state();
        let file = state.files.entry(name.clone()).or_default();
        let keeps = file
            .codec
            .as_ref()
            .map(|c| format!("; {} {} keeps serving", c.name(), c.info().version));
        tracing::error!("{reason}{}", keeps.unwrap_or_default());
        file.tried_sha256 = sha256;
        file.last_error = Some((reason.clone(), SystemTime::now()));
        Outcome::Failed(reason)
    }

    /// Built-ins first, then files in name order (a file beats a built-in prefix by prefix).
    fn codecs_of(&self, files: &BTreeMap<OsString, FileState>) -> Vec<Arc<Codec>> {
        self.builtins
            .iter()
            .cloned()
            .chain(files.values().filter_map(|f| f.codec.clone()))
            .collect()
    }

    /// The name of a codec file of this catalog's directory (`*.wasm`, not hidden).
    fn file_name(&self, path: &Path) -> Option<OsString> {
        self.dir.as_ref()?;
        let name = path.file_name()?;
        let text = name.to_str()?;
        (text.ends_with(".wasm") && !text.starts_with('.')).then(|| name.to_os_string())
    }

    fn path_of(&self, name: &OsString) -> PathBuf {
        self.dir.clone().unwrap_or_default().join(name)
    }

    fn state(&self) -> MutexGuard<'_, State> {
        lock(&self.state)
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One `encode` on a throwaway instance: the codec must answer (a result or a codec error)
/// without trapping or breaking the contract. Uses a model it would serve when there is one.
fn smoke(codec: &Arc<Codec>, registry: &Registry, models: &[ModelUse]) -> anyhow::Result<()> {
    let served = models.iter().find_map(|m| {
        let route = registry.route(&m.model_id, m.pinned.as_deref()).ok()?;
        Arc::ptr_eq(&route.codec, codec).then(|| (route.base_model_id, m.params.clone()))
    });
    let (model_id, params) = served.unwrap_or_else(|| {
        let prefix = codec
            .info()
            .model_prefixes
            .first()
            .cloned()
            .unwrap_or_default();
        (prefix, Arc::from(Vec::new()))
    });
    let inputs = ["bedrock-embed smoke test".to_string()];
    match codec.encode(
        &model_id,
        &params,
        RequestOptions {
            dimensions: None,
            embedding_type: None,
        },
        &inputs,
    ) {
        Ok(_) => Ok(()),
        Err(err @ (CodecError::Trap { .. } | CodecError::Contract { .. })) => {
            Err(anyhow::anyhow!("its smoke call failed: {err}"))
        }
        // A codec error is an answer: the codec works (the smoke model may just not be one
        // it knows).
        Err(_) => Ok(()),
    }
}

/// Every model whose codec would change must be accepted by its new codec, and no model that
/// has a codec may lose it.
fn recheck_models(old: &Registry, new: &Registry, models: &[ModelUse]) -> anyhow::Result<()> {
    let mut problems = Vec::new();
    for model in models {
        let pinned = model.pinned.as_deref();
        let before = old.route(&model.model_id, pinned).ok();
        match new.route(&model.model_id, pinned) {
            Ok(route) => {
                let same = before
                    .as_ref()
                    .is_some_and(|b| Arc::ptr_eq(&b.codec, &route.codec));
                if !same && let Err(err) = route.codec.check(&route.base_model_id, &model.params) {
                    problems.push(format!(
                        "model {:?} ({}) would move to codec {}, which refuses its params: {err}",
                        model.name,
                        model.model_id,
                        route.codec.name()
                    ));
                }
            }
            Err(err) if before.is_some() => {
                problems.push(format!(
                    "model {:?} would lose its codec: {err}",
                    model.name
                ));
            }
            Err(_) => {}
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        anyhow::bail!("{}", problems.join("; "))
    }
}
