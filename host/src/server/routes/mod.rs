//! Route handlers.

pub mod codecs;
pub mod embeddings;
pub mod models;
pub mod probes;
