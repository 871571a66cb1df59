//! A real embedder (spicepod → built-in wasm codecs → aws-sdk) pointed at a real emulator on
//! 127.0.0.1.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

use arc_swap::ArcSwap;
use bedrock_embed::aws::RetryBudget;
use bedrock_embed::embedder::Embedder;
use bedrock_embed::models::{self, BuildOptions, ModelsError};
use bedrock_embed::spicepod::Spicepod;
use bedrock_emulator::Emulator;

use crate::codecs::loaded;

/// Secrets a test spicepod can name: the emulator's keys as EMU_KEY_ID / EMU_SECRET_KEY.
pub fn emulator_secrets(emulator: &Emulator) -> HashMap<String, String> {
    HashMap::from([
        (
            "EMU_KEY_ID".to_string(),
            emulator.access_key_id().to_string(),
        ),
        (
            "EMU_SECRET_KEY".to_string(),
            emulator.secret_access_key().to_string(),
        ),
    ])
}

/// A spicepod with the given `embeddings:` entries (YAML, two-space indented list items);
/// `{endpoint}` in the text is replaced by the emulator's URL.
pub fn spicepod_text(emulator: &Emulator, entries: &str) -> String {
    spicepod(&entries.replace("{endpoint}", &emulator.endpoint_url()))
}

/// A spicepod with the given `embeddings:` entries, as they are.
pub fn spicepod(entries: &str) -> String {
    format!("version: v1\nkind: Spicepod\nname: test\nembeddings:\n{entries}")
}

/// Parses the spicepod with `secrets` and builds its models against the shared codec registry.
pub async fn build(
    text: &str,
    secrets: &HashMap<String, String>,
    retry: RetryBudget,
) -> Result<Embedder, ModelsError> {
    let loaded_pod = Spicepod::parse(text, Path::new("spicepod.yaml"), secrets)
        .unwrap_or_else(|e| panic!("test spicepod is valid: {e}"));
    let registry = loaded().registry.clone();
    let options = BuildOptions {
        retry,
        check_credentials: true,
        ..BuildOptions::default()
    };
    let (models, _warnings) = models::build(&loaded_pod.spicepod, &registry, &options).await?;
    Ok(Embedder::new(
        models,
        Arc::new(ArcSwap::from_pointee(registry)),
    ))
}

/// One model entry served by the emulator with its keys, plus `extra` params (YAML lines,
/// six-space indented).
pub fn entry(name: &str, model_id: &str, extra: &str) -> String {
    format!(
        "  - from: bedrock:{model_id}\n    name: {name}\n    params:\n      aws_endpoint_url: {{endpoint}}\n      \
         aws_access_key_id: ${{ secrets:EMU_KEY_ID }}\n      aws_secret_access_key: ${{ secrets:EMU_SECRET_KEY }}\n{extra}"
    )
}
