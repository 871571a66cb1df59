//! The test guests (guests/testing/*) and the codec template (guests/template) as wasm32-wasip2
//! components, built by this crate's build.rs: test machinery, kept out of the product (as
//! wasmtime's test-programs-artifacts does). Only the tests depend on this crate.

use std::path::PathBuf;

/// The directory holding the components, one `<package name with _>.wasm` per guest.
pub const GUEST_WASM_DIR: &str = env!("BEDROCK_EMBED_TEST_GUEST_WASM_DIR");

/// The component file of the guest `name` (`test_misbehave`, `codec_template`, ...).
pub fn wasm_path(name: &str) -> PathBuf {
    PathBuf::from(GUEST_WASM_DIR).join(format!("{name}.wasm"))
}
