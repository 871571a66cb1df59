//! The load path every command shares: spicepod → codecs → models. Every problem is reported,
//! not just the first.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use arc_swap::ArcSwap;

use crate::codec::directory::LoadFailure;
use crate::codec::{self, Registry, Sandbox, SandboxLimits};
use crate::models::{self, BuildOptions, Model, OfflineTarget};
use crate::spicepod::Spicepod;

/// What to load.
#[derive(Debug, Clone)]
pub struct SetupArgs {
    pub spicepod: PathBuf,
    pub codecs_dir: Option<PathBuf>,
    pub offline: Option<OfflineTarget>,
    /// Resolve every model's credentials now (no Bedrock call).
    pub check_credentials: bool,
}

/// Everything loaded, ready to serve.
pub struct Setup {
    pub spicepod: Spicepod,
    pub sandbox: Sandbox,
    pub codecs: Arc<ArcSwap<Registry>>,
    /// Codec files in the codecs directory that did not load (logged; shown by `codecs`).
    pub codec_failures: Vec<LoadFailure>,
    pub models: Vec<Model>,
    pub warnings: Vec<String>,
}

pub async fn load(args: &SetupArgs) -> anyhow::Result<Setup> {
    let loaded = Spicepod::load(&args.spicepod)?;
    let mut warnings = loaded.warnings;
    let spicepod = loaded.spicepod;

    // Compiling codecs is CPU work: keep it off the async threads.
    let dir = args.codecs_dir.clone();
    let (sandbox, registry, codec_failures) = tokio::task::spawn_blocking(move || {
        let sandbox = Sandbox::new(SandboxLimits::default())?;
        let (registry, failures) = codec::load_registry(&sandbox, dir.as_deref())?;
        anyhow::Ok((sandbox, registry, failures))
    })
    .await
    .context("loading codecs")??;

    let options = BuildOptions {
        check_credentials: args.check_credentials,
        offline: args.offline.clone(),
        ..BuildOptions::default()
    };
    let (models, model_warnings) = models::build(&spicepod, &registry, &options).await?;
    warnings.extend(model_warnings);
    Ok(Setup {
        spicepod,
        sandbox,
        codecs: Arc::new(ArcSwap::from_pointee(registry)),
        codec_failures,
        models,
        warnings,
    })
}

/// Starts the Bedrock emulator in-process on an ephemeral loopback port for `--offline`.
pub async fn start_offline_emulator() -> anyhow::Result<(bedrock_emulator::Emulator, OfflineTarget)> {
    let emulator = bedrock_emulator::spawn(bedrock_emulator::Config::new())
        .await
        .context("starting the local Bedrock emulator for --offline")?;
    let target = OfflineTarget {
        endpoint_url: emulator.endpoint_url(),
        access_key_id: emulator.access_key_id().to_string(),
        secret_access_key: emulator.secret_access_key().to_string(),
    };
    tracing::warn!(
        "OFFLINE MODE: every model is served by the local Bedrock emulator at {} — its vectors \
         are deterministic stand-ins (similar texts give similar vectors), not real Bedrock \
         embeddings, and AWS is never called",
        target.endpoint_url
    );
    Ok((emulator, target))
}

/// `--spicepod` default: ./spicepod.yaml.
pub fn spicepod_path(flag: Option<&Path>) -> PathBuf {
    flag.map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("spicepod.yaml"))
}
