//! Builds packages of the `guests/` workspace for wasm32-wasip2 from a build script: a nested
//! `cargo build` with its own target directory (as wasmtime's test-programs do). Used by
//! host/build.rs (the built-in codecs) and tests/guest-artifacts/build.rs (the test guests).

use std::env;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The Rust target the components are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// What to build: packages of `guests/` and what their sources are.
pub struct Guests<'a> {
    /// Package names (`titan-codec`, ...); each gives `<name with _>.wasm`.
    pub packages: &'a [&'a str],
    /// The directories under `guests/` those packages are built from, their path dependencies
    /// included: a change there reruns the build script, a change elsewhere in `guests/` does not.
    pub sources: &'a [&'a str],
    /// The nested build's target directory, under the outer build's target directory.
    pub target_subdir: &'a str,
}

/// Builds `guests` (of `<repo_root>/guests`) in release mode for [`TARGET`] and returns the
/// directory holding their `.wasm` files. Call from a build script; panics (failing the build)
/// with what to do when it cannot.
pub fn build(repo_root: &Path, guests: &Guests<'_>) -> PathBuf {
    let guests_dir = repo_root.join("guests");
    watch(repo_root, &guests_dir, guests.sources);

    // OUT_DIR is <target>/[<triple>/]<profile>/build/<pkg>-<hash>/out: the nested build goes
    // to <target>/<subdir>, shared by every profile and by `cargo clippy`, so it runs once.
    let out_dir = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo"));
    let outer_target = out_dir
        .ancestors()
        .nth(4)
        .expect("OUT_DIR is <target>/<profile>/build/<pkg>/out");
    ensure_target_installed();
    let target_dir = outer_target.join(guests.target_subdir);

    let cargo = env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.arg("build")
        .arg("--release")
        .arg("--target")
        .arg(TARGET)
        .arg("--manifest-path")
        .arg(guests_dir.join("Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir);
    for package in guests.packages {
        cmd.arg("-p").arg(package);
    }
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
            "building {} from guests/ for {TARGET} failed (see the output above)",
            guests.packages.join(", ")
        );
    }

    let wasm_dir = target_dir.join(TARGET).join("release");
    for package in guests.packages {
        let path = wasm_dir.join(format!("{}.wasm", package.replace('-', "_")));
        if !path.is_file() {
            panic!("guests/ built, but {} is missing", path.display());
        }
    }
    wasm_dir
}

/// Rerun when the guests' sources, the guests workspace's manifest or lock file, or the WIT
/// change; not when `guests/target` (native unit-test builds) or an unrelated guest does.
fn watch(repo_root: &Path, guests_dir: &Path, sources: &[&str]) {
    println!("cargo:rerun-if-changed={}", repo_root.join("wit").display());
    for file in ["Cargo.toml", "Cargo.lock"] {
        println!("cargo:rerun-if-changed={}", guests_dir.join(file).display());
    }
    for dir in sources {
        println!("cargo:rerun-if-changed={}", guests_dir.join(dir).display());
    }
}

/// Say exactly what to do when the wasm target is missing, instead of a wall of
/// "can't find crate for `core`" errors (RUSTUP_AUTO_INSTALL=0 machines won't fetch it).
fn ensure_target_installed() {
    let Some(sysroot) = sysroot() else {
        return; // let the nested cargo report whatever is wrong with rustc
    };
    if !sysroot.join("lib/rustlib").join(TARGET).is_dir() {
        panic!(
            "\n\nThe {TARGET} Rust target is not installed; the built-in codecs need it.\n\
             Run:  rustup target add {TARGET}\n\n"
        );
    }
}

/// The sysroot of the rustc this build uses.
fn sysroot() -> Option<PathBuf> {
    let rustc = env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let out = Command::new(rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()))
}
