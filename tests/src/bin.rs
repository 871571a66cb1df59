//! The real `bedrock-embed` binary, for tests that run it as a child process (with a controlled
//! environment: the AWS credential chain reads the process environment, which a test must not
//! mutate in its own process).

use std::path::PathBuf;
use std::process::Command;
use std::sync::OnceLock;

/// Path of `target/<profile>/bedrock-embed`, built once per test process.
///
/// This crate is not the `bedrock-embed` package, so cargo neither builds that binary for its
/// tests nor sets `CARGO_BIN_EXE_bedrock-embed`: run `cargo build -p bedrock-embed --bin
/// bedrock-embed` once (a no-op when it is fresh) so a test never runs a stale binary.
/// `BEDROCK_EMBED_BIN` overrides the path (and skips the build).
pub fn host_binary() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(path) = std::env::var_os("BEDROCK_EMBED_BIN") {
            // Children run in other directories: make it absolute.
            let path = PathBuf::from(path);
            return std::fs::canonicalize(&path)
                .unwrap_or_else(|e| panic!("BEDROCK_EMBED_BIN={}: {e}", path.display()));
        }
        // …/target/<profile>/deps/<test-binary> → …/target/<profile>/bedrock-embed
        let exe = std::env::current_exe().expect("current_exe");
        let profile_dir = exe
            .parent()
            .and_then(|deps| deps.parent())
            .expect("test binary lives in target/<profile>/deps")
            .to_path_buf();
        let bin = profile_dir.join(format!("bedrock-embed{}", std::env::consts::EXE_SUFFIX));
        let mut cmd = Command::new(env!("CARGO"));
        cmd.args([
            "build",
            "--quiet",
            "-p",
            "bedrock-embed",
            "--bin",
            "bedrock-embed",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"));
        if profile_dir.file_name().is_some_and(|p| p == "release") {
            cmd.arg("--release");
        }
        if let Some(target_dir) = profile_dir.parent() {
            cmd.arg("--target-dir").arg(target_dir);
        }
        let status = cmd
            .status()
            .expect("running cargo build for the bedrock-embed binary");
        assert!(
            status.success(),
            "cargo build -p bedrock-embed --bin bedrock-embed failed"
        );
        assert!(bin.is_file(), "{} was not built", bin.display());
        bin
    })
    .clone()
}
