//! `bedrock-embed codecs`: what serves each model prefix, and where it came from.

use std::io::Write;
use std::path::Path;

use anyhow::Context as _;
use serde_json::json;

use crate::codec::{self, Sandbox, SandboxLimits};

pub fn run(dir: Option<&Path>, as_json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    if let Some(dir) = dir
        && !dir.is_dir()
    {
        anyhow::bail!(
            "the codecs directory {} does not exist (pass an existing directory to --codecs)",
            dir.display()
        );
    }
    let sandbox = Sandbox::new(SandboxLimits::default())?;
    let (registry, failures) = codec::load_registry(&sandbox, dir)?;

    if as_json {
        let codecs: Vec<_> = registry
            .codecs()
            .iter()
            .map(|c| {
                let info = c.info();
                json!({
                    "name": info.name,
                    "version": info.version,
                    "interface": format!("{}@{}", codec::INTERFACE, c.interface_version()),
                    "prefixes": info.model_prefixes,
                    "serving": registry.routes().filter(|(_, r)| std::sync::Arc::ptr_eq(r, c)).map(|(p, _)| p).collect::<Vec<_>>(),
                    "source": c.source().to_string(),
                    "sha256": c.sha256(),
                    "params": info.params.iter().map(|p| json!({
                        "name": p.name,
                        "description": p.description,
                        "default": p.default_value,
                        "allowed": p.allowed,
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let failed: Vec<_> = failures
            .iter()
            .map(|f| json!({"source": f.path.display().to_string(), "error": f.reason}))
            .collect();
        let doc = json!({"codecs": codecs, "failed": failed});
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?).context("writing to stdout")?;
        return Ok(());
    }

    let mut rows = vec![[
        "NAME".to_string(),
        "VERSION".into(),
        "WIT".into(),
        "PREFIXES".into(),
        "SOURCE".into(),
    ]];
    for c in registry.codecs() {
        let info = c.info();
        let prefixes = info
            .model_prefixes
            .iter()
            .map(|p| {
                let serving = registry
                    .routes()
                    .any(|(q, r)| q == p && std::sync::Arc::ptr_eq(r, c));
                if serving {
                    p.clone()
                } else {
                    format!("{p} (overridden)")
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        rows.push([
            info.name.clone(),
            info.version.clone(),
            c.interface_version().to_string(),
            prefixes,
            c.source().to_string(),
        ]);
    }
    let widths: Vec<usize> = (0..5)
        .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    for f in &failures {
        writeln!(out, "FAILED  {}: {}", f.path.display(), f.reason)?;
    }
    Ok(())
}
