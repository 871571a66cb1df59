//! `bedrock-embed embed`: one-shot embeddings from a shell, printed as JSON.

use std::io::Write;

use serde_json::json;

use super::setup::{self, SetupArgs};

pub async fn run(
    args: SetupArgs,
    model: &str,
    texts: Vec<String>,
    dimensions: Option<u32>,
    out: &mut (impl Write + Send),
) -> anyhow::Result<()> {
    let mut setup = setup::load(&args).await?;
    for warning in &setup.warnings {
        tracing::warn!("{warning}");
    }
    let embedder = setup.embedder();
    let embedded = embedder.embed(model, texts, dimensions).await?;
    let data: Vec<_> = embedded
        .vectors
        .iter()
        .enumerate()
        .map(|(index, v)| json!({"index": index, "embedding": v}))
        .collect();
    let doc = json!({
        "model": model,
        "data": data,
        "usage": {"prompt_tokens": embedded.prompt_tokens, "total_tokens": embedded.prompt_tokens},
    });
    serde_json::to_writer(&mut *out, &doc)?;
    writeln!(out)?;
    Ok(())
}
