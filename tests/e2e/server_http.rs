//! The HTTP API end to end: a real Embedder (built-in wasm codecs, the real aws-sdk) against the
//! emulator on 127.0.0.1, served by `bedrock_embed::server::serve` on an ephemeral port, driven
//! with reqwest. Every error status of the API is produced the way it happens in production.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use base64::Engine as _;
use bedrock_embed::aws::{AwsOptions, RetryBudget};
use bedrock_embed::codec::Registry;
use bedrock_embed::embedder::Embedder;
use bedrock_embed::models::{self, BuildOptions, OfflineTarget};
use bedrock_embed::secrets::Secret;
use bedrock_embed::server::{self, AppState, ServerLimits};
use bedrock_embed::spicepod::Spicepod;
use bedrock_emulator::{Config, Emulator, ErrorCode, FaultConfig};
use serde_json::{Value, json};
use tokio::sync::oneshot;

const TITAN_V2: &str = "amazon.titan-embed-text-v2:0";

/// The models every harness serves.
const MODELS: &str = "
  - from: bedrock:amazon.titan-embed-text-v2:0
    name: titan
  - from: bedrock:amazon.titan-embed-text-v1
    name: titan-v1
  - from: bedrock:cohere.embed-english-v3
    name: cohere
  - from: bedrock:amazon.titan-embed-text-v2:0
    name: panics
    params:
      codec: test-panic
  - from: bedrock:cohere.embed-english-v3
    name: cohere-ubinary
    params:
      embedding_type: ubinary
";

struct Options {
    emulator: Config,
    retry: RetryBudget,
    aws: AwsOptions,
    limits: ServerLimits,
    api_keys: Vec<Secret>,
    /// Codec names left out of the embedder's registry (the models are built with all).
    drop_codecs: Vec<&'static str>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            emulator: Config::default(),
            retry: RetryBudget {
                max_attempts: 2,
                base_delay: Duration::from_millis(1),
                max_delay: Duration::from_millis(5),
                ..RetryBudget::default()
            },
            aws: AwsOptions::default(),
            limits: ServerLimits::default(),
            api_keys: Vec::new(),
            drop_codecs: Vec::new(),
        }
    }
}

struct Harness {
    emulator: Emulator,
    base: String,
    http: reqwest::Client,
    stop: Option<oneshot::Sender<()>>,
    served: tokio::task::JoinHandle<anyhow::Result<server::Drained>>,
    state: AppState,
}

impl Harness {
    async fn start(options: Options) -> Self {
        let emulator = bedrock_emulator::spawn(options.emulator)
            .await
            .expect("emulator starts");
        let text = format!("version: v1\nkind: Spicepod\nname: server-http\nembeddings:{MODELS}");
        let secrets: HashMap<String, String> = HashMap::new();
        let spicepod = Spicepod::parse(&text, Path::new("spicepod.yaml"), &secrets)
            .unwrap_or_else(|e| panic!("{e}"))
            .spicepod;
        let registry = bedrock_embed_tests::codecs::loaded().registry.clone();
        let build = BuildOptions {
            aws: options.aws,
            retry: options.retry,
            offline: Some(OfflineTarget {
                endpoint_url: emulator.endpoint_url(),
                access_key_id: emulator.access_key_id().to_string(),
                secret_access_key: emulator.secret_access_key().to_string(),
            }),
            ..BuildOptions::default()
        };
        let (models, _warnings) = models::build(&spicepod, &registry, &build)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        let served_registry = if options.drop_codecs.is_empty() {
            registry
        } else {
            let kept = registry
                .codecs()
                .iter()
                .filter(|c| !options.drop_codecs.contains(&c.name()))
                .cloned()
                .collect();
            Registry::new(kept).expect("subset has no conflicts")
        };
        let embedder = Embedder::new(models, Arc::new(ArcSwap::from_pointee(served_registry)));
        let state = AppState::new(Arc::new(embedder))
            .with_limits(options.limits)
            .with_api_keys(&options.api_keys);
        state.set_ready(true);

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = oneshot::channel::<()>();
        let served = tokio::spawn(server::serve(listener, state.clone(), async move {
            let _ = stopped.await;
        }));
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        Self {
            emulator,
            base,
            http,
            stop: Some(stop),
            served,
            state,
        }
    }

    async fn post(&self, body: Value) -> (u16, reqwest::header::HeaderMap, Value) {
        let response = self
            .http
            .post(format!("{}/v1/embeddings", self.base))
            .json(&body)
            .send()
            .await
            .unwrap();
        Self::read(response).await
    }

    async fn get(&self, path: &str) -> (u16, String) {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (response.status().as_u16(), response.text().await.unwrap())
    }

    async fn read(response: reqwest::Response) -> (u16, reqwest::header::HeaderMap, Value) {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap();
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{status}: not JSON ({e}): {text}"));
        (status, headers, body)
    }

    async fn shutdown(mut self) {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(10), &mut self.served)
            .await
            .expect("serve returns after shutdown")
            .unwrap()
            .unwrap();
        self.emulator.shutdown().await;
    }
}

/// Asserts OpenAI's error shape and returns `error`.
fn openai_error(status: u16, body: &Value, expected: u16, code: &str) -> Value {
    assert_eq!(status, expected, "{body}");
    let error = &body["error"];
    assert!(
        error["message"].as_str().is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert!(error["type"].is_string(), "{body}");
    assert!(error.get("param").is_some(), "{body}");
    assert_eq!(error["code"], code, "{body}");
    error.clone()
}

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_f64().unwrap() as f32)
        .collect()
}

fn from_base64(v: &Value) -> Vec<f32> {
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap())
        .unwrap();
    bytes
        .chunks_exact(4)
        .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
        .collect()
}

#[tokio::test]
async fn embeddings_float_and_base64_agree_with_usage_and_order() {
    let h = Harness::start(Options::default()).await;
    let inputs = json!([
        "the cat sat on the mat",
        "a dog in the fog",
        "stock prices fell"
    ]);
    let (status, _, float) = h
        .post(json!({"model": "titan", "input": inputs, "encoding_format": "float"}))
        .await;
    assert_eq!(status, 200, "{float}");
    assert_eq!(float["object"], "list");
    assert_eq!(float["model"], "titan");
    let data = float["data"].as_array().unwrap();
    assert_eq!(data.len(), 3);
    for (i, d) in data.iter().enumerate() {
        assert_eq!(
            (d["object"].as_str(), d["index"].as_u64()),
            (Some("embedding"), Some(i as u64))
        );
    }
    let prompt = float["usage"]["prompt_tokens"].as_u64().unwrap();
    // Titan embeds one text per call: the sum of what the emulator counted for each.
    let counted: u32 = inputs
        .as_array()
        .unwrap()
        .iter()
        .map(|t| bedrock_emulator::token_count(t.as_str().unwrap()))
        .sum();
    assert_eq!(prompt, u64::from(counted), "{}", float["usage"]);
    assert_eq!(float["usage"]["total_tokens"].as_u64(), Some(prompt));

    let (status, _, b64) = h
        .post(json!({"model": "titan", "input": inputs, "encoding_format": "base64"}))
        .await;
    assert_eq!(status, 200, "{b64}");
    for i in 0..3 {
        let a = floats(&float["data"][i]["embedding"]);
        let b = from_base64(&b64["data"][i]["embedding"]);
        assert_eq!(a.len(), 1024);
        assert_eq!(
            a, b,
            "vector {i}: float and base64 must carry the same float32 values"
        );
    }
    assert_eq!(b64["usage"], float["usage"]);

    // Order: each input alone gives the vector at its index in the batch.
    let (_, _, single) = h
        .post(json!({"model": "titan", "input": "a dog in the fog"}))
        .await;
    assert_eq!(
        floats(&single["data"][0]["embedding"]),
        floats(&float["data"][1]["embedding"])
    );

    // Cohere batches in one call; the user field is accepted.
    let (status, _, cohere) = h
        .post(json!({"model": "cohere", "input": ["one", "two"], "user": "u-42"}))
        .await;
    assert_eq!(status, 200, "{cohere}");
    assert_eq!(cohere["data"].as_array().unwrap().len(), 2);
    h.shutdown().await;
}

fn ints(v: &Value) -> Vec<i64> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|x| {
            x.as_i64()
                .unwrap_or_else(|| panic!("{x} is not a JSON integer"))
        })
        .collect()
}

fn bytes_of(v: &Value) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(v.as_str().unwrap())
        .unwrap()
}

/// Packs 0/1 values 8 to a byte, first in the most significant bit (the WIT's `binary`).
fn pack_bits(bits: &[u8]) -> Vec<u8> {
    bits.chunks(8)
        .map(|c| {
            c.iter()
                .enumerate()
                .fold(0u8, |b, (i, bit)| b | (bit << (7 - i)))
        })
        .collect()
}

#[tokio::test]
async fn compact_embedding_types_carry_what_bedrock_sent() {
    use bedrock_emulator::vectors::{cohere_int8, cohere_ubinary, cohere_uint8, titan_binary};
    let h = Harness::start(Options::default()).await;
    let text = "the cat sat on the mat";
    let float = |model: &'static str| {
        let h = &h;
        async move {
            let (status, _, body) = h.post(json!({"model": model, "input": text})).await;
            assert_eq!(status, 200, "{body}");
            floats(&body["data"][0]["embedding"])
        }
    };
    let cohere_float = float("cohere").await;
    assert_eq!(cohere_float.len(), 1024);

    // Cohere int8 as JSON integers: what the emulator derived from the same float vector.
    let (status, _, body) = h
        .post(json!({"model": "cohere", "input": [text, "x"], "embedding_type": "int8"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let want: Vec<i64> = cohere_int8(&cohere_float)
        .iter()
        .map(|x| i64::from(*x))
        .collect();
    assert_eq!(ints(&body["data"][0]["embedding"]), want);
    assert_eq!(body["data"].as_array().unwrap().len(), 2);

    // int8 in base64: one byte a value, two's complement.
    let (status, _, body) = h
        .post(json!({"model": "cohere", "input": text, "embedding_type": "int8", "encoding_format": "base64"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let want: Vec<u8> = cohere_int8(&cohere_float)
        .iter()
        .map(|x| *x as u8)
        .collect();
    assert_eq!(bytes_of(&body["data"][0]["embedding"]), want);

    // uint8 through the request; ubinary through the model's param (128 packed bytes).
    let (status, _, body) = h
        .post(json!({"model": "cohere", "input": text, "embedding_type": "uint8", "encoding_format": "base64"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        bytes_of(&body["data"][0]["embedding"]),
        cohere_uint8(&cohere_float)
    );
    let (status, _, body) = h
        .post(json!({"model": "cohere-ubinary", "input": text}))
        .await;
    assert_eq!(status, 200, "{body}");
    let want: Vec<i64> = cohere_ubinary(&cohere_float)
        .iter()
        .map(|x| i64::from(*x))
        .collect();
    assert_eq!(want.len(), 128);
    assert_eq!(ints(&body["data"][0]["embedding"]), want);

    // Titan v2 binary: Bedrock's 0/1 per dimension, packed 8 to a byte, signed.
    let titan_float = float("titan").await;
    let (status, _, body) = h
        .post(json!({"model": "titan", "input": text, "embedding_type": "binary"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let want: Vec<i64> = pack_bits(&titan_binary(&titan_float))
        .into_iter()
        .map(|b| i64::from(b as i8))
        .collect();
    assert_eq!(want.len(), 128);
    assert_eq!(ints(&body["data"][0]["embedding"]), want);
    let (status, _, body) = h
        .post(json!({"model": "titan", "input": text, "embedding_type": "binary", "encoding_format": "base64"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        bytes_of(&body["data"][0]["embedding"]),
        pack_bits(&titan_binary(&titan_float))
    );
    h.shutdown().await;
}

#[tokio::test]
async fn an_embedding_type_the_model_does_not_offer_is_a_400_naming_it() {
    let h = Harness::start(Options::default()).await;
    for (model, asked) in [("titan", "int8"), ("titan-v1", "binary")] {
        let (status, _, body) = h
            .post(json!({"model": model, "input": "hello", "embedding_type": asked}))
            .await;
        let e = openai_error(status, &body, 400, "invalid_param");
        assert_eq!(e["param"], "embedding_type", "{body}");
        let message = e["message"].as_str().unwrap();
        assert!(
            message.contains("embedding_type")
                && message.contains(asked)
                && message.contains("float"),
            "names the field, the value and what the model offers: {message}"
        );
    }
    assert_eq!(
        h.emulator.stats().attempted,
        0,
        "nothing was sent to Bedrock"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn dimensions_override_and_its_400() {
    let h = Harness::start(Options::default()).await;
    let (status, _, body) = h
        .post(json!({"model": "titan", "input": "hello", "dimensions": 256}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["embedding"].as_array().unwrap().len(), 256);

    let (status, _, body) = h
        .post(json!({"model": "titan", "input": "hello", "dimensions": 300}))
        .await;
    let e = openai_error(status, &body, 400, "invalid_param");
    assert_eq!(e["param"], "dimensions");
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("256") && message.contains("1024"),
        "names the allowed values: {message}"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn request_errors_400_404_413() {
    let h = Harness::start(Options {
        limits: ServerLimits {
            max_body_bytes: 4096,
            max_inputs: 8,
        },
        ..Options::default()
    })
    .await;
    let (s, _, b) = h
        .post(json!({"model": "titan", "input": [[1, 2, 100300]]}))
        .await;
    let e = openai_error(s, &b, 400, "invalid_token_id");
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .starts_with("input[0][2] is 100300")
    );
    let (s, _, b) = h
        .post(json!({"model": "titan", "input": "x", "encoding_format": "int8"}))
        .await;
    openai_error(s, &b, 400, "invalid_encoding_format");
    let (s, _, b) = h.post(json!({"model": "titan", "input": []})).await;
    openai_error(s, &b, 400, "empty_input");
    let (s, _, b) = h
        .post(json!({"model": "titan", "input": "x", "dimensions": true}))
        .await;
    assert_eq!(
        openai_error(s, &b, 400, "invalid_type")["param"],
        "dimensions"
    );

    let (s, _, b) = h.post(json!({"model": "gpt-4", "input": "x"})).await;
    let e = openai_error(s, &b, 404, "model_not_found");
    let message = e["message"].as_str().unwrap();
    assert!(
        message.contains("titan") && message.contains("cohere"),
        "lists the models: {message}"
    );

    let (s, _, b) = h
        .post(json!({"model": "titan", "input": "x".repeat(5000)}))
        .await;
    openai_error(s, &b, 413, "request_too_large");
    let (s, _, b) = h
        .post(json!({"model": "titan", "input": vec!["x"; 9]}))
        .await;
    // As OpenAI answers more inputs than it allows: 400, `code: null`, its message.
    assert_eq!(s, 400, "{b}");
    assert_eq!(b["error"]["type"], "invalid_request_error");
    assert_eq!(b["error"]["code"], Value::Null);
    assert!(
        b["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("'$.input' is invalid."),
        "{b}"
    );
    assert_eq!(
        h.emulator.stats().attempted,
        0,
        "no request reached Bedrock"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn bedrock_validation_exception_is_400() {
    let h = Harness::start(Options {
        emulator: Config::default().with_faults(FaultConfig {
            always: Some(ErrorCode::ValidationException),
            ..FaultConfig::default()
        }),
        ..Options::default()
    })
    .await;
    let (s, _, b) = h.post(json!({"model": "titan", "input": "x"})).await;
    openai_error(s, &b, 400, "bedrock_validation");
    h.shutdown().await;
}

#[tokio::test]
async fn throttled_after_retries_is_429_with_retry_after() {
    let h = Harness::start(Options {
        emulator: Config::default().with_faults(FaultConfig {
            throttle_rate: 1.0,
            ..FaultConfig::default()
        }),
        ..Options::default()
    })
    .await;
    let (s, headers, b) = h.post(json!({"model": "titan", "input": "x"})).await;
    let e = openai_error(s, &b, 429, "rate_limit_exceeded");
    assert_eq!(e["type"], "requests", "{e}");
    // The client hears what it can do; the operator's knobs (requests_per_min_limit) are in
    // the log.
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("Retry-After"), "{e}");
    assert!(!message.contains("requests_per_min_limit"), "{e}");
    assert!(
        headers.get("x-should-retry").is_none(),
        "a throttle is worth retrying"
    );
    let after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(after >= 1);
    assert_eq!(
        h.emulator.stats().attempted,
        2,
        "the retry budget allows 2 attempts"
    );

    let metrics = h.get("/metrics").await.1;
    assert!(
        metrics.contains(
            r#"bedrock_embed_request_failures_total{model="titan",status="429",code="rate_limit_exceeded"}"#
        ),
        "{metrics}"
    );
    assert!(
        metrics.contains("bedrock_embed_throttles_total{model=\"titan\"}"),
        "{metrics}"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn access_denied_is_502_naming_the_permission() {
    let h = Harness::start(Options {
        emulator: Config::default()
            .with_allowed_models(["arn:aws:bedrock:*::foundation-model/cohere.*"]),
        ..Options::default()
    })
    .await;
    let (s, headers, b) = h.post(json!({"model": "titan", "input": "x"})).await;
    let e = openai_error(s, &b, 502, "bedrock_access_denied");
    // Permanent: the OpenAI SDKs must not retry it. The IAM action and ARN are the operator's
    // (in the log, under the request id the body carries).
    assert_eq!(headers["x-should-retry"], "false");
    let message = e["message"].as_str().unwrap();
    assert!(message.contains("not allowed to invoke"), "{e}");
    assert!(!message.contains("arn:aws"), "{e}");
    assert_eq!(
        e["request_id"].as_str(),
        headers["x-request-id"].to_str().ok()
    );
    let (s, _, b) = h.post(json!({"model": "cohere", "input": "x"})).await;
    assert_eq!(s, 200, "{b}");
    h.shutdown().await;
}

#[tokio::test]
async fn missing_codec_and_model_not_ready_are_503() {
    let titan_codec = bedrock_embed_tests::codecs::loaded()
        .registry
        .route(TITAN_V2, None)
        .unwrap()
        .codec;
    let titan_name: &'static str = Box::leak(titan_codec.name().to_string().into_boxed_str());
    let h = Harness::start(Options {
        drop_codecs: vec![titan_name],
        ..Options::default()
    })
    .await;
    let (s, _, b) = h.post(json!({"model": "titan", "input": "x"})).await;
    openai_error(s, &b, 503, "codec_unavailable");
    // /v1/models says why.
    let (s, text) = h.get("/v1/models").await;
    assert_eq!(s, 200);
    let models: Value = serde_json::from_str(&text).unwrap();
    let titan = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == "titan")
        .unwrap()
        .clone();
    assert_eq!(titan["status"], "no_codec", "{titan}");
    assert_eq!(titan["codec"], Value::Null);
    // Cohere still works.
    assert_eq!(
        h.post(json!({"model": "cohere", "input": "x"})).await.0,
        200
    );
    h.shutdown().await;

    let h = Harness::start(Options {
        emulator: Config::default().with_faults(FaultConfig {
            model_not_ready_rate: 1.0,
            ..FaultConfig::default()
        }),
        ..Options::default()
    })
    .await;
    let (s, headers, b) = h.post(json!({"model": "titan", "input": "x"})).await;
    openai_error(s, &b, 503, "model_not_ready");
    assert!(headers.contains_key("retry-after"));
    h.shutdown().await;
}

#[tokio::test]
async fn upstream_timeouts_are_504() {
    let h = Harness::start(Options {
        emulator: Config::default().with_faults(FaultConfig {
            latency_ms: 3_000,
            ..FaultConfig::default()
        }),
        aws: AwsOptions {
            read_timeout: Duration::from_millis(200),
            ..AwsOptions::default()
        },
        retry: RetryBudget::no_retries(),
        ..Options::default()
    })
    .await;
    let (s, _, b) = h.post(json!({"model": "titan", "input": "x"})).await;
    openai_error(s, &b, 504, "upstream_timeout");
    h.shutdown().await;

    let h = Harness::start(Options {
        emulator: Config::default().with_faults(FaultConfig {
            model_timeout_rate: 1.0,
            ..FaultConfig::default()
        }),
        ..Options::default()
    })
    .await;
    let (s, _, b) = h.post(json!({"model": "titan", "input": "x"})).await;
    openai_error(s, &b, 504, "upstream_timeout");
    // ModelTimeoutException says "Try your request again": retried within the budget.
    assert_eq!(
        h.emulator.stats().attempted,
        2,
        "the retry budget allows 2 attempts"
    );
    h.shutdown().await;
}

#[tokio::test]
async fn codec_trap_is_500() {
    let h = Harness::start(Options::default()).await;
    let (s, headers, b) = h.post(json!({"model": "panics", "input": "x"})).await;
    let e = openai_error(s, &b, 500, "codec_trap");
    // The codec's file and panic message are the operator's; the client is told not to retry.
    assert!(
        e["message"].as_str().unwrap().contains("codec failed"),
        "{e}"
    );
    assert!(
        !e["message"].as_str().unwrap().contains("test-panic"),
        "{e}"
    );
    assert_eq!(headers["x-should-retry"], "false");
    // The server is fine afterwards.
    assert_eq!(h.post(json!({"model": "titan", "input": "x"})).await.0, 200);
    h.shutdown().await;
}

#[tokio::test]
async fn api_keys_401_and_open_probes() {
    let h = Harness::start(Options {
        api_keys: vec![Secret::new("key-1", "test"), Secret::new("key-2", "test")],
        ..Options::default()
    })
    .await;
    let (s, _, b) = h.post(json!({"model": "titan", "input": "x"})).await;
    // OpenAI's answer to a missing key: 401, invalid_request_error, `code: null`.
    assert_eq!(s, 401, "{b}");
    assert_eq!(b["error"]["type"], "invalid_request_error");
    assert_eq!(b["error"]["code"], Value::Null);
    let url = format!("{}/v1/embeddings", h.base);
    let body = json!({"model": "titan", "input": "x"});
    let r = h
        .http
        .post(&url)
        .bearer_auth("wrong")
        .json(&body)
        .send()
        .await
        .unwrap();
    let (s, headers, b) = Harness::read(r).await;
    openai_error(s, &b, 401, "invalid_api_key");
    assert_eq!(headers["www-authenticate"], "Bearer");
    let r = h
        .http
        .post(&url)
        .bearer_auth("key-2")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = h
        .http
        .post(&url)
        .header("x-api-key", "key-1")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(h.get("/health").await, (200, "ok".to_string()));
    assert_eq!(h.get("/v1/ready").await.0, 200);
    assert_eq!(h.get("/metrics").await.0, 401);
    assert_eq!(h.get("/v1/models").await.0, 401);
    h.shutdown().await;
}

#[tokio::test]
async fn models_ready_and_metrics() {
    let h = Harness::start(Options::default()).await;
    let (s, text) = h.get("/v1/models").await;
    assert_eq!(s, 200);
    let models: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(models["object"], "list");
    let ids: Vec<&str> = models["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["cohere", "cohere-ubinary", "panics", "titan", "titan-v1"]
    );
    let titan = &models["data"][3];
    assert_eq!(titan["object"], "model");
    assert_eq!(titan["owned_by"], "bedrock");
    assert_eq!(titan["model_id"], TITAN_V2);
    assert_eq!(titan["status"], "ready");
    assert!(
        titan["codec"].is_string() && titan["created"].as_u64().unwrap() > 0,
        "{titan}"
    );
    let (s, text) = h.get("/v1/models/titan-v1").await;
    assert_eq!(s, 200, "{text}");

    let (s, text) = h.get("/v1/codecs").await;
    assert_eq!(s, 200, "{text}");
    let codecs: Value = serde_json::from_str(&text).unwrap();
    let serving_titan = codecs["data"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == titan["codec"])
        .unwrap()
        .clone();
    assert_eq!(serving_titan["source"], "built-in", "{serving_titan}");
    assert!(
        serving_titan["serves"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| TITAN_V2.starts_with(p.as_str().unwrap())),
        "{serving_titan}"
    );

    assert_eq!(h.get("/v1/ready").await.0, 200);
    h.state.set_ready(false);
    assert_eq!(h.get("/v1/ready").await.0, 503);
    h.state.set_ready(true);

    // The recorder is process-wide: count what this request added, not what is there.
    const SERIES: [(&str, f64); 6] = [
        (r#"bedrock_embed_requests_total{model="titan"}"#, 1.0),
        (r#"bedrock_embed_inputs_total{model="titan"}"#, 2.0),
        (
            r#"bedrock_embed_request_duration_seconds_count{model="titan",outcome="ok"}"#,
            1.0,
        ),
        (
            r#"bedrock_embed_http_requests_total{route="/v1/embeddings",status="200"}"#,
            1.0,
        ),
        // Titan embeds one text per call: two invocations, one attempt each.
        (r#"bedrock_embed_invoke_attempts_total{model="titan"}"#, 2.0),
        (
            r#"bedrock_embed_limiter_wait_seconds_count{model="titan"}"#,
            2.0,
        ),
    ];
    let (s, before) = h.get("/metrics").await;
    assert_eq!(s, 200);
    assert_eq!(
        h.post(json!({"model": "titan", "input": ["a", "b"]}))
            .await
            .0,
        200
    );
    let (s, after) = h.get("/metrics").await;
    assert_eq!(s, 200);
    for (series, added) in SERIES {
        assert_eq!(
            sample(&after, series) - sample(&before, series),
            added,
            "{series}:\n{after}"
        );
    }
    h.shutdown().await;
}

#[tokio::test]
async fn graceful_shutdown_finishes_requests_in_flight() {
    let h = Harness::start(Options {
        emulator: Config::default().with_faults(FaultConfig {
            latency_ms: 500,
            ..FaultConfig::default()
        }),
        ..Options::default()
    })
    .await;
    let http = h.http.clone();
    let url = format!("{}/v1/embeddings", h.base);
    let in_flight = tokio::spawn(async move {
        http.post(url)
            .json(&json!({"model": "titan", "input": "slow"}))
            .send()
            .await
            .map(|r| r.status().as_u16())
    });
    // Let the request reach the emulator, then stop the server.
    let mut reached = false;
    for _ in 0..1000 {
        if h.emulator.stats().in_flight > 0 {
            reached = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(
        reached,
        "the request never reached the emulator within 10 s"
    );
    let base = h.base.clone();
    h.shutdown().await;
    assert_eq!(
        in_flight.await.unwrap().unwrap(),
        200,
        "the request in flight finished"
    );
    // New connections are refused once serve returned.
    assert!(reqwest::get(format!("{base}/health")).await.is_err());
}

/// The value of one series (`name{labels}` exactly as rendered) in a Prometheus text page; 0
/// when the page does not have it yet.
fn sample(page: &str, series: &str) -> f64 {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().expect("a number"))
}
