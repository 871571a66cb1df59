//! Builds the built-in codecs (guests/titan, guests/cohere) for wasm32-wasip2 and hands their
//! directory to the crate, which embeds them (src/codec/builtin.rs). Only those two: the test
//! guests are built by tests/guest-artifacts, never by the product.

use std::env;
use std::path::PathBuf;

use bedrock_embed_guest_build::Guests;

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .parent()
        .expect("host/ lives in the workspace root");
    let wasm_dir = bedrock_embed_guest_build::build(
        root,
        &Guests {
            packages: &["titan-codec", "cohere-codec"],
            sources: &["titan", "cohere", "codec-kit"],
            target_subdir: "wasm-guests",
        },
    );
    println!(
        "cargo:rustc-env=BEDROCK_EMBED_BUILTIN_WASM_DIR={}",
        wasm_dir.display()
    );
}
