//! Fault injection and the stats view, observed from the outside.

mod common;

use bedrock_emulator::{Config, FaultConfig, spawn};
use common::{client, code_of, invoke};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

const TITAN: &str = "amazon.titan-embed-text-v2:0";

async fn throttles_in_100(emu: &bedrock_emulator::Emulator) -> usize {
    let c = client(emu);
    let mut throttled = 0;
    for i in 0..100 {
        match invoke(&c, TITAN, json!({"inputText": format!("call {i}")})).await {
            Ok(_) => {}
            Err(e) => {
                assert_eq!(code_of(&e), "ThrottlingException");
                throttled += 1;
            }
        }
    }
    throttled
}

#[tokio::test]
async fn twenty_percent_throttling_is_about_twenty_and_repeatable() {
    let emu = spawn(Config::default().with_seed(7).with_faults(FaultConfig {
        throttle_rate: 0.2,
        ..Default::default()
    }))
    .await
    .unwrap();
    let first = throttles_in_100(&emu).await;
    assert!((10..=30).contains(&first), "{first} throttled");
    let s = emu.stats();
    assert_eq!(s.attempted, 100);
    assert_eq!(s.errors["ThrottlingException"] as usize, first);
    assert_eq!(s.accepted as usize, 100 - first);
    // Same seed after a reset: the very same outcome.
    emu.reset();
    assert_eq!(throttles_in_100(&emu).await, first);
    emu.shutdown().await;
}

#[tokio::test]
async fn five_xx_and_not_ready_rates() {
    let faults = FaultConfig {
        internal_error_rate: 0.1,
        unavailable_rate: 0.1,
        model_not_ready_rate: 0.1,
        ..Default::default()
    };
    let emu = spawn(Config::default().with_seed(3).with_faults(faults))
        .await
        .unwrap();
    let c = client(&emu);
    for i in 0..60 {
        let _ = invoke(&c, TITAN, json!({"inputText": format!("{i}")})).await;
    }
    let s = emu.stats();
    for code in [
        "InternalServerException",
        "ServiceUnavailableException",
        "ModelNotReadyException",
    ] {
        let n = s.errors.get(code).copied().unwrap_or(0);
        assert!((1..=15).contains(&n), "{code}: {n}");
    }
    emu.shutdown().await;
}

#[tokio::test]
async fn max_in_flight_is_observed() {
    let emu = spawn(Config::default().with_faults(FaultConfig {
        latency_ms: 300,
        ..Default::default()
    }))
    .await
    .unwrap();
    let c = client(&emu);

    // 8 at once.
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let c = c.clone();
            tokio::spawn(async move {
                invoke(&c, TITAN, json!({"inputText": format!("p{i}")}))
                    .await
                    .is_ok()
            })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap());
    }
    let s = emu.stats();
    assert_eq!(s.max_in_flight, 8);
    assert_eq!(s.in_flight, 0);
    assert_eq!(s.model(TITAN).unwrap().max_in_flight, 8);

    // Capped at 3 by the client: the emulator sees 3.
    emu.reset();
    let sem = Arc::new(tokio::sync::Semaphore::new(3));
    let tasks: Vec<_> = (0..9)
        .map(|i| {
            let (c, sem) = (c.clone(), sem.clone());
            tokio::spawn(async move {
                let _permit = sem.acquire().await.unwrap();
                invoke(&c, TITAN, json!({"inputText": format!("q{i}")}))
                    .await
                    .is_ok()
            })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap());
    }
    let s = emu.stats();
    assert_eq!(s.max_in_flight, 3);
    assert_eq!(s.accepted, 9);
    // ~3 waves of 300 ms: the timeline shows it.
    assert!(s.max_attempted_in_window(Duration::from_millis(250)) <= 3 + 1);
    emu.shutdown().await;
}

#[tokio::test]
async fn latency_jitter_and_timeline() {
    let emu = spawn(Config::default().with_model_faults(
        "cohere.embed-v4:0",
        FaultConfig {
            latency_ms: 120,
            jitter_ms: 30,
            ..Default::default()
        },
    ))
    .await
    .unwrap();
    let c = client(&emu);
    invoke(
        &c,
        "us.cohere.embed-v4:0",
        json!({"texts": ["slow"], "input_type": "search_query"}),
    )
    .await
    .unwrap();
    invoke(&c, TITAN, json!({"inputText": "fast"}))
        .await
        .unwrap();
    // The emulator's own arrival and finish times, not the client's wall clock (signing, the
    // SDK and scheduling on a loaded machine are not in them): the latency applies to the
    // model it was set for (≥ 120 ms: a sleep is never short) and not to the other, which has
    // no sleep and does well under 120 ms of work.
    let took: Vec<u64> = emu
        .stats()
        .recent_calls
        .iter()
        .map(|c| (c.finished_us - c.arrived_us) / 1000)
        .collect();
    assert!(took[0] >= 120, "cohere took {took:?} ms");
    assert!(took[1] < 120, "titan took {took:?} ms");

    // Spaced calls: the arrivals show the spacing.
    emu.reset();
    for i in 0..4 {
        invoke(&c, TITAN, json!({"inputText": format!("{i}")}))
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let s = emu.stats();
    let arr = s.accepted_arrivals_ms();
    assert_eq!(arr.len(), 4);
    for w in arr.windows(2) {
        assert!(w[1] - w[0] >= 95, "{arr:?}");
    }
    assert_eq!(s.per_second.iter().map(|b| b.accepted).sum::<u64>(), 4);
    assert_eq!(s.max_accepted_in_window(Duration::from_millis(90)), 1);
    assert_eq!(s.max_accepted_in_window(Duration::from_secs(10)), 4);
    emu.shutdown().await;
}

#[tokio::test]
async fn http_control_endpoints() {
    let emu = spawn(Config::default()).await.unwrap();
    let c = client(&emu);
    invoke(&c, TITAN, json!({"inputText": "logged"}))
        .await
        .unwrap();
    let http = reqwest::Client::new();
    let base = emu.endpoint_url();

    let stats: serde_json::Value = http
        .get(format!("{base}/_emulator/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["accepted"], 1);
    assert_eq!(stats["models"][TITAN]["attempted"], 1);
    assert!(stats["per_second"].as_array().unwrap().len() == 1);
    assert!(stats["recent_calls"][0]["arrived_ms"].is_u64());

    let reqs: serde_json::Value = http
        .get(format!("{base}/_emulator/requests"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reqs[0]["model_id"], TITAN);
    assert_eq!(reqs[0]["body"]["inputText"], "logged");

    // Flip a model to a permanent 403 over HTTP.
    let r = http
        .put(format!("{base}/_emulator/faults"))
        .json(&json!({"models": {TITAN: {"always": "AccessDeniedException"}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        code_of(
            &invoke(&c, TITAN, json!({"inputText": "x"}))
                .await
                .unwrap_err()
        ),
        "AccessDeniedException"
    );
    let bad = http
        .put(format!("{base}/_emulator/faults"))
        .json(&json!({"default": {"throttle_rate": 3}}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);

    let r = http
        .post(format!("{base}/_emulator/reset"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let stats: serde_json::Value = http
        .get(format!("{base}/_emulator/stats"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stats["attempted"], 0);
    assert!(emu.requests().is_empty());
    emu.shutdown().await;
}
