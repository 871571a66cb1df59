//! Codecs: sandboxed WebAssembly components that know one model family's InvokeModel wire
//! format (`wit/vX.Y.Z/codec.wit`). The host compiles each once, routes models to them by the
//! prefixes they report, and calls them on fresh, capability-free instances.
//!
//! - [`Catalog`] owns the built-ins, the codecs directory's files and the live [`Registry`];
//!   [`Catalog::watch`] hot-swaps the directory's changes into it.
//! - [`cache`] keeps the native code compiled from each codec on disk.

mod bindings;
pub mod builtin;
pub mod cache;
mod catalog;
pub mod directory;
pub mod embedding_type;
mod error;
mod listing;
mod loaded;
pub mod model_id;
mod registry;
mod sandbox;
pub mod spans;
mod watcher;

pub use bindings::{
    CodecInfo, EmbeddingType, INTERFACE, Invocation, Param, ParamSpec, RequestOptions, Span,
    WitVersion,
};
pub use catalog::{Catalog, ModelUse, Outcome};
pub use error::CodecError;
pub use listing::{CodecList, CodecListing, ParamListing, listing_from_registry, rfc3339};
pub use loaded::{Codec, CodecSource, Embeddings, MAX_BODY_BYTES};
pub use registry::{ConflictError, Registry, Removed, Route, RouteError};
pub use sandbox::{MemoryLimitExceeded, Sandbox, SandboxLimits, TrapKind};
pub use watcher::{DEBOUNCE, WatchHandle};
