//! Prometheus metrics: the process-wide recorder (installed once) and what the server records.
//!
//! The embedder records `bedrock_embed_invoke_attempts_total`, `_throttles_total`,
//! `_retries_total` and `_limiter_wait_seconds` through the `metrics` facade, and with a token
//! limit `_tokens_reserved_total`, `_tokens_settled_total` and `_limiter_token_wait_seconds`
//! (all per `model`); the server adds:
//!
//! - `bedrock_embed_http_requests_total{route,status}` and
//!   `bedrock_embed_http_request_duration_seconds{route}`: every HTTP request;
//! - `bedrock_embed_requests_total{model}`, `bedrock_embed_inputs_total{model}`,
//!   `bedrock_embed_prompt_tokens_total{model}`: embedding requests that reached a served model;
//! - `bedrock_embed_request_duration_seconds{model,outcome}`: time in the embedder;
//! - `bedrock_embed_request_failures_total{model,status,code}`: failed embedding requests
//!   (`model="-"` when the request named no served model);
//! - `bedrock_embed_auth_failures_total{code}`.
//!
//! Histograms (every metric ending in `_seconds`) are real Prometheus histograms with
//! [`SECONDS_BUCKETS`]. Labels carry only served model names, route templates and codes, so
//! their number stays bounded whatever clients send.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Bucket bounds of every `_seconds` histogram.
pub const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
];

/// The `model` label of failures that did not name a served model.
pub const NO_MODEL: &str = "-";

/// How often histogram samples are folded into their buckets between scrapes.
pub const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// The Prometheus handle of this process. The first call installs the global recorder; later
/// calls return the same handle. If another recorder was installed first (by an embedding
/// program), this returns the handle of a private recorder and logs why metrics will be empty.
pub fn handle() -> PrometheusHandle {
    HANDLE
        .get_or_init(|| {
            let handle = match builder().install_recorder() {
                Ok(handle) => handle,
                Err(err) => {
                    tracing::warn!(error = %err, "could not install the Prometheus recorder: /metrics shows only what this recorder sees");
                    builder().build_recorder().handle()
                }
            };
            describe();
            handle
        })
        .clone()
}

fn builder() -> PrometheusBuilder {
    let plain = PrometheusBuilder::new();
    match PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
    {
        Ok(b) => b,
        Err(_) => plain,
    }
}

fn describe() {
    use metrics::{describe_counter, describe_histogram};
    describe_counter!(
        "bedrock_embed_http_requests_total",
        "HTTP requests by route and status"
    );
    describe_histogram!(
        "bedrock_embed_http_request_duration_seconds",
        metrics::Unit::Seconds,
        "HTTP request time by route"
    );
    describe_counter!(
        "bedrock_embed_requests_total",
        "Embedding requests per served model"
    );
    describe_counter!("bedrock_embed_inputs_total", "Inputs embedded per model");
    describe_counter!(
        "bedrock_embed_prompt_tokens_total",
        "Input tokens reported by Bedrock per model"
    );
    describe_histogram!(
        "bedrock_embed_request_duration_seconds",
        metrics::Unit::Seconds,
        "Embedding time per model (codec, limiter, retries and Bedrock)"
    );
    describe_counter!(
        "bedrock_embed_request_failures_total",
        "Failed embedding requests by model, status and error code"
    );
    describe_counter!(
        "bedrock_embed_auth_failures_total",
        "Requests refused for a missing or wrong API key"
    );
    describe_counter!(
        "bedrock_embed_invoke_attempts_total",
        "InvokeModel attempts, retries included"
    );
    describe_counter!(
        "bedrock_embed_throttles_total",
        "InvokeModel attempts Bedrock throttled"
    );
    describe_counter!("bedrock_embed_retries_total", "InvokeModel retries");
    describe_counter!(
        "bedrock_embed_tokens_reserved_total",
        "Input tokens reserved before InvokeModel attempts (estimates; tokens_per_min_limit / tokens_per_day_limit)"
    );
    describe_counter!(
        "bedrock_embed_tokens_settled_total",
        "Input tokens reservations were settled to (Bedrock's counts; 0 for refused attempts)"
    );
    describe_histogram!(
        "bedrock_embed_limiter_token_wait_seconds",
        "Time an attempt waited for room in the model's token budget"
    );
    describe_histogram!(
        "bedrock_embed_limiter_wait_seconds",
        metrics::Unit::Seconds,
        "Time an attempt waited for the model's limiter"
    );
}

/// Folds histogram samples into buckets every [`UPKEEP_INTERVAL`] until dropped/aborted.
pub async fn upkeep(handle: PrometheusHandle) {
    let mut tick = tokio::time::interval(UPKEEP_INTERVAL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        handle.run_upkeep();
    }
}

/// Middleware: counts every request by route template and status, and times it.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::histogram!("bedrock_embed_http_request_duration_seconds", "route" => route.clone())
        .record(started.elapsed().as_secs_f64());
    metrics::counter!("bedrock_embed_http_requests_total", "route" => route, "status" => status)
        .increment(1);
    response
}

pub fn auth_failure(code: &'static str) {
    metrics::counter!("bedrock_embed_auth_failures_total", "code" => code).increment(1);
}

/// An embedding request reached served model `model` with `inputs` inputs.
pub fn request_started(model: &str, inputs: usize) {
    metrics::counter!("bedrock_embed_requests_total", "model" => model.to_owned()).increment(1);
    metrics::counter!("bedrock_embed_inputs_total", "model" => model.to_owned())
        .increment(inputs as u64);
}

pub fn request_finished(model: &str, elapsed: Duration, ok: bool, prompt_tokens: u64) {
    let outcome = if ok { "ok" } else { "error" };
    metrics::histogram!("bedrock_embed_request_duration_seconds", "model" => model.to_owned(), "outcome" => outcome)
        .record(elapsed.as_secs_f64());
    if ok {
        metrics::counter!("bedrock_embed_prompt_tokens_total", "model" => model.to_owned())
            .increment(prompt_tokens);
    }
}

pub fn request_failed(model: &str, status: u16, code: &'static str) {
    metrics::counter!(
        "bedrock_embed_request_failures_total",
        "model" => model.to_owned(),
        "status" => status.to_string(),
        "code" => code
    )
    .increment(1);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handle_is_installed_once_and_renders_histograms() {
        let a = handle();
        let b = handle();
        request_finished("metrics-unit-test", Duration::from_millis(20), true, 3);
        request_failed("metrics-unit-test", 429, "throttled");
        let text = a.render();
        assert!(
            b.render().contains("metrics-unit-test"),
            "both handles see one recorder"
        );
        assert!(
            text.contains("bedrock_embed_request_duration_seconds_bucket{model=\"metrics-unit-test\",outcome=\"ok\",le=\"0.025\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("bedrock_embed_prompt_tokens_total{model=\"metrics-unit-test\"} 3"),
            "{text}"
        );
        assert!(
            text.contains("bedrock_embed_request_failures_total{model=\"metrics-unit-test\",status=\"429\",code=\"throttled\"} 1"),
            "{text}"
        );
    }
}
