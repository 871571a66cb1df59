//! The router without a socket and without models (the end-to-end tests in tests/ run real
//! models against the emulator).

use std::sync::Arc;

use arc_swap::ArcSwap;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};
use tower::ServiceExt as _;

use super::*;
use crate::codec::Registry;

fn state() -> AppState {
    let embedder = Embedder::new(
        Vec::new(),
        Arc::new(ArcSwap::from_pointee(Registry::default())),
    );
    let state = AppState::new(Arc::new(embedder));
    state.set_ready(true);
    state
}

async fn call(
    state: &AppState,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let response = router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, body.to_vec())
}

fn post_json(body: impl Into<Body>) -> Request<Body> {
    Request::post("/v1/embeddings")
        .header(header::CONTENT_TYPE, "application/json")
        .body(body.into())
        .unwrap()
}

fn get(path: &str) -> Request<Body> {
    Request::get(path).body(Body::empty()).unwrap()
}

fn error_of(body: &[u8]) -> Value {
    let v: Value = serde_json::from_slice(body)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)));
    let error = v["error"].clone();
    for key in ["message", "type", "request_id"] {
        assert!(error[key].is_string(), "error.{key} missing: {v}");
    }
    // OpenAI sends `code: null` for some errors (too many inputs, a missing key).
    assert!(
        error["code"].is_string() || error["code"].is_null(),
        "error.code missing: {v}"
    );
    assert!(error.get("param").is_some(), "error.param missing: {v}");
    error
}

#[tokio::test]
async fn health_ready_and_readiness_flag() {
    let state = state();
    let (status, _, body) = call(&state, get("/health")).await;
    assert_eq!(
        (status, body.as_slice()),
        (StatusCode::OK, b"ok".as_slice())
    );
    let (status, _, _) = call(&state, get("/v1/ready")).await;
    assert_eq!(status, StatusCode::OK);

    state.set_ready(false);
    let (status, _, _) = call(&state, get("/v1/ready")).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    let (status, headers, body) = call(&state, post_json(r#"{"model":"m","input":"x"}"#)).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(error_of(&body)["code"], "not_ready");
    assert!(headers.contains_key(header::RETRY_AFTER));
}

#[tokio::test]
async fn unknown_model_is_404_listing_models() {
    let (status, _, body) = call(&state(), post_json(r#"{"model":"nope","input":"x"}"#)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let e = error_of(&body);
    assert_eq!(
        (e["code"].as_str(), e["param"].as_str()),
        (Some("model_not_found"), Some("model"))
    );
    assert!(
        e["message"].as_str().unwrap().contains("available models"),
        "{e}"
    );
}

#[tokio::test]
async fn bad_requests_are_400_in_openai_shape() {
    let state = state();
    for (body, param) in [
        (json!({"model": "m", "input": [1, 100300]}), "input"),
        (
            json!({"model": "m", "input": "x", "encoding_format": "int8"}),
            "encoding_format",
        ),
        (
            json!({"model": "m", "input": "x", "dimensions": "big"}),
            "dimensions",
        ),
        (json!({"model": "m", "input": ""}), "input"),
    ] {
        let (status, _, resp) = call(&state, post_json(body.to_string())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(error_of(&resp)["param"], param, "{body}");
    }
    // No content type at all (curl -d sends a form type): still read as JSON.
    let request = Request::post("/v1/embeddings")
        .body(Body::from(r#"{"model":"m","input":[100300]}"#))
        .unwrap();
    let (status, _, resp) = call(&state, request).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&resp)["code"], "invalid_token_id");
}

#[tokio::test]
async fn body_over_the_limit_is_a_json_413() {
    let state = state().with_limits(ServerLimits {
        max_body_bytes: 64,
        max_inputs: 2,
    });
    let big = json!({"model": "m", "input": "x".repeat(100)}).to_string();
    let (status, _, body) = call(&state, post_json(big)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    let e = error_of(&body);
    assert_eq!(e["code"], "request_too_large");
    assert!(e["message"].as_str().unwrap().contains("64-byte"), "{e}");

    // OpenAI answers too many inputs with 400, `code: null`.
    let (status, _, body) = call(&state, post_json(r#"{"model":"m","input":["a","b","c"]}"#)).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(error_of(&body)["code"], Value::Null);
    assert_eq!(error_of(&body)["type"], "invalid_request_error");
}

#[tokio::test]
async fn api_keys_guard_everything_but_probes() {
    let state = state().with_api_keys(&[Secret::new("s3cret", "test")]);
    // Open without a key.
    assert_eq!(call(&state, get("/health")).await.0, StatusCode::OK);
    assert_eq!(call(&state, get("/v1/ready")).await.0, StatusCode::OK);
    // Guarded.
    for path in ["/v1/models", "/metrics"] {
        let (status, headers, body) = call(&state, get(path)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{path}");
        assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
        // OpenAI's shape for a missing key: `code: null`.
        assert_eq!(error_of(&body)["code"], Value::Null);
        assert_eq!(headers["x-should-retry"], "false");
    }
    let (status, _, body) = call(&state, post_json(r#"{"model":"m","input":"x"}"#)).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(&body)["type"], "invalid_request_error");

    let wrong = Request::get("/v1/models")
        .header("authorization", "Bearer nope")
        .body(Body::empty())
        .unwrap();
    let (status, _, body) = call(&state, wrong).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(error_of(&body)["code"], "invalid_api_key");

    let bearer = Request::get("/v1/models")
        .header("authorization", "Bearer s3cret")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&state, bearer).await.0, StatusCode::OK);
    let x_api_key = Request::get("/v1/models")
        .header("x-api-key", "s3cret")
        .body(Body::empty())
        .unwrap();
    assert_eq!(call(&state, x_api_key).await.0, StatusCode::OK);
}

#[tokio::test]
async fn models_list_shape() {
    let (status, _, body) = call(&state(), get("/v1/models")).await;
    assert_eq!(status, StatusCode::OK);
    let v: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(v, json!({"object": "list", "data": []}));
    let (status, _, body) = call(&state(), get("/v1/models/nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_of(&body)["code"], "model_not_found");
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_in_openai_shape() {
    let (status, _, body) = call(&state(), get("/v1/chat/completions")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(error_of(&body)["code"], "unknown_route");
    let (status, _, body) = call(&state(), get("/v1/embeddings")).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(error_of(&body)["code"], "method_not_allowed");
}

#[tokio::test]
async fn metrics_count_requests_by_route_template() {
    // The recorder is process-wide (other tests write it too): assert what these two requests
    // added to each series, read before and after.
    const SERIES: [&str; 3] = [
        r#"bedrock_embed_http_requests_total{route="/v1/models/{model}",status="404"}"#,
        r#"bedrock_embed_request_failures_total{model="-",status="400",code="invalid_token_id"}"#,
        r#"bedrock_embed_http_request_duration_seconds_count{route="/v1/models/{model}"}"#,
    ];
    let state = state();
    let page = |body: Vec<u8>| String::from_utf8(body).unwrap();
    let before = page(call(&state, get("/metrics")).await.2);
    call(&state, get("/v1/models/some-model")).await;
    call(&state, post_json(r#"{"model":"m","input":[[100300]]}"#)).await;
    let (status, headers, body) = call(&state, get("/metrics")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let after = page(body);
    for series in SERIES {
        assert_eq!(
            sample(&after, series) - sample(&before, series),
            1.0,
            "{series}:\n{after}"
        );
    }
}

/// The value of one series (`name{labels}` exactly as rendered) in a Prometheus text page; 0
/// when the page does not have it yet.
fn sample(page: &str, series: &str) -> f64 {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .map_or(0.0, |v| v.trim().parse().expect("a number"))
}
