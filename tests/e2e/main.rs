//! The end-to-end tests as one test binary: each former `tests/<name>.rs` is a module here.
//!
//! One binary links wasmtime, the AWS SDK and the host once, instead of once per file. Run one
//! area by its module path: `cargo nextest run -p bedrock-embed-tests -E 'test(/^credentials::/)'`
//! (or `cargo test -p bedrock-embed-tests credentials::`).

mod bulk_embed;
mod codec_runtime;
mod credentials;
mod embedding_path;
mod emulator_fidelity;
mod hostile_codecs;
mod hostile_network;
mod hot_swap;
mod model_ids;
mod sandbox;
mod scale_out;
mod server_http;
mod third_party_codecs;
mod token_quota;
mod wit_versions;
