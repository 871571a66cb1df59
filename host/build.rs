//! Builds the codec components in `guests/` for wasm32-wasip2 and hands their paths to the
//! crate, which embeds titan and cohere as the built-in codecs (as wasmtime's own
//! test-programs do: a nested `cargo build` with its own target directory).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
/// Components embedded in the binary as built-in codecs.
const BUILTIN: &[&str] = &["titan_codec", "cohere_codec"];

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let root = manifest_dir
        .parent()
        .expect("host/ lives in the workspace root");
    let guests = root.join("guests");
    watch(&guests, root);

    ensure_target_installed();

    // <target>/<profile>/build/<pkg>-<hash>/out → <target>/wasm-guests, shared by all profiles
    // and by `cargo clippy`, so the guests are built once.
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let target_dir = out_dir
        .ancestors()
        .nth(4)
        .expect("OUT_DIR is <target>/<profile>/build/<pkg>/out")
        .join("wasm-guests");

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--target")
        .arg(TARGET)
        .arg("--manifest-path")
        .arg(guests.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    // The outer build's flags and wrappers are for the host target, not for the guests.
    for var in [
        "CARGO_ENCODED_RUSTFLAGS",
        "RUSTFLAGS",
        "CARGO_TARGET_DIR",
        "CARGO_BUILD_TARGET",
        "CARGO_BUILD_RUSTFLAGS",
        "RUSTC_WORKSPACE_WRAPPER",
        "CARGO_PRIMARY_PACKAGE",
    ] {
        cmd.env_remove(var);
    }
    let status = cmd.status().expect("failed to run cargo for guests/");
    if !status.success() {
        panic!(
            "building the codec components in guests/ for {TARGET} failed (see the output above)"
        );
    }

    let wasm_dir = target_dir.join(TARGET).join("release");
    for name in BUILTIN {
        let path = wasm_dir.join(format!("{name}.wasm"));
        if !path.is_file() {
            panic!("guests/ built, but {} is missing", path.display());
        }
    }
    println!(
        "cargo:rustc-env=BEDROCK_EMBED_GUEST_WASM_DIR={}",
        wasm_dir.display()
    );
}

/// Rebuild when a guest's sources or the WIT change, but not when `guests/target` (native
/// unit-test builds) does.
fn watch(guests: &Path, root: &Path) {
    println!("cargo:rerun-if-changed={}", root.join("wit").display());
    let entries = std::fs::read_dir(guests).expect("guests/ is readable");
    for entry in entries.flatten() {
        if entry.file_name() != "target" {
            println!("cargo:rerun-if-changed={}", entry.path().display());
        }
    }
}

/// Say exactly what to do when the wasm target is missing, instead of a wall of
/// "can't find crate for `core`" errors (RUSTUP_AUTO_INSTALL=0 machines won't fetch it).
fn ensure_target_installed() {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let Ok(out) = Command::new(rustc).args(["--print", "sysroot"]).output() else {
        return; // let the nested cargo report whatever is wrong
    };
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !sysroot.join("lib/rustlib").join(TARGET).is_dir() {
        panic!(
            "\n\nThe {TARGET} Rust target is not installed; the built-in codecs need it.\n\
             Run:  rustup target add {TARGET}\n\n"
        );
    }
}
