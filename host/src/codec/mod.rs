//! Codecs: sandboxed WebAssembly components that know one model family's InvokeModel wire
//! format (`wit/codec.wit`). The host compiles each once, routes models to them by the
//! prefixes they report, and calls them on fresh, capability-free instances.

mod bindings;
pub mod builtin;
pub mod directory;
mod error;
mod loaded;
pub mod model_id;
mod registry;
mod sandbox;

pub use bindings::{
    CodecInfo, Embeddings, INTERFACE, INTERFACE_VERSION, Invocation, Param, ParamSpec,
    RequestOptions,
};
pub use error::CodecError;
pub use loaded::{Codec, CodecSource, MAX_BODY_BYTES};
pub use registry::{ConflictError, Registry, Route, RouteError};
pub use sandbox::{Sandbox, SandboxLimits};

use std::path::Path;
use std::sync::Arc;

/// Loads the built-in codecs and, if given, every codec file in `dir`, into one routing table.
/// Files that fail to load are returned beside it; a prefix conflict between files is an error.
pub fn load_registry(
    sandbox: &Sandbox,
    dir: Option<&Path>,
) -> anyhow::Result<(Registry, Vec<directory::LoadFailure>)> {
    let mut codecs: Vec<Arc<Codec>> = builtin::load_all(sandbox)?
        .into_iter()
        .map(Arc::new)
        .collect();
    let mut failures = Vec::new();
    if let Some(dir) = dir {
        let (loaded, failed) = directory::load_dir(sandbox, dir)?;
        codecs.extend(loaded.into_iter().map(Arc::new));
        failures = failed;
    }
    Ok((Registry::new(codecs)?, failures))
}
