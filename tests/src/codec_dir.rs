//! A codecs directory for tests: codec files put in place the way a user should (written
//! beside, renamed into place), the test and example guests, and a real HTTP server over an
//! embedder whose codecs come from a [`Catalog`].

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use bedrock_embed::codec::{self, Catalog, CodecListing, Sandbox, SandboxLimits};
use bedrock_embed::embedder::Embedder;
use bedrock_embed::server::{self, AppState};
use tokio::sync::oneshot;

/// The workspace root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace root")
        .to_path_buf()
}

/// A test guest or the template, as built by tests/guest-artifacts (`test_misbehave`,
/// `codec_template`, ...).
pub fn guest_wasm(name: &str) -> Vec<u8> {
    let path = bedrock_embed_guest_artifacts::wasm_path(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The bytes of the built-in codec `name` (`titan_codec`, `cohere_codec`), as the host embeds it.
pub fn builtin_wasm(name: &str) -> Vec<u8> {
    let file = format!("{name}.wasm");
    codec::builtin::BUILTIN
        .iter()
        .find(|(f, _)| *f == file)
        .map(|(_, bytes)| bytes.to_vec())
        .unwrap_or_else(|| panic!("{file} is not a built-in codec"))
}

/// Writes `bytes` as `dir/name` atomically: a hidden temporary file beside it, renamed into
/// place, so the watcher never sees half a file.
pub fn install(dir: &Path, name: &str, bytes: &[u8]) {
    let tmp = dir.join(format!(".{name}.tmp"));
    std::fs::write(&tmp, bytes).expect("write temporary codec file");
    std::fs::rename(&tmp, dir.join(name)).expect("rename codec file into place");
}

/// A sandbox with a short CPU deadline (hostile guests are stopped quickly) and, when given,
/// the compiled-codec cache.
pub fn sandbox(cache: Option<&Path>) -> Sandbox {
    sandbox_with(Duration::from_millis(500), cache)
}

/// [`sandbox`] with another CPU deadline per call.
pub fn sandbox_with(call_timeout: Duration, cache: Option<&Path>) -> Sandbox {
    let limits = SandboxLimits {
        call_timeout,
        ..SandboxLimits::default()
    };
    Sandbox::with_cache(limits, cache).expect("sandbox")
}

/// The listing row of the codec file `name` in `catalog`.
pub fn row(catalog: &Catalog, name: &str) -> Option<CodecListing> {
    catalog
        .listing()
        .into_iter()
        .find(|c| !c.builtin && c.source.ends_with(&format!("/{name}")))
}

/// Polls `cond` every millisecond until it holds or `timeout` passes; the time it took.
pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if cond() {
            return Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    None
}

/// A compiled-codec cache that lives as long as the target directory, so the big Python
/// component is compiled once per machine rather than once per test run.
pub fn shared_cache() -> PathBuf {
    let dir = repo_root().join("target").join("test-codec-cache");
    std::fs::create_dir_all(&dir).expect("create target/test-codec-cache");
    dir
}

/// Builds `examples/codecs/nova-rust` (a standalone crate made with `just new-codec`) for
/// wasm32-wasip2, sharing the guests' target directory, and returns the component's bytes.
pub fn nova_wasm() -> Vec<u8> {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let path = BUILT.get_or_init(|| {
        let root = repo_root();
        let target = root.join("target").join("wasm-guests");
        let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
            .args([
                "build",
                "--quiet",
                "--release",
                "--target",
                "wasm32-wasip2",
                "--manifest-path",
            ])
            .arg(root.join("examples/codecs/nova-rust/Cargo.toml"))
            .arg("--target-dir")
            .arg(&target)
            .env_remove("CARGO_TARGET_DIR")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .status()
            .expect("run cargo for examples/codecs/nova-rust");
        assert!(
            status.success(),
            "building examples/codecs/nova-rust failed"
        );
        target.join("wasm32-wasip2/release/nova_codec.wasm")
    });
    std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The Python codec (`examples/codecs/python-cohere`, componentize-py). tests/run.sh builds it
/// first; when it is missing or older than app.py it is built here (build.sh installs
/// componentize-py from PyPI into .venv).
pub fn python_cohere_wasm() -> Vec<u8> {
    static BUILT: Mutex<Option<PathBuf>> = Mutex::new(None);
    let mut built = BUILT.lock().unwrap_or_else(|p| p.into_inner());
    let root = repo_root();
    let example = root.join("examples/codecs/python-cohere");
    let out = std::env::var_os("BEDROCK_EMBED_PY_CODEC")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/python-codecs/cohere_v4_py.wasm"));
    if built.is_none() {
        let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
        let stale = match (modified(&out), modified(&example.join("app.py"))) {
            (Some(wasm), Some(app)) => wasm < app,
            _ => true,
        };
        if stale {
            let status = Command::new(example.join("build.sh"))
                .arg(&out)
                .status()
                .expect("run examples/codecs/python-cohere/build.sh");
            assert!(
                status.success(),
                "building the Python codec failed (see above)"
            );
        }
        *built = Some(out.clone());
    }
    std::fs::read(&out).unwrap_or_else(|e| panic!("{}: {e}", out.display()))
}

/// The HTTP API over `embedder` on an ephemeral loopback port.
pub struct Served {
    pub base: String,
    pub http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<anyhow::Result<server::Drained>>,
}

impl Served {
    pub async fn start(embedder: Arc<Embedder>) -> Self {
        Self::start_with(embedder, server::HttpConfig::default()).await
    }

    /// With `http` as `runtime.http` (e.g. `error_detail: full`).
    pub async fn start_with(embedder: Arc<Embedder>, http: server::HttpConfig) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let state = AppState::new(embedder).with_http(http);
        state.set_ready(true);
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(server::serve(listener, state, async move {
            let _ = rx.await;
        }));
        Self {
            base,
            http: reqwest::Client::new(),
            stop: Some(tx),
            task,
        }
    }

    /// `POST /v1/embeddings`: the status and the JSON body.
    pub async fn embed(&self, model: &str, input: serde_json::Value) -> (u16, serde_json::Value) {
        let response = self
            .http
            .post(format!("{}/v1/embeddings", self.base))
            .json(&serde_json::json!({"model": model, "input": input}))
            .send()
            .await
            .expect("request sent");
        let status = response.status().as_u16();
        let body = response.json().await.unwrap_or(serde_json::Value::Null);
        (status, body)
    }

    pub async fn stop(mut self) {
        if let Some(tx) = self.stop.take() {
            let _ = tx.send(());
        }
        let _ = tokio::time::timeout(Duration::from_secs(10), self.task).await;
    }
}

/// The vectors of an OpenAI embeddings response.
pub fn vectors(body: &serde_json::Value) -> Vec<Vec<f32>> {
    body["data"]
        .as_array()
        .map(|data| {
            data.iter()
                .map(|d| {
                    d["embedding"]
                        .as_array()
                        .map(|v| {
                            v.iter()
                                .map(|x| x.as_f64().unwrap_or(f64::NAN) as f32)
                                .collect()
                        })
                        .unwrap_or_default()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Parses the spicepod (`secrets` for its `${ secrets:X }`), builds its models against the
/// catalog's live registry, tells the catalog about them (so codec changes are re-checked),
/// and returns an embedder that routes through the same registry.
pub async fn embedder_over(
    catalog: &Catalog,
    text: &str,
    secrets: &std::collections::HashMap<String, String>,
) -> Result<Embedder, bedrock_embed::models::ModelsError> {
    use bedrock_embed::models::{self, BuildOptions};
    let pod = bedrock_embed::spicepod::Spicepod::parse(text, Path::new("spicepod.yaml"), secrets)
        .unwrap_or_else(|e| panic!("test spicepod is valid: {e}"));
    let options = BuildOptions {
        check_credentials: true,
        ..BuildOptions::default()
    };
    let registry = catalog.registry().load_full();
    let (models, _warnings) = models::build(&pod.spicepod, &registry, &options).await?;
    catalog.set_models(bedrock_embed::commands::setup::model_uses(&models));
    Ok(Embedder::new(models, catalog.registry()))
}

/// Loads a catalog (built-ins + `dir`) off the async threads.
pub async fn load_catalog(sandbox: Sandbox, dir: &Path) -> Arc<Catalog> {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || Catalog::load(&sandbox, Some(&dir)))
        .await
        .expect("catalog task")
        .map(Arc::new)
        .expect("catalog loads")
}
