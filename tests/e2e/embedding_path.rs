//! The embedding path end to end: spicepod params → built-in wasm codecs → limiter and retries
//! → the real aws-sdk (SigV4) → the emulator on 127.0.0.1, checked from the emulator's side.

use std::time::Duration;

use bedrock_embed::aws::{FailureKind, RetryBudget};
use bedrock_embed::embedder::{EmbedError, Embedder};
use bedrock_embed_tests::hosted::{build, emulator_secrets, entry, spicepod_text};
use bedrock_emulator::{Config, Emulator, ErrorCode, FaultConfig};
use serde_json::json;

fn texts(n: usize, tag: &str) -> Vec<String> {
    (0..n)
        .map(|i| format!("{tag} document number {i} about embeddings"))
        .collect()
}

/// The embedder a spicepod of `entries` builds against `emulator`, with [`quick_retries`].
async fn embedder_for(emulator: &Emulator, entries: &str) -> Embedder {
    let text = spicepod_text(emulator, entries);
    build(&text, &emulator_secrets(emulator), quick_retries())
        .await
        .unwrap()
}

/// Retries fast enough for tests, with room for many throttles.
fn quick_retries() -> RetryBudget {
    RetryBudget {
        max_attempts: 12,
        max_elapsed: Duration::from_secs(20),
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(50),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn titan_params_shape_the_body_and_the_vectors() {
    let emulator = bedrock_emulator::spawn(Config::new()).await.unwrap();
    let embedder = embedder_for(
        &emulator,
        &[
            entry("titan-default", "amazon.titan-embed-text-v2:0", ""),
            entry(
                "titan-small",
                "amazon.titan-embed-text-v2:0",
                "      dimensions: \"256\"\n      normalize: false\n",
            ),
        ]
        .concat(),
    )
    .await;

    let out = embedder
        .embed("titan-default", vec!["Hello world".into()], None)
        .await
        .unwrap();
    assert_eq!(out.vectors[0].len(), 1024);
    // The tokens the emulator counted (and reported in inputTextTokenCount).
    assert_eq!(
        out.prompt_tokens,
        u64::from(bedrock_emulator::token_count("Hello world"))
    );
    let out = embedder
        .embed("titan-small", vec!["Hello world".into()], None)
        .await
        .unwrap();
    assert_eq!(out.vectors[0].len(), 256);
    let out = embedder
        .embed("titan-small", vec!["Hello world".into()], Some(512))
        .await
        .unwrap();
    assert_eq!(out.vectors[0].len(), 512);

    let bodies: Vec<_> = emulator.requests().into_iter().map(|r| r.body).collect();
    assert_eq!(
        bodies,
        vec![
            json!({"inputText": "Hello world", "dimensions": 1024, "normalize": true}),
            json!({"inputText": "Hello world", "dimensions": 256, "normalize": false}),
            json!({"inputText": "Hello world", "dimensions": 512, "normalize": false}),
        ]
    );
    // The vectors are the emulator's own for that text and those params.
    assert_eq!(
        out.vectors[0],
        bedrock_emulator::embed("Hello world", 512, false)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cohere_params_shape_the_body_and_region_reaches_the_signature() {
    let emulator = bedrock_emulator::spawn(Config::new()).await.unwrap();
    let embedder = embedder_for(
        &emulator,
        &entry(
            "cohere",
            "cohere.embed-english-v3",
            "      aws_region: eu-west-1\n      input_type: classification\n      truncate: END\n",
        ),
    )
    .await;
    let out = embedder
        .embed(
            "cohere",
            vec!["first sentence".into(), "the second one!".into()],
            None,
        )
        .await
        .unwrap();
    assert_eq!(out.vectors.len(), 2);
    // Cohere reports tokens only in the X-Amzn-Bedrock-Input-Token-Count header.
    assert_eq!(
        out.prompt_tokens,
        u64::from(
            bedrock_emulator::token_count("first sentence")
                + bedrock_emulator::token_count("the second one!")
        ),
        "usage from the header"
    );
    assert_eq!(
        out.prompt_tokens,
        emulator.stats().models["cohere.embed-english-v3"].input_tokens
    );
    let requests = emulator.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].body,
        json!({"texts": ["first sentence", "the second one!"], "input_type": "classification", "truncate": "END"})
    );
    assert_eq!(requests[0].region.as_deref(), Some("eu-west-1"));
    assert_eq!(
        requests[0].access_key_id.as_deref(),
        Some(emulator.access_key_id())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cohere_200_texts_make_3_calls_and_keep_their_order() {
    let emulator = bedrock_emulator::spawn(Config::new()).await.unwrap();
    let embedder = embedder_for(&emulator, &entry("cohere", "cohere.embed-english-v3", "")).await;
    let inputs = texts(200, "cohere");
    let out = embedder
        .embed("cohere", inputs.clone(), None)
        .await
        .unwrap();
    assert_eq!(out.invocations, 3);
    assert_eq!(
        emulator
            .stats()
            .model("cohere.embed-english-v3")
            .unwrap()
            .accepted,
        3
    );
    assert_eq!(out.vectors.len(), 200);
    for (i, text) in inputs.iter().enumerate() {
        assert_eq!(
            out.vectors[i],
            // The Cohere codec's default input_type.
            bedrock_emulator::embed_as(text, 1024, true, Some("search_document")),
            "vector {i} is the one for its text"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn titan_50_texts_make_50_calls_under_the_concurrency_cap() {
    let config = Config::new();
    let emulator = bedrock_emulator::spawn(config).await.unwrap();
    emulator
        .set_default_faults(FaultConfig {
            latency_ms: 30,
            jitter_ms: 20,
            ..FaultConfig::default()
        })
        .unwrap();
    // A rate limit far above what 50 calls need, so only the concurrency cap binds.
    let embedder = embedder_for(
        &emulator,
        &entry(
            "titan",
            "amazon.titan-embed-text-v2:0",
            "      max_concurrent_invocations: 4\n      requests_per_min_limit: 600000\n",
        ),
    )
    .await;
    let inputs = texts(50, "titan");
    let out = embedder.embed("titan", inputs.clone(), None).await.unwrap();
    assert_eq!(out.invocations, 50);
    assert_eq!(out.vectors.len(), 50);
    for (i, text) in inputs.iter().enumerate() {
        assert_eq!(
            out.vectors[i],
            bedrock_emulator::embed(text, 1024, true),
            "vector {i} in input order"
        );
    }
    let stats = emulator.stats();
    assert_eq!(stats.accepted, 50);
    assert!(
        stats.max_in_flight <= 4,
        "at most 4 in flight, saw {}",
        stats.max_in_flight
    );
    assert_eq!(
        stats.max_in_flight, 4,
        "the cap is reached, not just respected"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_call_rate_stays_under_requests_per_min_limit() {
    let emulator = bedrock_emulator::spawn(Config::new()).await.unwrap();
    // 120/min: one call every 500 ms.
    let embedder = embedder_for(
        &emulator,
        &entry(
            "titan",
            "amazon.titan-embed-text-v2:0",
            "      requests_per_min_limit: 120\n",
        ),
    )
    .await;
    let started = std::time::Instant::now();
    embedder
        .embed("titan", texts(6, "rate"), None)
        .await
        .unwrap();
    let elapsed = started.elapsed();
    let stats = emulator.stats();
    let arrivals: Vec<u64> = stats.recent_calls.iter().map(|c| c.arrived_us).collect();
    assert_eq!(arrivals.len(), 6);
    // The limiter lets call k leave k × 500 ms after the first; each reaches the emulator some
    // time after it leaves. Measured at the emulator against the first arrival, only the first
    // call's delay can make a later one look early: 250 ms of it is allowed (a loaded 2-core
    // machine), while a burst would put a call ~500 ms early.
    for (k, arrived) in arrivals.iter().enumerate().skip(1) {
        let after_first = arrived - arrivals[0];
        assert!(
            after_first + 250_000 >= k as u64 * 500_000,
            "call {k} arrived {after_first} µs after the first: {arrivals:?}"
        );
    }
    assert!(
        elapsed >= Duration::from_millis(2400),
        "6 calls at 120/min take ≥ 2.5 s, took {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttles_and_server_errors_are_retried_until_every_request_succeeds() {
    let emulator = bedrock_emulator::spawn(Config::new().with_seed(7))
        .await
        .unwrap();
    emulator
        .set_default_faults(FaultConfig {
            throttle_rate: 0.20,
            internal_error_rate: 0.05,
            ..FaultConfig::default()
        })
        .unwrap();
    let embedder = embedder_for(
        &emulator,
        &[
            entry("titan", "amazon.titan-embed-text-v2:0", ""),
            entry("cohere", "cohere.embed-english-v3", ""),
        ]
        .concat(),
    )
    .await;
    let mut attempts = 0;
    for round in 0..10 {
        let out = embedder
            .embed("titan", texts(8, &format!("round {round}")), None)
            .await
            .unwrap();
        assert_eq!(out.vectors.len(), 8);
        attempts += out.attempts;
        let out = embedder
            .embed("cohere", texts(100, &format!("round {round}")), None)
            .await
            .unwrap();
        assert_eq!(out.vectors.len(), 100);
        attempts += out.attempts;
    }
    let stats = emulator.stats();
    let throttled = stats
        .errors
        .get("ThrottlingException")
        .copied()
        .unwrap_or(0);
    let internal = stats
        .errors
        .get("InternalServerException")
        .copied()
        .unwrap_or(0);
    assert!(
        throttled > 0 && internal > 0,
        "faults were injected: {:?}",
        stats.errors
    );
    // 10 × (8 + 2) calls succeeded; every rejected attempt was retried.
    assert_eq!(stats.accepted, 100);
    assert_eq!(u64::from(attempts), stats.attempted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn access_denied_names_the_iam_action_and_others_keep_working() {
    let emulator =
        bedrock_emulator::spawn(Config::new().with_allowed_models([
            "arn:aws:bedrock:*::foundation-model/amazon.titan-embed-text-v2:0",
        ]))
        .await
        .unwrap();
    let embedder = embedder_for(
        &emulator,
        &[
            entry("titan", "amazon.titan-embed-text-v2:0", ""),
            entry("cohere", "cohere.embed-english-v3", ""),
        ]
        .concat(),
    )
    .await;
    let err = embedder
        .embed("cohere", vec!["denied".into()], None)
        .await
        .unwrap_err();
    let EmbedError::Bedrock {
        failure,
        message,
        attempts,
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(failure.kind, FailureKind::AccessDenied);
    assert_eq!(*attempts, 1, "403 is never retried");
    assert!(
        failure.request_id.is_some(),
        "the Bedrock request id is kept"
    );
    assert!(message.contains("bedrock:InvokeModel"), "{message}");
    assert!(
        message.contains("foundation-model/cohere.embed-english-v3"),
        "{message}"
    );
    embedder
        .embed("titan", vec!["allowed".into()], None)
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_keys_name_where_the_keys_came_from_and_never_the_secret() {
    let emulator = bedrock_emulator::spawn(Config::new()).await.unwrap();
    let text = spicepod_text(
        &emulator,
        &entry("titan", "amazon.titan-embed-text-v2:0", ""),
    );
    let wrong_secret = "wrongSecretValue/ShouldNeverBePrinted+42";
    let mut secrets = emulator_secrets(&emulator);
    secrets.insert("EMU_SECRET_KEY".into(), wrong_secret.into());
    let embedder = build(&text, &secrets, quick_retries()).await.unwrap();
    let err = embedder
        .embed("titan", vec!["x".into()], None)
        .await
        .unwrap_err();
    let EmbedError::Bedrock {
        failure, message, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(failure.kind, FailureKind::Auth);
    assert!(
        message.contains("aws_secret_access_key") || message.contains("EMU_SECRET_KEY"),
        "{message}"
    );
    for shown in [err.to_string(), format!("{err:?}")] {
        assert!(!shown.contains(wrong_secret), "the secret leaked: {shown}");
    }

    // An unknown key id is named by its source too.
    let mut secrets = emulator_secrets(&emulator);
    secrets.insert("EMU_KEY_ID".into(), "AKIAUNKNOWNKEY000000".into());
    let embedder = build(&text, &secrets, quick_retries()).await.unwrap();
    let err = embedder
        .embed("titan", vec!["x".into()], None)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("aws_access_key_id"), "{err}");
    assert!(!format!("{err:?}").contains(emulator.secret_access_key()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttling_that_outlasts_the_budget_fails_the_whole_request() {
    let emulator = bedrock_emulator::spawn(Config::new()).await.unwrap();
    emulator
        .set_model_faults(
            "cohere.embed-english-v3",
            FaultConfig {
                always: Some(ErrorCode::ThrottlingException),
                ..FaultConfig::default()
            },
        )
        .unwrap();
    let text = spicepod_text(&emulator, &entry("cohere", "cohere.embed-english-v3", ""));
    let budget = RetryBudget {
        max_attempts: 3,
        ..quick_retries()
    };
    let embedder = build(&text, &emulator_secrets(&emulator), budget)
        .await
        .unwrap();
    let err = embedder
        .embed("cohere", texts(150, "throttled"), None)
        .await
        .unwrap_err();
    let EmbedError::Bedrock {
        failure, message, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(failure.kind, FailureKind::Throttled);
    assert!(err.retry_after().is_some());
    assert!(message.contains("requests_per_min_limit"), "{message}");
    // Two invocations (150 texts, 96 per call): the one that fails first was retried to its
    // budget of 3 attempts (no retries would be 2 attempts in all), none went past it, and
    // nothing partial comes back.
    let stats = emulator.stats();
    assert!((3..=6).contains(&stats.attempted), "{stats:?}");
    assert_eq!(
        stats.errors.get("ThrottlingException"),
        Some(&stats.attempted)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_models_and_bad_requests_are_typed() {
    let emulator = bedrock_emulator::spawn(Config::new()).await.unwrap();
    let embedder = embedder_for(
        &emulator,
        &entry("titan", "amazon.titan-embed-text-v2:0", ""),
    )
    .await;
    let err = embedder
        .embed("nope", vec!["x".into()], None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, EmbedError::UnknownModel { .. }) && err.to_string().contains("titan"),
        "{err}"
    );
    let err = embedder
        .embed("titan", vec!["x".into()], Some(300))
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EmbedError::Codec(c) if c.is_client_error()),
        "{err:?}"
    );
    assert!(err.to_string().contains("256"), "{err}");
    assert_eq!(
        emulator.stats().attempted,
        0,
        "bad requests never reach Bedrock"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_arn_that_names_no_model_is_served_through_base_model() {
    let emulator = bedrock_emulator::spawn(Config::new()).await.unwrap();
    let arn = "arn:aws:bedrock:us-east-1:123456789012:imported-model/abc123";
    let without = spicepod_text(&emulator, &entry("imported", arn, ""));
    let err = build(&without, &emulator_secrets(&emulator), quick_retries())
        .await
        .err()
        .expect("an opaque ARN without base_model or codec is refused at load");
    let msg = err.to_string();
    assert!(
        msg.contains("imported-model") && msg.contains("params.base_model"),
        "{msg}"
    );

    let with = spicepod_text(
        &emulator,
        &entry(
            "imported",
            arn,
            "      base_model: amazon.titan-embed-text-v2:0\n      dimensions: \"256\"\n",
        ),
    );
    let embedder = build(&with, &emulator_secrets(&emulator), quick_retries())
        .await
        .unwrap();
    // The emulator serves no imported models: it answers as Bedrock does for an unknown id (400
    // "The provided model identifier is invalid.", which the host reports as a model it does
    // not know), but only after receiving the ARN exactly as written, with the body the Titan
    // codec built from the params.
    let err = embedder
        .embed("imported", vec!["hi".into()], None)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, EmbedError::Bedrock { failure, .. } if failure.kind == FailureKind::NotFound),
        "{err:?}"
    );
    let requests = emulator.requests();
    assert_eq!(requests[0].model_id, arn);
    assert_eq!(
        requests[0].body,
        json!({"inputText": "hi", "dimensions": 256, "normalize": true})
    );
}
