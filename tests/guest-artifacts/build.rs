//! Builds the test guests and the codec template for wasm32-wasip2 into their own target
//! directory, apart from the built-in codecs the product embeds (host/build.rs).

use std::env;
use std::path::PathBuf;

use bedrock_embed_guest_build::Guests;

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .ancestors()
        .nth(2)
        .expect("tests/guest-artifacts lives two levels below the workspace root");
    let wasm_dir = bedrock_embed_guest_build::build(
        root,
        &Guests {
            packages: &[
                "test-loop-forever",
                "test-memory-hog",
                "test-misbehave",
                "test-panics",
                "test-titan-negated",
                "test-wit-v1",
                "test-wrong-world",
                "test-bad-spans",
                "codec-template",
            ],
            sources: &["testing", "template", "codec-kit"],
            target_subdir: "wasm-test-guests",
        },
    );
    println!(
        "cargo:rustc-env=BEDROCK_EMBED_TEST_GUEST_WASM_DIR={}",
        wasm_dir.display()
    );
}
