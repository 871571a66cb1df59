//! Scale-out on Redis, end to end: real `bedrock-embed run` processes (replicas), one real
//! `redis-server`, one emulator on 127.0.0.1, real HTTP.
//!
//! The limiter's precision over a full minute at 600/min is in `just bench` (section
//! `replicas`); here the same assertions run scaled down (shorter, faster) to fit CI.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bedrock_embed_tests::codec_dir::vectors;
use bedrock_embed_tests::hosted::{emulator_secrets, entry, spicepod_text};
use bedrock_embed_tests::redis_server::RedisServer;
use bedrock_embed_tests::replica::Replica;
use bedrock_emulator::{Config, Emulator, FaultConfig};
use serde_json::{Value, json};

const TITAN: &str = "amazon.titan-embed-text-v2:0";
const COHERE: &str = "cohere.embed-english-v3";

async fn emulator() -> Emulator {
    bedrock_emulator::spawn(Config::new().with_call_log_capacity(100_000))
        .await
        .expect("emulator")
}

/// A spicepod of one model with `params` (YAML lines, six-space indented) and `runtime`
/// (YAML, two-space indented under `runtime:`).
fn pod(emulator: &Emulator, name: &str, model_id: &str, params: &str, runtime: &str) -> String {
    format!(
        "{}runtime:\n{runtime}",
        spicepod_text(emulator, &entry(name, model_id, params))
    )
}

const CACHE: &str = "  caching:\n    embeddings:\n      max_size: 64MiB\n      item_ttl: 10m\n";
const REDIS: &str = "  redis:\n    url: ${ secrets:REDIS_URL }\n";

async fn replicas(
    n: usize,
    spicepod: &str,
    emulator: &Emulator,
    redis: &RedisServer,
) -> Vec<Replica> {
    let secrets = emulator_secrets(emulator);
    let url = redis.url();
    let mut env: Vec<(&str, &str)> = secrets
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    env.push(("REDIS_URL", &url));
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(Replica::start(spicepod, &env).await);
    }
    out
}

/// `POST /v1/embeddings`: status, `x-cache`, body.
async fn post(
    http: &reqwest::Client,
    replica: &Replica,
    model: &str,
    input: Value,
    no_cache: bool,
) -> (u16, Option<String>, Value) {
    let mut req = http
        .post(format!("{}/v1/embeddings", replica.base))
        .json(&json!({"model": model, "input": input}));
    if no_cache {
        req = req.header("cache-control", "no-cache");
    }
    let resp = req.send().await.expect("request sent");
    let status = resp.status().as_u16();
    let cache = resp
        .headers()
        .get("x-cache")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    (status, cache, resp.json().await.unwrap_or(Value::Null))
}

/// Clients that each send one-text requests back to back to their replica until `stop`;
/// answers (ok, failed, failures' first bodies).
async fn load(
    replicas: &[Replica],
    per_replica: usize,
    model: &'static str,
    run_for: Duration,
) -> (u64, u64, Vec<String>) {
    let http = reqwest::Client::new();
    let ok = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(std::sync::Mutex::new(Vec::new()));
    let end = Instant::now() + run_for;
    let mut tasks = Vec::new();
    for (r, replica) in replicas.iter().enumerate() {
        for c in 0..per_replica {
            let (http, base) = (http.clone(), replica.base.clone());
            let (ok, failed, failures) = (ok.clone(), failed.clone(), failures.clone());
            tasks.push(tokio::spawn(async move {
                let mut i = 0u64;
                while Instant::now() < end {
                    i += 1;
                    let resp = http
                        .post(format!("{base}/v1/embeddings"))
                        .json(&json!({"model": model, "input": format!("replica {r} client {c} request {i}")}))
                        .send()
                        .await;
                    match resp {
                        Ok(r) if r.status().is_success() => {
                            ok.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(r) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            let text = format!("{}: {}", r.status(), r.text().await.unwrap_or_default());
                            failures.lock().unwrap().push(text);
                        }
                        Err(e) => {
                            failed.fetch_add(1, Ordering::Relaxed);
                            failures.lock().unwrap().push(e.to_string());
                        }
                    }
                }
            }));
        }
    }
    for t in tasks {
        t.await.expect("client task");
    }
    let failures = failures.lock().unwrap().iter().take(5).cloned().collect();
    (
        ok.load(Ordering::Relaxed),
        failed.load(Ordering::Relaxed),
        failures,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_share_one_request_budget() {
    // CI scale of the 600/min over 60 s windows: 1,200/min over 10 s windows (200 a
    // window), 22 s of load. GCRA with burst 1 allows one attempt over the budget in a window.
    const PER_MIN: u64 = 1200;
    const WINDOW: Duration = Duration::from_secs(10);
    let budget_per_window = PER_MIN * WINDOW.as_secs() / 60;
    let emulator = emulator().await;
    let redis = RedisServer::start();
    let spicepod = pod(
        &emulator,
        "titan",
        TITAN,
        &format!(
            "      requests_per_min_limit: \"{PER_MIN}\"\n      max_concurrent_invocations: \"50\"\n"
        ),
        REDIS,
    );
    let replicas = replicas(3, &spicepod, &emulator, &redis).await;
    emulator.reset();
    let (ok, failed, failures) = load(&replicas, 6, "titan", Duration::from_secs(22)).await;
    assert_eq!(failed, 0, "{failures:?}");
    let stats = emulator.stats();
    let titan = stats.model(TITAN).expect("titan calls");
    assert_eq!(titan.accepted, ok, "one call per request");
    let most = stats.max_accepted_in_window(WINDOW) as u64;
    // The emulator sees arrivals, not grants: on a loaded 2-core machine a granted call can
    // reach it up to ~500 ms late (debug builds, three replicas, Redis and the emulator on two
    // cores), which squeezes up to 10 calls granted 50 ms apart into one window (seen: 207).
    // Replicas that did not share the budget would put ~3× the budget in a window.
    const ARRIVAL_JITTER_CALLS: u64 = 10;
    assert!(
        most <= budget_per_window + 1 + ARRIVAL_JITTER_CALLS,
        "{most} calls in a {WINDOW:?} window; the shared budget is {budget_per_window} (+1 burst, \
         +{ARRIVAL_JITTER_CALLS} for arrivals delayed on a loaded machine)"
    );
    // ≥ 95% used: over the span of the calls, the rate the emulator saw.
    let arrivals = stats.accepted_arrivals_ms();
    let span_ms = (arrivals.last().unwrap() - arrivals.first().unwrap()) as f64;
    let seen_per_min = (arrivals.len() - 1) as f64 * 60_000.0 / span_ms;
    assert!(
        seen_per_min >= 0.95 * PER_MIN as f64,
        "the replicas used {seen_per_min:.0}/min of {PER_MIN}/min"
    );
    // Every replica ran on the shared budget (no fall-back to a local share on the way).
    for r in &replicas {
        assert!(
            r.log().contains("limiters and cache are shared"),
            "{}",
            r.log()
        );
        assert!(!r.log().contains("failed ("), "{}", r.log());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_flight_across_replicas_never_passes_the_cap() {
    let emulator =
        bedrock_emulator::spawn(Config::new().with_call_log_capacity(100_000).with_faults(
            FaultConfig {
                latency_ms: 150,
                ..FaultConfig::default()
            },
        ))
        .await
        .expect("emulator");
    let redis = RedisServer::start();
    let spicepod = pod(
        &emulator,
        "titan",
        TITAN,
        "      requests_per_min_limit: \"60000\"\n      max_concurrent_invocations: \"4\"\n",
        REDIS,
    );
    let replicas = replicas(3, &spicepod, &emulator, &redis).await;
    emulator.reset();
    let (ok, failed, failures) = load(&replicas, 4, "titan", Duration::from_secs(6)).await;
    assert_eq!(failed, 0, "{failures:?}");
    let stats = emulator.stats();
    let titan = stats.model(TITAN).expect("titan calls");
    assert!(
        titan.max_in_flight <= 4,
        "{} calls in flight at once across 3 replicas; the cap is 4",
        titan.max_in_flight
    );
    // The cap was reached (shared, not merely slow): 4 slots × 150 ms over 6 s ≈ 160 calls.
    assert_eq!(titan.max_in_flight, 4);
    assert!(ok >= 80, "only {ok} calls in 6 s at 4 in flight of 150 ms");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_text_embedded_on_one_replica_is_a_cache_hit_on_another() {
    let emulator = emulator().await;
    let redis = RedisServer::start();
    let spicepod = pod(&emulator, "titan", TITAN, "", &format!("{CACHE}{REDIS}"));
    let replicas = replicas(2, &spicepod, &emulator, &redis).await;
    let http = reqwest::Client::new();
    emulator.reset();
    let (status, cache, a) =
        post(&http, &replicas[0], "titan", json!("the same text"), false).await;
    assert_eq!((status, cache.as_deref()), (200, Some("miss")), "{a}");
    let (status, cache, b) =
        post(&http, &replicas[1], "titan", json!("the same text"), false).await;
    assert_eq!((status, cache.as_deref()), (200, Some("hit")), "{b}");
    assert_eq!(emulator.stats().attempted, 1, "one Bedrock call for both");
    assert_eq!(vectors(&a), vectors(&b));
    assert!(a["usage"]["prompt_tokens"].as_u64().unwrap() > 0);
    assert_eq!(
        b["usage"]["prompt_tokens"], 0,
        "nothing was billed for a hit"
    );
    // no-cache skips the lookup (a call) and still stores.
    let (status, cache, _) = post(&http, &replicas[1], "titan", json!("the same text"), true).await;
    assert_eq!((status, cache.as_deref()), (200, Some("miss")));
    assert_eq!(emulator.stats().attempted, 2);
    // Another dimension is another vector: not a hit.
    let resp = http
        .post(format!("{}/v1/embeddings", replicas[0].base))
        .json(&json!({"model": "titan", "input": "the same text", "dimensions": 256}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.headers()["x-cache"], "miss");
    assert_eq!(emulator.stats().attempted, 3);
    // The value in Redis is the vector as little-endian f32 bytes, with item_ttl as expiry.
    let keys = redis.command("KEYS bedrock-embed:emb:*");
    assert_eq!(keys.matches("bedrock-embed:emb:").count(), 2, "{keys}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ninety_of_ninety_six_cached_makes_one_call_of_the_other_six_in_input_order() {
    let emulator = emulator().await;
    let redis = RedisServer::start();
    let spicepod = pod(
        &emulator,
        "cohere",
        COHERE,
        "      input_type: search_document\n",
        &format!("{CACHE}{REDIS}"),
    );
    let replicas = replicas(1, &spicepod, &emulator, &redis).await;
    let http = reqwest::Client::new();
    let texts: Vec<String> = (0..96)
        .map(|i| format!("document number {i} about topic {}", i % 7))
        .collect();
    // 90 of them first (the cached ones: every third text is new later, 6 of them at the end).
    let new: Vec<usize> = vec![3, 20, 41, 62, 80, 95];
    let first: Vec<&String> = (0..96)
        .filter(|i| !new.contains(i))
        .map(|i| &texts[i])
        .collect();
    let (status, cache, _) = post(&http, &replicas[0], "cohere", json!(first), false).await;
    assert_eq!((status, cache.as_deref()), (200, Some("miss")));
    emulator.reset();
    let (status, cache, partial) = post(&http, &replicas[0], "cohere", json!(texts), false).await;
    assert_eq!(
        (status, cache.as_deref()),
        (200, Some("partial")),
        "{partial}"
    );
    let stats = emulator.stats();
    assert_eq!(stats.attempted, 1, "one call for the six misses");
    let sent = &emulator.requests()[0];
    let sent_texts: Vec<&str> = sent.body["texts"]
        .as_array()
        .expect("a Cohere body")
        .iter()
        .map(|t| t.as_str().unwrap())
        .collect();
    let want: Vec<&str> = new.iter().map(|&i| texts[i].as_str()).collect();
    assert_eq!(sent_texts, want);
    // usage: only what Bedrock billed for the six.
    assert_eq!(
        partial["usage"]["prompt_tokens"].as_u64(),
        Some(stats.model(COHERE).unwrap().input_tokens)
    );
    // In input order: the same vectors as all 96 sent to Bedrock fresh.
    let (status, cache, fresh) = post(&http, &replicas[0], "cohere", json!(texts), true).await;
    assert_eq!((status, cache.as_deref()), (200, Some("miss")));
    assert_eq!(vectors(&partial), vectors(&fresh));
    let indexes: Vec<u64> = partial["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, (0..96).collect::<Vec<u64>>());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_killed_mid_load_fails_no_request_and_shared_mode_comes_back() {
    const PER_MIN: u64 = 1200;
    let emulator = emulator().await;
    let mut redis = RedisServer::start();
    let spicepod = pod(
        &emulator,
        "titan",
        TITAN,
        &format!("      requests_per_min_limit: \"{PER_MIN}\"\n"),
        &format!("{CACHE}{REDIS}"),
    );
    let replicas = Arc::new(replicas(2, &spicepod, &emulator, &redis).await);
    let http = reqwest::Client::new();
    emulator.reset();
    let loader = {
        let replicas = Arc::clone(&replicas);
        tokio::spawn(async move { load(&replicas, 4, "titan", Duration::from_secs(12)).await })
    };
    tokio::time::sleep(Duration::from_secs(2)).await;
    redis.kill();
    let killed = emulator.stats().accepted;
    let killed_at = Instant::now();
    tokio::time::sleep(Duration::from_secs(4)).await;
    let down_calls = emulator.stats().accepted - killed;
    let down_for = killed_at.elapsed();
    redis.restart();
    // Back to shared within a few heartbeats.
    let deadline = Instant::now() + Duration::from_secs(10);
    for r in replicas.iter() {
        loop {
            if r.metrics(&http).await.contains("bedrock_embed_redis_up 1") {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "shared mode did not come back:\n{}",
                r.log()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    let (ok, failed, failures) = loader.await.unwrap();
    assert_eq!(failed, 0, "{failures:?}");
    assert!(ok > 100, "{ok}");
    // While Redis was down each replica ran on its share (1/2, the replicas it had seen): the
    // two together stayed within the budget.
    let budget = PER_MIN as f64 * down_for.as_secs_f64() / 60.0;
    assert!(
        down_calls as f64 <= budget + 3.0,
        "{down_calls} calls in {down_for:?} with Redis down; the budget is {budget:.0}"
    );
    for r in replicas.iter() {
        let log = r.log();
        assert_eq!(
            log.matches("failed (").count(),
            1,
            "the fall-back is logged once:\n{log}"
        );
        assert!(log.contains("limiters and cache are shared"), "{log}");
        let metrics = r.metrics(&http).await;
        assert!(
            metrics.contains("bedrock_embed_redis_fallbacks_total 1"),
            "{metrics}"
        );
    }
    // Shared limiting works again after the restart: new TAT key in the new Redis.
    assert!(
        redis
            .command("KEYS bedrock-embed:limiter:*")
            .contains("tat")
    );
}
