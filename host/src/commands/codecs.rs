//! `bedrock-embed codecs`: every codec (built-in and in the codecs directory), what it serves,
//! where it came from, and why a codec file did not load. `GET /v1/codecs` serves the same
//! listing ([`CodecList`]).

use std::io::Write;
use std::path::Path;

use crate::codec::{CodecList, CodecListing};
use anyhow::Context as _;

use super::setup;

pub fn run(dir: Option<&Path>, as_json: bool, out: &mut impl Write) -> anyhow::Result<()> {
    let (_sandbox, catalog) = setup::load_codecs(dir)?;
    let listing = catalog.listing();
    if as_json {
        let doc = CodecList::new(listing);
        writeln!(out, "{}", serde_json::to_string_pretty(&doc)?).context("writing to stdout")?;
        return Ok(());
    }
    write_table(&listing, out)
}

/// The human form: one row per codec, then one line per codec file that failed.
pub fn write_table(listing: &[CodecListing], out: &mut impl Write) -> anyhow::Result<()> {
    let mut rows = vec![[
        "NAME".to_string(),
        "VERSION".into(),
        "WIT".into(),
        "PREFIXES".into(),
        "SOURCE".into(),
        "SHA256".into(),
        "LOADED".into(),
    ]];
    for c in listing.iter().filter(|c| c.name.is_some()) {
        let prefixes = c
            .model_prefixes
            .iter()
            .map(|p| {
                if c.serves.contains(p) {
                    p.clone()
                } else {
                    format!("{p} (overridden)")
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
        rows.push([
            c.name.clone().unwrap_or_default(),
            c.version.clone().unwrap_or_default(),
            c.interface_version.clone().unwrap_or_default(),
            prefixes,
            c.source.clone(),
            c.sha256
                .as_deref()
                .map(|s| s[..12.min(s.len())].to_string())
                .unwrap_or_default(),
            c.loaded_at.clone().unwrap_or_default(),
        ]);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|i| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0))
        .collect();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
    }
    for c in listing {
        if let Some(error) = &c.last_error {
            let status = match &c.name {
                Some(name) => {
                    format!("FAILED (codec {name} from an earlier version keeps serving)")
                }
                None => "FAILED".to_string(),
            };
            writeln!(out, "{status}  {}: {error}", c.source)?;
        }
    }
    Ok(())
}
