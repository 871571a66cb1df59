//! `GET /health`, `GET /v1/ready`, `GET /metrics`, and the answers for unknown routes.

use axum::extract::State;
use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::server::AppState;
use crate::server::error::{ApiError, INVALID_REQUEST};

/// Liveness: 200 as long as the process serves HTTP.
pub async fn health() -> &'static str {
    "ok"
}

/// Readiness: 503 until the models are loaded (and again while shutting down).
pub async fn ready(State(state): State<AppState>) -> Response {
    if state.is_ready() {
        (StatusCode::OK, "ready").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready").into_response()
    }
}

/// Prometheus text exposition format.
pub async fn metrics(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        state.metrics.render(),
    )
        .into_response()
}

pub async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        INVALID_REQUEST,
        "unknown_route",
        format!(
            "no route {method} {}: the API is POST /v1/embeddings, GET /v1/models, GET /v1/codecs, GET /health, GET /v1/ready, GET /metrics",
            uri.path()
        ),
    )
}

pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        INVALID_REQUEST,
        "method_not_allowed",
        format!("{method} is not allowed on {}", uri.path()),
    )
}
