//! Token quotas end to end: real `bedrock-embed run` processes against the emulator's
//! tokens-per-minute quota (`--tokens-per-minute`, a sliding 60 s window that answers
//! ThrottlingException "Too many tokens" past it), one real `redis-server` for the shared
//! budget. The host must keep Bedrock from throttling while using most of the budget.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bedrock_embed_tests::hosted::{emulator_secrets, entry, spicepod_text};
use bedrock_embed_tests::redis_server::RedisServer;
use bedrock_embed_tests::replica::Replica;
use bedrock_emulator::{Config, Emulator};
use serde_json::{Value, json};

const TITAN: &str = "amazon.titan-embed-text-v2:0";
/// The figures: the emulator's quota and the host's limit, tokens a minute.
const BUDGET: u64 = 20_000;
const RUN_FOR: Duration = Duration::from_secs(30);

/// The limits under test; the request limiter is set out of the way.
fn params() -> String {
    format!(
        "      tokens_per_min_limit: \"{BUDGET}\"\n      requests_per_min_limit: \"60000\"\n      max_concurrent_invocations: \"16\"\n"
    )
}

async fn emulator() -> Emulator {
    bedrock_emulator::spawn(Config::new().with_tokens_per_minute(BUDGET))
        .await
        .expect("emulator")
}

async fn replicas(
    n: usize,
    spicepod: &str,
    emulator: &Emulator,
    redis: Option<&RedisServer>,
) -> Vec<Replica> {
    let secrets = emulator_secrets(emulator);
    let url = redis.map(RedisServer::url);
    let mut env: Vec<(&str, &str)> = secrets
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    if let Some(url) = &url {
        env.push(("REDIS_URL", url));
    }
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(Replica::start(spicepod, &env).await);
    }
    out
}

/// Text `i` of the load: every third one long (~1.5 KB of prose), the others short.
fn text(client: usize, i: u64) -> String {
    let sentence = format!("client {client} request {i} reads about rivers, mountains and lakes. ");
    if i.is_multiple_of(3) {
        sentence.repeat(1500 / sentence.len())
    } else {
        sentence
    }
}

/// What the clients saw: answers 200 (with their `prompt_tokens`) and 429; anything else is
/// kept as a failure.
#[derive(Default)]
struct Seen {
    ok: AtomicU64,
    shed: AtomicU64,
    prompt_tokens: AtomicU64,
    failures: std::sync::Mutex<Vec<String>>,
}

/// Clients that send one-text requests back to back for [`RUN_FOR`]; a 429 is retried after
/// 200 ms (a client honouring the minute-long Retry-After would only wait).
async fn load(replicas: &[Replica], per_replica: usize) -> Arc<Seen> {
    let http = reqwest::Client::new();
    let seen = Arc::new(Seen::default());
    let end = Instant::now() + RUN_FOR;
    let mut tasks = Vec::new();
    for (r, replica) in replicas.iter().enumerate() {
        for c in 0..per_replica {
            let (http, base, seen) = (http.clone(), replica.base.clone(), seen.clone());
            let client = r * per_replica + c;
            tasks.push(tokio::spawn(async move {
                let mut i = 0u64;
                while Instant::now() < end {
                    i += 1;
                    let sent = http
                        .post(format!("{base}/v1/embeddings"))
                        .timeout(RUN_FOR)
                        .json(&json!({"model": "titan", "input": text(client, i)}))
                        .send();
                    let resp =
                        match tokio::time::timeout_at(tokio::time::Instant::from_std(end), sent)
                            .await
                        {
                            Err(_) => break,
                            Ok(r) => r,
                        };
                    match resp {
                        Ok(r) if r.status() == 200 => {
                            let body: Value = r.json().await.unwrap_or(Value::Null);
                            let tokens = body["usage"]["prompt_tokens"].as_u64().unwrap_or(0);
                            seen.ok.fetch_add(1, Ordering::Relaxed);
                            seen.prompt_tokens.fetch_add(tokens, Ordering::Relaxed);
                        }
                        Ok(r) if r.status() == 429 => {
                            seen.shed.fetch_add(1, Ordering::Relaxed);
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                        Ok(r) => {
                            let text =
                                format!("{}: {}", r.status(), r.text().await.unwrap_or_default());
                            seen.failures.lock().unwrap().push(text);
                        }
                        Err(e) => seen.failures.lock().unwrap().push(e.to_string()),
                    }
                }
            }));
        }
    }
    for t in tasks {
        t.await.expect("client task");
    }
    seen
}

/// The checks both tests make: Bedrock never throttled, ≥ 90% of its budget was used, and the
/// usage the clients were told is what Bedrock counted.
fn assert_budget_kept(emulator: &Emulator, seen: &Seen) {
    let failures = seen.failures.lock().unwrap();
    assert!(
        failures.is_empty(),
        "{} failures, first: {:?}",
        failures.len(),
        &failures[..failures.len().min(3)]
    );
    let stats = emulator.stats();
    let titan = stats.model(TITAN).expect("titan calls");
    assert_eq!(
        titan.errors.get("ThrottlingException"),
        None,
        "Bedrock throttled: {:?}",
        titan.errors
    );
    // The run is shorter than the emulator's 60 s window, so everything it accepted is in one
    // window: at most the budget, and at least 90% of it.
    let used = titan.input_tokens;
    eprintln!(
        "{used} of {BUDGET} tokens used; {} answers, {} shed",
        seen.ok.load(Ordering::Relaxed),
        seen.shed.load(Ordering::Relaxed)
    );
    assert!(
        used <= BUDGET,
        "{used} tokens accepted in one window of {BUDGET}"
    );
    assert!(
        used * 10 >= BUDGET * 9,
        "only {used} of the {BUDGET}-token budget used ({} ok, {} shed)",
        seen.ok.load(Ordering::Relaxed),
        seen.shed.load(Ordering::Relaxed)
    );
    assert_eq!(
        titan.accepted,
        seen.ok.load(Ordering::Relaxed),
        "one call per answer"
    );
    assert_eq!(
        seen.prompt_tokens.load(Ordering::Relaxed),
        used,
        "usage is Bedrock's count"
    );
    // The budget ran out within the run, so the host answered 429 rather than let Bedrock
    // throttle.
    assert!(
        seen.shed.load(Ordering::Relaxed) > 0,
        "the load never reached the budget"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_host_keeps_bedrock_from_throttling_and_uses_the_budget() {
    let emulator = emulator().await;
    let spicepod = spicepod_text(&emulator, &entry("titan", TITAN, &params()));
    let replicas = replicas(1, &spicepod, &emulator, None).await;
    emulator.reset();
    let seen = load(&replicas, 8).await;
    assert_budget_kept(&emulator, &seen);
    let metrics = replicas[0].metrics(&reqwest::Client::new()).await;
    for name in [
        "bedrock_embed_tokens_reserved_total{model=\"titan\"}",
        "bedrock_embed_tokens_settled_total{model=\"titan\"}",
        "bedrock_embed_limiter_token_wait_seconds_count{model=\"titan\"}",
    ] {
        assert!(metrics.contains(name), "{name} missing from:\n{metrics}");
    }
    // Settled is what Bedrock counted; reserved the (larger) estimates.
    let value = |name: &str| -> u64 {
        metrics
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or_else(|| panic!("{name} in {metrics}")) as u64
    };
    let used = emulator.stats().model(TITAN).unwrap().input_tokens;
    assert_eq!(
        value("bedrock_embed_tokens_settled_total{model=\"titan\"}"),
        used
    );
    assert!(value("bedrock_embed_tokens_reserved_total{model=\"titan\"}") > used);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_one_token_budget_through_redis() {
    let emulator = emulator().await;
    let redis = RedisServer::start();
    let spicepod = format!(
        "{}runtime:\n  redis:\n    url: ${{ secrets:REDIS_URL }}\n",
        spicepod_text(&emulator, &entry("titan", TITAN, &params()))
    );
    let replicas = replicas(3, &spicepod, &emulator, Some(&redis)).await;
    emulator.reset();
    let seen = load(&replicas, 3).await;
    assert_budget_kept(&emulator, &seen);
    for r in &replicas {
        let log = r.log();
        assert!(log.contains("limiters and cache are shared"), "{log}");
        // Never fell back to a local share on the way.
        assert!(!log.contains("failed ("), "{log}");
        assert!(!log.contains("share of the token budget"), "{log}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_too_long_for_the_budget_is_a_400_naming_the_numbers() {
    let emulator = emulator().await;
    let spicepod = spicepod_text(&emulator, &entry("titan", TITAN, &params()));
    let replicas = replicas(1, &spicepod, &emulator, None).await;
    emulator.reset();
    // 25,000 bytes: Titan takes it (≤ 50,000 characters), but its estimate is over 20,000.
    let long = "word ".repeat(5_000);
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/embeddings", replicas[0].base))
        .json(&json!({"model": "titan", "input": long}))
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), 400);
    assert_eq!(resp.headers()["x-should-retry"], "false");
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "too_many_tokens", "{body}");
    assert_eq!(body["error"]["param"], "input", "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("25002 input tokens") && message.contains("20000 tokens per minute"),
        "{message}"
    );
    // Refused before anything was sent.
    assert!(
        emulator.stats().model(TITAN).is_none(),
        "a call reached Bedrock"
    );
    // A text that fits goes through.
    let resp = reqwest::Client::new()
        .post(format!("{}/v1/embeddings", replicas[0].base))
        .json(&json!({"model": "titan", "input": "word ".repeat(100)}))
        .send()
        .await
        .expect("answer");
    assert_eq!(resp.status(), 200);
}

/// Runs `bedrock-embed ARGS` in `dir` on its spicepod.yaml: (success, stdout + stderr).
async fn cli(dir: &std::path::Path, emulator: &Emulator, args: &[&str]) -> (bool, String) {
    let mut cmd = tokio::process::Command::new(bedrock_embed_tests::bin::host_binary());
    cmd.env_clear()
        .env("HOME", dir)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .current_dir(dir)
        .args(args)
        .args(["--spicepod", "spicepod.yaml"]);
    for (k, v) in emulator_secrets(emulator) {
        cmd.env(k, v);
    }
    let out = cmd.output().await.expect("bedrock-embed runs");
    let all = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn check_prints_the_limits_and_the_cli_refuses_what_cannot_fit() {
    let emulator = emulator().await;
    let dir = tempfile::tempdir().unwrap();
    let entries = format!(
        "{}{}",
        entry(
            "titan",
            TITAN,
            &format!("{}      tokens_per_day_limit: \"28800000\"\n", params())
        ),
        entry("plain", TITAN, "")
    );
    std::fs::write(
        dir.path().join("spicepod.yaml"),
        spicepod_text(&emulator, &entries),
    )
    .unwrap();
    let (ok, out) = cli(dir.path(), &emulator, &["check"]).await;
    assert!(ok, "{out}");
    let line = |name: &str| {
        out.lines()
            .find(|l| l.starts_with(&format!("ok: {name} ")))
            .unwrap_or_else(|| panic!("no line for {name}: {out}"))
            .to_string()
    };
    assert!(
        line("titan").contains(", 20000 tokens/min, 28800000 tokens/day,"),
        "{out}"
    );
    assert!(line("plain").contains(", no token limit,"), "{out}");

    // One-shot `embed`: a text whose estimate is over the budget fails before any call.
    let long = "word ".repeat(5_000);
    let (ok, out) = cli(dir.path(), &emulator, &["embed", "--model", "titan", &long]).await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("25002 input tokens") && out.contains("the 20000 of tokens_per_min_limit"),
        "{out}"
    );
    assert!(
        emulator.stats().model(TITAN).is_none(),
        "a call reached Bedrock"
    );

    // A value that is not a whole number is a load error naming the key and the fix.
    let bad = entry("titan", TITAN, "      tokens_per_min_limit: \"20k\"\n");
    std::fs::write(
        dir.path().join("spicepod.yaml"),
        spicepod_text(&emulator, &bad),
    )
    .unwrap();
    let (ok, out) = cli(dir.path(), &emulator, &["check"]).await;
    assert!(!ok, "{out}");
    assert!(
        out.contains("params.tokens_per_min_limit: \"20k\" is not a whole number: use a whole number of tokens from 1 to 1000000000, or remove it for no token limit"),
        "{out}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shared_windows_in_redis_reserve_settle_and_bind_by_minute_and_by_day() {
    use bedrock_embed::limiter::shared_tokens::SharedTokens;
    use bedrock_embed::redis_link::RedisLink;
    use bedrock_embed::secrets::Secret;
    use bedrock_embed::spicepod::RedisConfig;

    let redis = RedisServer::start();
    let link = RedisLink::connect(&RedisConfig {
        url: Secret::new(redis.url(), "the test"),
        key_prefix: "t".into(),
        timeout: Duration::from_secs(2),
        replicas: None,
    })
    .await
    .unwrap();
    assert!(link.is_up());
    let tokens = SharedTokens::new(link, "m", Some(1_000), Some(1_200));
    // RESP: `$4\r\n1000\r\n`.
    let total = |window: &str| {
        let reply = redis.command(&format!("HGET t:limiter:m:tokens:{window} t"));
        reply.lines().nth(1).unwrap_or_default().to_string()
    };
    let settled = |want: &str| {
        // Settles are written in the background.
        for _ in 0..100 {
            if total("minute") == want {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("minute total {} (want {want})", total("minute"));
    };

    let a = tokens
        .reserve(1_000, None)
        .await
        .unwrap()
        .expect("reserved");
    assert_eq!(
        (total("minute").as_str(), total("day").as_str()),
        ("1000", "1000")
    );
    tokens.settle(a, 500);
    settled("500");
    assert_eq!(total("day"), "500");
    let b = tokens.reserve(500, None).await.unwrap().expect("reserved");
    tokens.settle(b, 100);
    settled("600");
    let c = tokens.reserve(400, None).await.unwrap().expect("reserved");
    tokens.settle(c, 400);
    assert_eq!(
        (total("minute").as_str(), total("day").as_str()),
        ("1000", "1000")
    );

    // Full by the minute: nothing in flight, so a short deadline sheds at once, told to come
    // back when the oldest second leaves the window (61-62 s).
    let started = Instant::now();
    let shed = tokens
        .reserve(
            100,
            Some(tokio::time::Instant::now() + Duration::from_secs(5)),
        )
        .await
        .unwrap_err();
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    assert!(
        (Duration::from_secs(60)..=Duration::from_secs(62)).contains(&shed.retry_after),
        "{shed:?}"
    );
    // Past the day's 1,200 it is the day window that decides: about a day.
    let shed = tokens
        .reserve(
            250,
            Some(tokio::time::Instant::now() + Duration::from_secs(5)),
        )
        .await
        .unwrap_err();
    assert!(
        shed.retry_after >= Duration::from_secs(1441 * 60),
        "{shed:?}"
    );
    // Refused reservations left nothing behind.
    assert_eq!(
        (total("minute").as_str(), total("day").as_str()),
        ("1000", "1000")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_redis_down_the_token_budget_falls_back_to_a_share_and_fails_nothing() {
    let emulator = emulator().await;
    let mut redis = RedisServer::start();
    let pod_params = format!("{}      limiter_max_wait: \"0s\"\n", params());
    let spicepod = format!(
        "{}runtime:\n  redis:\n    url: ${{ secrets:REDIS_URL }}\n    replicas: 4\n",
        spicepod_text(&emulator, &entry("titan", TITAN, &pod_params))
    );
    let replicas = replicas(1, &spicepod, &emulator, Some(&redis)).await;
    let http = reqwest::Client::new();
    let post = |text: String| {
        http.post(format!("{}/v1/embeddings", replicas[0].base))
            .json(&json!({"model": "titan", "input": text}))
            .send()
    };
    assert_eq!(post("shared".into()).await.unwrap().status(), 200);
    let used = || emulator.stats().model(TITAN).map_or(0, |m| m.input_tokens);
    let before = used();
    redis.kill();
    // This replica's share: 20,000 / 4 = 5,000 tokens a minute. Texts of ~1,000 tokens (the
    // emulator counts a token per symbol) fit four or five times; the others are shed
    // (limiter_max_wait 0s). Nothing fails otherwise.
    let mut statuses = Vec::new();
    for i in 0..12 {
        let text = format!("{i:04} {}", "!".repeat(995));
        statuses.push(post(text).await.unwrap().status().as_u16());
    }
    let ok = statuses.iter().filter(|s| **s == 200).count();
    assert!(
        statuses.iter().all(|s| *s == 200 || *s == 429),
        "{statuses:?}"
    );
    let spent = used() - before;
    assert!(
        spent <= 5_000,
        "{spent} tokens spent on a 5,000 share: {statuses:?}"
    );
    // The whole budget would have taken all twelve.
    assert!(
        (4..12).contains(&ok),
        "{ok} answered: {statuses:?}\n{}",
        replicas[0].log()
    );
    let log = replicas[0].log();
    assert!(log.contains("share of the token budget"), "{log}");
    assert!(log.contains("tokens_per_min_limit=5000"), "{log}");
    assert_eq!(
        emulator
            .stats()
            .model(TITAN)
            .unwrap()
            .errors
            .get("ThrottlingException"),
        None
    );
}
