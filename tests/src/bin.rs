//! The real `bedrock-embed` and `bedrock-emulator` binaries, for tests that run them as child
//! processes (with a controlled environment: the AWS credential chain reads the process
//! environment, which a test must not mutate in its own process).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// `bedrock-embed`: `BEDROCK_EMBED_BIN` when set (tests/run.sh sets it), else built here.
pub fn host_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| binary("BEDROCK_EMBED_BIN", "bedrock-embed"))
        .clone()
}

/// `bedrock-emulator`: `BEDROCK_EMULATOR_BIN` when set (tests/run.sh sets it), else built here.
pub fn emulator_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| binary("BEDROCK_EMULATOR_BIN", "bedrock-emulator"))
        .clone()
}

/// The binary the variable `var` names (made absolute: children run in other directories), or
/// `target/<profile>/<name>` after `cargo build --workspace --bins`.
///
/// This crate is not the package of either binary, so cargo neither builds them for its tests
/// nor sets `CARGO_BIN_EXE_*`. The build here is the one tests/run.sh runs (same target dir and
/// profile as this test binary, the whole workspace so features and artifacts are shared): a
/// no-op when fresh, so a test never runs a stale binary. Cargo does not hold its lock while
/// tests run.
fn binary(var: &str, name: &str) -> PathBuf {
    if let Some(path) = std::env::var_os(var) {
        let path = PathBuf::from(path);
        return std::fs::canonicalize(&path).unwrap_or_else(|e| {
            panic!("{var}={}: {e} (build it, or unset {var})", path.display())
        });
    }
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    let profile_dir = BUILT.get_or_init(build_workspace_bins);
    let bin = profile_dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX));
    assert!(bin.is_file(), "{} was not built", bin.display());
    bin
}

/// Runs `cargo build --workspace --bins` for this test binary's target dir and profile; returns
/// `target/<profile>`.
fn build_workspace_bins() -> PathBuf {
    // …/target/<profile>/deps/<test-binary> → …/target/<profile>
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("test binary lives in target/<profile>/deps")
        .to_path_buf();
    let target_dir = profile_dir.parent().expect("target/<profile>");
    let profile = match profile_dir.file_name().and_then(OsStr::to_str) {
        Some("debug") | None => "dev",
        Some(other) => other,
    };
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../Cargo.toml");
    let status = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| env!("CARGO").into()))
        .args([
            "build",
            "--quiet",
            "--workspace",
            "--bins",
            "--profile",
            profile,
        ])
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(target_dir)
        .status()
        .expect("run cargo build");
    assert!(status.success(), "cargo build --workspace --bins failed");
    profile_dir
}
