//! Builds packages of the `guests/` workspace for wasm32-wasip2 from a build script: a nested
//! `cargo build` with its own target directory (as wasmtime's test-programs do). Used by
//! host/build.rs (the built-in codecs) and tests/guest-artifacts/build.rs (the test guests).
//!
//! When the toolchain lacks the wasm32-wasip2 target and rustup manages it, the target is
//! added here (`rustup target add`), so `cargo run --release` works on a fresh machine even
//! with `RUSTUP_AUTO_INSTALL=0`; without rustup the build stops with the command to run.

use std::env;
use std::fs::File;
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
    ensure_target_installed(outer_target);
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

/// Makes sure the toolchain compiling this build has the [`TARGET`] standard library: adds it
/// with rustup when rustup runs this toolchain, else panics with the command to run (instead
/// of a wall of "can't find crate for `core`" from the nested build).
fn ensure_target_installed(lock_dir: &Path) {
    let Some(sysroot) = sysroot() else {
        return; // let the nested cargo report whatever is wrong with rustc
    };
    let installed = || sysroot.join("lib/rustlib").join(TARGET).is_dir();
    if installed() {
        return;
    }
    // host/build.rs and tests/guest-artifacts/build.rs may get here at the same time: one
    // `rustup target add`, the other waits for it and finds the target installed.
    std::fs::create_dir_all(lock_dir).expect("create the target directory");
    let lock_path = lock_dir.join(format!("{TARGET}-rustup.lock"));
    let lock =
        File::create(&lock_path).unwrap_or_else(|e| panic!("create {}: {e}", lock_path.display()));
    lock.lock()
        .unwrap_or_else(|e| panic!("lock {}: {e}", lock_path.display()));
    if installed() {
        return;
    }

    // The rustup proxy (`cargo` from ~/.cargo/bin) names the toolchain it runs; adding the
    // target to any other toolchain would not help this build.
    let Some(toolchain) = env::var("RUSTUP_TOOLCHAIN").ok().filter(|t| !t.is_empty()) else {
        panic!(
            "\n\nThe {TARGET} Rust target is not installed in {sysroot}, and this toolchain is \
             not run by rustup, so it cannot be added here. The built-in codecs need it.\n\
             With rustup run:  rustup target add {TARGET}\n\
             Otherwise install the {TARGET} standard library for this Rust, then build again.\n\n",
            sysroot = sysroot.display()
        );
    };
    let command = format!("rustup target add {TARGET} --toolchain {toolchain}");
    let result = Command::new("rustup")
        .args(["target", "add", TARGET, "--toolchain", &toolchain])
        .env_remove("RUST_BACKTRACE") // rustup's own stack, not what the user needs to see
        .output();
    match result {
        Ok(out) if out.status.success() && installed() => {
            println!(
                "cargo:warning=the {TARGET} Rust target was missing; added it with `{command}`"
            );
        }
        Ok(out) => panic!(
            "\n\nThe {TARGET} Rust target is not installed, and `{command}` failed ({}):\n{}\n\
             Fix that, run:  {command}\nthen build again.\n\n",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        ),
        Err(e) => panic!(
            "\n\nThe {TARGET} Rust target is not installed, and rustup could not be run ({e}).\n\
             Run:  {command}\nthen build again.\n\n"
        ),
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
