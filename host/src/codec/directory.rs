//! The codecs directory: every `*.wasm` file in it is a codec that overrides or extends the
//! built-in ones.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::loaded::{Codec, CodecSource};
use super::sandbox::Sandbox;

/// A codec file that could not be loaded, with the reason (shown in listings and logs).
#[derive(Debug, Clone)]
pub struct LoadFailure {
    pub path: PathBuf,
    pub reason: String,
}

/// The `*.wasm` files in `dir`, sorted by name so loading order (and conflict messages) are
/// stable.
pub fn wasm_files(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("reading the codecs directory {}", dir.display()))?;
    let mut files: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|ext| ext == "wasm") && p.is_file())
        .collect();
    files.sort();
    Ok(files)
}

/// Loads one codec file.
pub fn load_file(sandbox: &Sandbox, path: &Path) -> anyhow::Result<Codec> {
    let bytes =
        std::fs::read(path).with_context(|| format!("reading codec file {}", path.display()))?;
    Codec::load(sandbox, &bytes, CodecSource::File(path.to_path_buf()))
}

/// Loads every codec file in `dir`; a file that fails is reported, not fatal.
pub fn load_dir(sandbox: &Sandbox, dir: &Path) -> anyhow::Result<(Vec<Codec>, Vec<LoadFailure>)> {
    let mut loaded = Vec::new();
    let mut failed = Vec::new();
    for path in wasm_files(dir)? {
        match load_file(sandbox, &path) {
            Ok(codec) => loaded.push(codec),
            Err(err) => {
                tracing::error!("{err:#}");
                failed.push(LoadFailure {
                    path,
                    reason: format!("{err:#}"),
                });
            }
        }
    }
    Ok((loaded, failed))
}
