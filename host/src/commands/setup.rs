//! The load path every command shares: spicepod → codecs → models. Every problem is reported,
//! not just the first.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;

use crate::cache::EmbeddingCache;
use crate::codec::{Catalog, ModelUse, Sandbox, SandboxLimits, cache};
use crate::embedder::Embedder;
use crate::models::{self, BuildOptions, Model, OfflineTarget};
use crate::redis_link::RedisLink;
use crate::spicepod::Spicepod;

/// What to load.
#[derive(Debug, Clone)]
pub struct SetupArgs {
    pub spicepod: PathBuf,
    pub codecs_dir: Option<PathBuf>,
    pub offline: Option<OfflineTarget>,
}

/// Everything loaded, ready to serve.
pub struct Setup {
    pub spicepod: Spicepod,
    /// The codecs (built-in and the codecs directory's) with their state: the live routing
    /// table (`catalog.registry()`), the files that failed (`catalog.failures()`), and the
    /// directory watch (`catalog.watch()`).
    pub catalog: Arc<Catalog>,
    pub models: Vec<Model>,
    pub warnings: Vec<String>,
    /// `runtime.caching.embeddings` (shared through `runtime.redis` when set).
    pub cache: Option<Arc<EmbeddingCache>>,
}

impl Setup {
    /// The embedder over the models, the live codec table and the cache.
    pub fn embedder(&mut self) -> Embedder {
        Embedder::new(std::mem::take(&mut self.models), self.catalog.registry())
            .with_cache(self.cache.clone())
    }
}

pub async fn load(args: &SetupArgs) -> anyhow::Result<Setup> {
    let loaded = Spicepod::load(&args.spicepod)?;
    let mut warnings = loaded.warnings;
    let spicepod = loaded.spicepod;

    // Compiling codecs is CPU work: keep it off the async threads.
    let dir = args.codecs_dir.clone();
    let (_sandbox, catalog) = tokio::task::spawn_blocking(move || load_codecs(dir.as_deref()))
        .await
        .context("loading codecs")??;
    let catalog = Arc::new(catalog);
    let registry = catalog.registry().load_full();

    let redis = match &spicepod.runtime.redis {
        Some(config) => Some(RedisLink::connect(config).await?),
        None => None,
    };
    let cache = spicepod
        .runtime
        .embeddings_cache
        .map(|config| Arc::new(EmbeddingCache::new(config, redis.clone())));
    let options = BuildOptions {
        // Every command resolves each model's credentials now (no Bedrock call), so a broken
        // chain fails `run` and `check` at start-up.
        check_credentials: true,
        offline: args.offline.clone(),
        redis,
        ..BuildOptions::default()
    };
    let (models, model_warnings) = models::build(&spicepod, &registry, &options).await?;
    warnings.extend(model_warnings);
    catalog.set_models(model_uses(&models));
    Ok(Setup {
        spicepod,
        catalog,
        models,
        warnings,
        cache,
    })
}

/// The sandbox (with the compiled-codec cache: `$BEDROCK_EMBED_CODEC_CACHE`, else the user's
/// cache directory) and every codec, built-in and in `dir`. CPU-heavy: call it off the async
/// threads.
pub fn load_codecs(dir: Option<&Path>) -> anyhow::Result<(Sandbox, Catalog)> {
    if let Some(dir) = dir
        && !dir.is_dir()
    {
        anyhow::bail!(
            "the codecs directory {} does not exist (pass an existing directory to --codecs)",
            dir.display()
        );
    }
    let sandbox = Sandbox::with_cache(SandboxLimits::default(), cache::default_root().as_deref())?;
    let catalog = Catalog::load(&sandbox, dir)?;
    Ok((sandbox, catalog))
}

/// What the catalog needs to know of the models to re-check them on a codec change.
pub fn model_uses(models: &[Model]) -> Vec<ModelUse> {
    models
        .iter()
        .map(|m| ModelUse {
            name: m.name.clone(),
            model_id: m.codec_model_id.clone(),
            pinned: m.codec_pin.clone(),
            params: m.params.clone(),
        })
        .collect()
}

/// Starts the Bedrock emulator in-process on an ephemeral loopback port for `--offline`.
pub async fn start_offline_emulator() -> anyhow::Result<(bedrock_emulator::Emulator, OfflineTarget)>
{
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
