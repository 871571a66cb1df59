//! The codecs directory: every `*.wasm` file in it is a codec that overrides or extends the
//! built-in ones ([`super::Catalog`] loads and watches them).

use std::path::{Path, PathBuf};

use anyhow::Context as _;

/// A codec file that could not be loaded, with the reason (shown in listings and logs).
#[derive(Debug, Clone)]
pub struct LoadFailure {
    pub path: PathBuf,
    pub reason: String,
}

/// The `*.wasm` files in `dir` (hidden ones, such as an editor's or a copier's temporary
/// files, excepted), sorted by name so loading order (and conflict messages) are stable.
pub fn wasm_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("reading the codecs directory {}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|ext| ext == "wasm")
                && !p
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with('.'))
                && p.is_file()
        })
        .collect();
    files.sort();
    Ok(files)
}
