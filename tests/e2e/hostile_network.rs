//! `bedrock-embed run` against clients that misbehave: stalled and idle sockets, trickled
//! bodies, more connections than the cap, SIGTERM with work in flight, and what an error tells
//! a client. The real binary (a child process), the real aws-sdk, the emulator on 127.0.0.1.
//!
//! Every bound is generous (a loaded 2-core CI machine) yet fails when the feature is missing:
//! a stalled socket that is never closed, a drain that waits for a stalled client, an exit
//! status of 0 after cut-off requests.

use std::time::{Duration, Instant};

use bedrock_embed_tests::bin::host_binary;
use bedrock_embed_tests::hosted::{emulator_secrets, entry, spicepod_text};
use bedrock_embed_tests::replica::Replica;
use bedrock_emulator::{Config, Emulator, ErrorCode, FaultConfig};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;

const TITAN: &str = "amazon.titan-embed-text-v2:0";
/// The header deadline the tests configure.
const HEADER_TIMEOUT: Duration = Duration::from_secs(2);
/// Slack on top of any configured deadline (scheduling on a loaded machine).
const SLACK: Duration = Duration::from_secs(8);

/// `bedrock-embed run` serving one Titan model `m` from `emulator`, with `runtime` (YAML
/// under `runtime:`).
async fn start(emulator: &Emulator, runtime: &str) -> Replica {
    let spicepod = format!(
        "{}runtime:\n{runtime}",
        spicepod_text(emulator, &entry("m", TITAN, ""))
    );
    let secrets = emulator_secrets(emulator);
    let env: Vec<(&str, &str)> = secrets
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    Replica::start(&spicepod, &env).await
}

fn http_runtime(lines: &str) -> String {
    http_runtime_with(HEADER_TIMEOUT, lines)
}

fn http_runtime_with(header_timeout: Duration, lines: &str) -> String {
    format!(
        "  http:\n    header_read_timeout: {}s\n{lines}",
        header_timeout.as_secs()
    )
}

async fn emulator(faults: FaultConfig) -> Emulator {
    bedrock_emulator::spawn(Config::default().with_faults(faults))
        .await
        .unwrap()
}

/// Raises this test process's soft open-files limit (the stalled sockets are ours too).
fn enough_fds(n: u64) {
    let (soft, hard) = rlimit::Resource::NOFILE.get().unwrap();
    if soft < n {
        assert!(
            hard >= n,
            "this test needs {n} open files; the hard limit is {hard}: raise it (ulimit -Hn)"
        );
        rlimit::Resource::NOFILE.set(n, hard).unwrap();
    }
}

/// A socket that sent part of a request head and then nothing.
async fn stalled(addr: &str, head: &[u8]) -> TcpStream {
    let mut s = TcpStream::connect(addr).await.unwrap();
    s.write_all(head).await.unwrap();
    s
}

/// Waits until the peer closes `s` (EOF or reset); how long that took, or `None` by `limit`.
async fn closed_within(s: &mut TcpStream, limit: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 1024];
    let result = tokio::time::timeout(limit, async {
        loop {
            match s.read(&mut buf).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    result.ok().map(|()| started.elapsed())
}

async fn embed(client: &reqwest::Client, host: &Replica) -> reqwest::Response {
    client
        .post(host.url("/v1/embeddings"))
        .json(&json!({"model": "m", "input": "hello"}))
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stalled_sockets_are_closed_after_the_header_timeout_while_health_answers() {
    const STALLED: usize = 2_000;
    // Longer than opening 2,000 sockets takes on a loaded machine, so the host holds them all
    // at once when they are counted (with 2 s the first ones were already closed).
    const HEADER_TIMEOUT: Duration = Duration::from_secs(6);
    enough_fds(STALLED as u64 + 512);
    let emulator = emulator(FaultConfig::default()).await;
    let host = start(
        &emulator,
        &http_runtime_with(HEADER_TIMEOUT, "    max_connections: 4000\n"),
    )
    .await;
    let fds_idle = host.open_fds();
    let started = Instant::now();
    let mut sockets = Vec::with_capacity(STALLED);
    for i in 0..STALLED {
        // Half the heads stop mid-headers, half never send a byte.
        let head: &[u8] = if i % 2 == 0 {
            b"GET /health HTTP/1.1\r\nHost: x\r\n"
        } else {
            b""
        };
        sockets.push(stalled(host.addr(), head).await);
    }
    let opened = started.elapsed();
    // /health answers while they all hang (a fresh connection each time).
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let mut worst = Duration::ZERO;
    for _ in 0..20 {
        let t = Instant::now();
        let r = client.get(host.url("/health")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        worst = worst.max(t.elapsed());
    }
    assert!(
        worst < Duration::from_secs(2),
        "/health took {worst:?} with {STALLED} stalled sockets"
    );
    let fds_busy = host.open_fds();
    assert!(
        fds_busy >= fds_idle + STALLED / 2,
        "the host holds the sockets: {fds_idle} → {fds_busy}"
    );
    // Every stalled socket is closed by the server once the header deadline passes.
    let limit = HEADER_TIMEOUT + opened + SLACK;
    for (i, s) in sockets.iter_mut().enumerate() {
        let left = limit
            .saturating_sub(started.elapsed())
            .max(Duration::from_millis(10));
        assert!(
            closed_within(s, left).await.is_some(),
            "stalled socket {i} still open {:?} after it connected (header timeout {HEADER_TIMEOUT:?})",
            started.elapsed()
        );
    }
    drop(sockets);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fds_after = host.open_fds();
    assert!(
        fds_after <= fds_idle + 16,
        "descriptors come back: idle {fds_idle}, with the sockets {fds_busy}, after {fds_after}"
    );
    host.terminate();
    let (status, log) = host.exit(SLACK).await;
    assert!(status.success(), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_cap_connections_wait_in_the_backlog_and_the_loop_never_spins() {
    const CAP: usize = 20;
    let emulator = emulator(FaultConfig::default()).await;
    let host = start(
        &emulator,
        &http_runtime(&format!("    max_connections: {CAP}\n")),
    )
    .await;
    let fds_idle = host.open_fds();
    let mut hogs = Vec::new();
    for _ in 0..CAP {
        hogs.push(stalled(host.addr(), b"GET /health HTTP/1.1\r\n").await);
    }
    // 40 more connect (the kernel queues them in the backlog) but get no descriptor.
    let mut waiting = Vec::new();
    for _ in 0..40 {
        waiting.push(stalled(host.addr(), b"").await);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let fds_full = host.open_fds();
    assert!(
        fds_full <= fds_idle + CAP + 8,
        "at most {CAP} connections hold a descriptor: idle {fds_idle}, now {fds_full}"
    );
    // A request past the cap is served once the hogs time out, not refused (behind the 40
    // waiting ones, which take a header timeout per 20).
    let t = Instant::now();
    let client = reqwest::Client::new();
    let r = client.get(host.url("/health")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(
        t.elapsed() < HEADER_TIMEOUT * 4 + SLACK,
        "{:?}",
        t.elapsed()
    );
    drop((hogs, waiting));
    let log = host.log();
    assert!(!log.contains("accept failed"), "{log}");
    host.terminate();
    host.exit(SLACK).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_keep_alive_connections_close_after_the_header_timeout() {
    let emulator = emulator(FaultConfig::default()).await;
    let host = start(&emulator, &http_runtime("")).await;
    let mut s = TcpStream::connect(host.addr()).await.unwrap();
    s.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut buf = vec![0u8; 4096];
    let n = s.read(&mut buf).await.unwrap();
    let head = String::from_utf8_lossy(&buf[..n]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase().contains("x-request-id: req_"),
        "{head}"
    );
    let idle = closed_within(&mut s, HEADER_TIMEOUT + SLACK).await;
    assert!(
        idle.is_some(),
        "an idle keep-alive connection stays open past the deadline"
    );
    host.terminate();
    host.exit(SLACK).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trickled_body_gets_408_at_the_body_deadline() {
    let emulator = emulator(FaultConfig::default()).await;
    let host = start(&emulator, &http_runtime("    body_read_timeout: 2s\n")).await;
    let mut s = TcpStream::connect(host.addr()).await.unwrap();
    s.write_all(b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{\"model\":")
        .await
        .unwrap();
    let started = Instant::now();
    // One byte a second: each chunk is in time, the whole body is not.
    let reader = tokio::spawn(async move {
        let mut answer = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            tokio::select! {
                n = s.read(&mut buf) => match n {
                    Ok(0) | Err(_) => break,
                    Ok(n) => answer.extend_from_slice(&buf[..n]),
                },
                () = tokio::time::sleep(Duration::from_secs(1)) => {
                    if s.write_all(b" ").await.is_err() { break; }
                }
            }
            if answer.windows(4).any(|w| w == b"\r\n\r\n") && answer.ends_with(b"}") {
                break;
            }
        }
        String::from_utf8_lossy(&answer).into_owned()
    });
    let answer = tokio::time::timeout(Duration::from_secs(2) + SLACK, reader)
        .await
        .expect("an answer before the body is complete")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 408"), "{answer}");
    assert!(answer.contains("\"code\":\"body_timeout\""), "{answer}");
    assert!(
        started.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        started.elapsed()
    );
    host.terminate();
    host.exit(SLACK).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_closes_stalled_connections_at_once_and_drains_requests_in_flight() {
    // Each InvokeModel takes 3 s: a request is in flight when the signal comes.
    let emulator = emulator(FaultConfig {
        latency_ms: 3_000,
        ..FaultConfig::default()
    })
    .await;
    let host = start(
        &emulator,
        "  http:\n    header_read_timeout: 60s\n    shutdown_timeout: 20s\n",
    )
    .await;
    let mut stalled_posts = Vec::new();
    for _ in 0..50 {
        stalled_posts
            .push(stalled(host.addr(), b"POST /v1/embeddings HTTP/1.1\r\nHost: x\r\n").await);
    }
    let mut idle = TcpStream::connect(host.addr()).await.unwrap();
    let client = reqwest::Client::new();
    let in_flight = {
        let client = client.clone();
        let url = host.url("/v1/embeddings");
        tokio::spawn(async move {
            client
                .post(url)
                .json(&json!({"model": "m", "input": "in flight"}))
                .send()
                .await
        })
    };
    // The request reaches Bedrock, then the signal.
    let deadline = Instant::now() + Duration::from_secs(30);
    while emulator.stats().attempted == 0 {
        assert!(
            Instant::now() < deadline,
            "the request never reached the emulator"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let signalled = Instant::now();
    host.terminate();
    // The stalled and idle sockets close at once, not at the 60 s header deadline.
    assert!(
        closed_within(&mut idle, SLACK).await.is_some(),
        "idle connection kept open"
    );
    for s in &mut stalled_posts {
        assert!(
            closed_within(s, SLACK).await.is_some(),
            "stalled POST kept open after SIGTERM"
        );
    }
    let stalled_closed = signalled.elapsed();
    // The request in flight still gets its answer.
    let response = in_flight
        .await
        .unwrap()
        .expect("the request in flight is answered");
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 1);
    let (status, log) = host.exit(SLACK + Duration::from_secs(10)).await;
    assert!(status.success(), "drain completed: exit 0\n{log}");
    let last = log.lines().last().unwrap_or_default();
    assert!(
        last.contains("shutdown complete"),
        "last line: {last}\n{log}"
    );
    assert!(
        stalled_closed < Duration::from_secs(3) + SLACK,
        "{stalled_closed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_that_runs_out_of_time_exits_non_zero_and_says_so() {
    let emulator = emulator(FaultConfig {
        latency_ms: 30_000,
        ..FaultConfig::default()
    })
    .await;
    let host = start(&emulator, &http_runtime("    shutdown_timeout: 1s\n")).await;
    let client = reqwest::Client::new();
    let url = host.url("/v1/embeddings");
    let _in_flight = tokio::spawn(async move {
        client
            .post(url)
            .json(&json!({"model": "m", "input": "slow"}))
            .send()
            .await
    });
    let deadline = Instant::now() + Duration::from_secs(30);
    while emulator.stats().attempted == 0 {
        assert!(
            Instant::now() < deadline,
            "the request never reached the emulator"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    host.terminate();
    let (status, log) = host.exit(Duration::from_secs(1) + SLACK).await;
    assert!(!status.success(), "cut-off requests must not exit 0\n{log}");
    let last = log.lines().last().unwrap_or_default();
    assert!(
        last.contains("shutdown drain timed out after 1 s"),
        "last line: {last}\n{log}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_has_a_request_id_and_a_sane_incoming_one_is_kept() {
    let emulator = emulator(FaultConfig::default()).await;
    let host = start(&emulator, &http_runtime("")).await;
    let client = reqwest::Client::new();
    let r = embed(&client, &host).await;
    assert_eq!(r.status(), 200);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(id.starts_with("req_") && id.len() == 36, "{id}");
    let r = client
        .get(host.url("/health"))
        .header("x-request-id", "lb-7f3a:42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "lb-7f3a:42");
    let r = client
        .get(host.url("/nope"))
        .header("x-request-id", "has spaces and \"quotes\"")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert!(id.starts_with("req_"), "an unsafe id is replaced: {id}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["request_id"], id.as_str());
    host.terminate();
    host.exit(SLACK).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn permanent_failures_say_do_not_retry_and_keep_the_operators_detail_in_the_log() {
    // The emulator answers every call AccessDeniedException.
    let emulator = emulator(FaultConfig {
        always: Some(ErrorCode::AccessDeniedException),
        ..FaultConfig::default()
    })
    .await;
    let host = start(&emulator, &http_runtime("")).await;
    let client = reqwest::Client::new();
    let r = embed(&client, &host).await;
    assert_eq!(r.status(), 502);
    assert_eq!(r.headers()["x-should-retry"], "false");
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "server_error");
    assert_eq!(body["error"]["code"], "bedrock_access_denied");
    assert_eq!(body["error"]["request_id"], id.as_str());
    let text = body.to_string();
    for operator_only in [
        "EMU_KEY_ID",
        ".env",
        "aws_access_key_id",
        "spicepod.yaml",
        "arn:aws",
    ] {
        assert!(
            !text.contains(operator_only),
            "{operator_only} in the client's body: {text}"
        );
    }
    assert_eq!(emulator.stats().attempted, 1, "AccessDenied is not retried");
    // The log has it all, under the same id.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let log = host.log();
    let line = log
        .lines()
        .find(|l| l.contains(&id))
        .unwrap_or_else(|| panic!("no log line with {id}:\n{log}"));
    assert!(
        line.contains("bedrock:InvokeModel") && line.contains("EMU_KEY_ID"),
        "{line}"
    );
    assert!(
        !log.contains(emulator.secret_access_key()),
        "a secret value in the log"
    );
    host.terminate();
    host.exit(SLACK).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_param_typo_fails_check_with_the_suggestion() {
    let emulator = emulator(FaultConfig::default()).await;
    let dir = tempfile::tempdir().unwrap();
    let spicepod = format!(
        "version: v1\nkind: Spicepod\nname: typo\nembeddings:\n  - from: bedrock:{TITAN}\n    name: m\n    params:\n      \
         aws_endpoint_url: {}\n      aws_access_key_id: {}\n      aws_secret_access_key: {}\n      dimension: \"256\"\n",
        emulator.endpoint_url(),
        emulator.access_key_id(),
        emulator.secret_access_key()
    );
    std::fs::write(dir.path().join("spicepod.yaml"), spicepod).unwrap();
    let out = Command::new(host_binary())
        .env_clear()
        .env("HOME", dir.path())
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .current_dir(dir.path())
        .args(["check", "--spicepod", "spicepod.yaml"])
        .output()
        .await
        .unwrap();
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "check must fail:\n{all}");
    assert!(
        all.contains("params.dimension: unknown param")
            && all.contains("did you mean `dimensions`?"),
        "{all}"
    );
    assert!(
        all.contains("spicepod.yaml:5"),
        "names the file and line: {all}"
    );
}
