//! The binary: one "listening on" line on stdout, --help, SIGTERM exits 0.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_bedrock-emulator");

#[test]
fn help_explains_every_knob() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let help = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--listen",
        "--access-key-id",
        "--secret-access-key",
        "--session-token",
        "--expired-session-token",
        "--api-key",
        "--no-auth",
        "--max-clock-skew-secs",
        "--region",
        "--allow-model",
        "--seed",
        "--throttle-rate",
        "--internal-error-rate",
        "--unavailable-rate",
        "--model-not-ready-rate",
        "--model-timeout-rate",
        "--reset-rate",
        "--latency-ms",
        "--jitter-ms",
        "--fail-with",
        "--model-fault",
        "9917",
        "AKIAIOSFODNN7EXAMPLE",
    ] {
        assert!(help.contains(flag), "--help lacks {flag}");
    }
}

#[test]
fn prints_address_serves_and_exits_zero_on_sigterm() {
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let url = line
        .trim()
        .strip_prefix("bedrock-emulator listening on ")
        .unwrap_or_else(|| panic!("{line:?}"))
        .to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "{url}"
    );

    let rt = tokio::runtime::Runtime::new().unwrap();
    let health = rt.block_on(async {
        reqwest::get(format!("{url}/_emulator/health"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    assert_eq!(health, "ok");

    let st = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap();
    assert!(st.success());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status:?}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("emulator did not exit after SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
