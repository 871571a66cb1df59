//! The codecs compiled into the binary (built from guests/titan and guests/cohere by build.rs).

use super::loaded::{Codec, CodecSource};
use super::sandbox::Sandbox;

/// (file name, component bytes) of each built-in codec.
pub const BUILTIN: &[(&str, &[u8])] = &[
    (
        "titan_codec.wasm",
        include_bytes!(concat!(
            env!("BEDROCK_EMBED_BUILTIN_WASM_DIR"),
            "/titan_codec.wasm"
        )),
    ),
    (
        "cohere_codec.wasm",
        include_bytes!(concat!(
            env!("BEDROCK_EMBED_BUILTIN_WASM_DIR"),
            "/cohere_codec.wasm"
        )),
    ),
];

/// Loads every built-in codec.
pub fn load_all(sandbox: &Sandbox) -> anyhow::Result<Vec<Codec>> {
    BUILTIN
        .iter()
        .map(|(_, bytes)| Codec::load(sandbox, bytes, CodecSource::BuiltIn))
        .collect()
}
