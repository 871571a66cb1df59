//! Errors in OpenAI's shape, `{"error":{"message","type","code","param"}}`, and the HTTP status
//! every failure maps to.
//!
//! | status | when |
//! |---|---|
//! | 400 | bad JSON or fields, token-id input, Bedrock ValidationException, codec InvalidParam / InvalidInput |
//! | 401 | missing or wrong API key |
//! | 404 | unknown model (the message lists the served ones), unknown route |
//! | 413 | body over the limit, too many inputs |
//! | 429 | still throttled after the retries (`Retry-After`), service quota exceeded, the limiter would wait past `limiter_max_wait` (`rate_limit_exceeded`, `Retry-After`) |
//! | 502 | Bedrock auth / permission / not-found / model errors, unreadable responses, codec BadResponse |
//! | 503 | not ready, no codec for the model, ModelNotReadyException (`Retry-After`) |
//! | 504 | ModelTimeoutException, or attempts that timed out until the retries ran out |
//! | 500 | codec traps, contract violations, internal errors |

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::aws::FailureKind;
use crate::codec::CodecError;
use crate::embedder::EmbedError;

/// An error answer. `message` is for people; `code` is stable, for programs and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    pub code: &'static str,
    pub param: Option<&'static str>,
    pub message: String,
    /// Sent as `Retry-After` (whole seconds, at least 1).
    pub retry_after: Option<Duration>,
}

/// The OpenAI error envelope.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub error: ErrorObject<'a>,
}

#[derive(Debug, Serialize)]
pub struct ErrorObject<'a> {
    pub message: &'a str,
    #[serde(rename = "type")]
    pub kind: &'a str,
    pub code: &'a str,
    pub param: Option<&'a str>,
}

pub const INVALID_REQUEST: &str = "invalid_request_error";
pub const AUTHENTICATION: &str = "authentication_error";
pub const RATE_LIMIT: &str = "rate_limit_error";
pub const UPSTREAM: &str = "upstream_error";
pub const UNAVAILABLE: &str = "service_unavailable";
pub const TIMEOUT: &str = "timeout_error";
pub const SERVER: &str = "server_error";

impl ApiError {
    pub fn new(
        status: StatusCode,
        kind: &'static str,
        code: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            status,
            kind,
            code,
            param: None,
            message: message.into(),
            retry_after: None,
        }
    }

    /// A 400 about one request field.
    pub fn invalid(param: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, INVALID_REQUEST, code, message).param(param)
    }

    pub fn param(mut self, param: &'static str) -> Self {
        self.param = Some(param);
        self
    }

    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    pub fn not_ready() -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            UNAVAILABLE,
            "not_ready",
            "bedrock-embed is starting or shutting down: try again shortly",
        )
        .retry_after(Duration::from_secs(1))
    }

    pub fn body_too_large(limit: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            INVALID_REQUEST,
            "request_too_large",
            format!(
                "the request body is larger than the {limit}-byte limit: send fewer or shorter inputs per request"
            ),
        )
    }

    pub fn too_many_inputs(count: usize, max: usize) -> Self {
        Self::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            INVALID_REQUEST,
            "too_many_inputs",
            format!("input has {count} items; at most {max} are allowed per request: split it into several requests"),
        )
        .param("input")
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            SERVER,
            "internal_error",
            message,
        )
    }

    /// The status and body for a failed embedding.
    pub fn from_embed(err: &EmbedError) -> Self {
        let message = err.to_string();
        let retry_after = err.retry_after();
        let mut out = match err {
            EmbedError::UnknownModel { .. } => Self::new(
                StatusCode::NOT_FOUND,
                INVALID_REQUEST,
                "model_not_found",
                message,
            )
            .param("model"),
            EmbedError::NoCodec { .. } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                UNAVAILABLE,
                "codec_unavailable",
                message,
            ),
            EmbedError::Codec(codec) => Self::from_codec(codec),
            EmbedError::Bedrock { failure, .. } => {
                let status_503 = failure.code.as_deref() == Some("ModelNotReadyException");
                let (status, kind, code) = match failure.kind {
                    FailureKind::Throttled if status_503 => (
                        StatusCode::SERVICE_UNAVAILABLE,
                        UNAVAILABLE,
                        "model_not_ready",
                    ),
                    FailureKind::Throttled => {
                        (StatusCode::TOO_MANY_REQUESTS, RATE_LIMIT, "throttled")
                    }
                    FailureKind::ServiceQuota => {
                        (StatusCode::TOO_MANY_REQUESTS, RATE_LIMIT, "quota_exceeded")
                    }
                    FailureKind::Validation => (
                        StatusCode::BAD_REQUEST,
                        INVALID_REQUEST,
                        "bedrock_validation",
                    ),
                    FailureKind::ModelTimeout => {
                        (StatusCode::GATEWAY_TIMEOUT, TIMEOUT, "upstream_timeout")
                    }
                    FailureKind::Transient if is_timeout(failure.detail.as_deref()) => {
                        (StatusCode::GATEWAY_TIMEOUT, TIMEOUT, "upstream_timeout")
                    }
                    FailureKind::Transient => {
                        (StatusCode::BAD_GATEWAY, UPSTREAM, "upstream_unavailable")
                    }
                    FailureKind::AccessDenied => {
                        (StatusCode::BAD_GATEWAY, UPSTREAM, "bedrock_access_denied")
                    }
                    FailureKind::Auth | FailureKind::Credentials => {
                        (StatusCode::BAD_GATEWAY, UPSTREAM, "bedrock_credentials")
                    }
                    FailureKind::NotFound => {
                        (StatusCode::BAD_GATEWAY, UPSTREAM, "bedrock_model_not_found")
                    }
                    FailureKind::ModelError => {
                        (StatusCode::BAD_GATEWAY, UPSTREAM, "bedrock_model_error")
                    }
                    FailureKind::Other => (StatusCode::BAD_GATEWAY, UPSTREAM, "bedrock_error"),
                };
                Self::new(status, kind, code, message)
            }
            EmbedError::RateLimited { .. } => Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                RATE_LIMIT,
                "rate_limit_exceeded",
                message,
            ),
            EmbedError::Internal(_) => Self::internal(message),
        };
        if out.retry_after.is_none() {
            out.retry_after = retry_after;
        }
        out
    }

    fn from_codec(err: &CodecError) -> Self {
        let message = err.to_string();
        match err {
            CodecError::InvalidParam { .. } => Self::new(
                StatusCode::BAD_REQUEST,
                INVALID_REQUEST,
                "invalid_param",
                message,
            ),
            CodecError::InvalidInput { .. } => Self::invalid("input", "invalid_input", message),
            CodecError::BadResponse { .. } => Self::new(
                StatusCode::BAD_GATEWAY,
                UPSTREAM,
                "bad_upstream_response",
                message,
            ),
            CodecError::UnsupportedModel { .. } => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                SERVER,
                "codec_unsupported_model",
                message,
            ),
            CodecError::Trap { .. } => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                SERVER,
                "codec_trap",
                message,
            ),
            CodecError::Contract { .. } => Self::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                SERVER,
                "codec_contract",
                message,
            ),
        }
    }

    fn body(&self) -> ErrorBody<'_> {
        ErrorBody {
            error: ErrorObject {
                message: &self.message,
                kind: self.kind,
                code: self.code,
                param: self.param,
            },
        }
    }
}

/// Whether a transient failure's detail says the attempt ran out of time.
fn is_timeout(detail: Option<&str>) -> bool {
    detail.is_some_and(|d| {
        let d = d.to_ascii_lowercase();
        d.contains("timed out") || d.contains("timeout")
    })
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.status, Json(self.body())).into_response();
        if let Some(after) = self.retry_after {
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::InvokeFailure;
    use crate::codec::RouteError;

    fn failure(kind: FailureKind, code: Option<&str>, detail: Option<&str>) -> EmbedError {
        EmbedError::Bedrock {
            failure: Box::new(InvokeFailure {
                kind,
                code: code.map(str::to_owned),
                message: Some("bedrock says no".into()),
                request_id: Some("req-1".into()),
                status: None,
                detail: detail.map(str::to_owned),
                original_status_code: None,
            }),
            message: format!("actionable message for {kind:?}"),
            attempts: 3,
        }
    }

    fn codec(make: fn(String, String) -> CodecError) -> EmbedError {
        EmbedError::Codec(make("titan".into(), "allowed: 256, 512, 1024".into()))
    }

    async fn body_json(err: ApiError) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let response = err.into_response();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, headers, serde_json::from_slice(&bytes).unwrap())
    }

    #[test]
    fn every_embed_error_maps_to_its_status() {
        let trap = |codec: String, reason: String| CodecError::Trap {
            codec,
            source_desc: "built-in".into(),
            func: "encode",
            model_id: "amazon.titan-embed-text-v2:0".into(),
            reason,
        };
        let contract = |codec: String, reason: String| CodecError::Contract {
            codec,
            source_desc: "built-in".into(),
            func: "decode",
            model_id: "amazon.titan-embed-text-v2:0".into(),
            reason,
        };
        let cases: Vec<(EmbedError, u16, &str)> = vec![
            (
                EmbedError::UnknownModel {
                    name: "nope".into(),
                    available: "titan, cohere".into(),
                },
                404,
                "model_not_found",
            ),
            (
                EmbedError::NoCodec {
                    model: "m".into(),
                    source: Box::new(RouteError::UnknownCodec {
                        name: "x".into(),
                        available: "titan".into(),
                    }),
                },
                503,
                "codec_unavailable",
            ),
            (
                codec(|codec, message| CodecError::InvalidParam { codec, message }),
                400,
                "invalid_param",
            ),
            (
                codec(|codec, message| CodecError::InvalidInput { codec, message }),
                400,
                "invalid_input",
            ),
            (
                codec(|codec, message| CodecError::BadResponse { codec, message }),
                502,
                "bad_upstream_response",
            ),
            (
                codec(|codec, message| CodecError::UnsupportedModel { codec, message }),
                500,
                "codec_unsupported_model",
            ),
            (codec(trap), 500, "codec_trap"),
            (codec(contract), 500, "codec_contract"),
            (
                failure(FailureKind::Throttled, Some("ThrottlingException"), None),
                429,
                "throttled",
            ),
            (
                failure(FailureKind::Throttled, Some("ModelNotReadyException"), None),
                503,
                "model_not_ready",
            ),
            (
                failure(FailureKind::ServiceQuota, None, None),
                429,
                "quota_exceeded",
            ),
            (
                failure(FailureKind::Validation, Some("ValidationException"), None),
                400,
                "bedrock_validation",
            ),
            (
                failure(FailureKind::AccessDenied, None, None),
                502,
                "bedrock_access_denied",
            ),
            (
                failure(FailureKind::Auth, None, None),
                502,
                "bedrock_credentials",
            ),
            (
                failure(FailureKind::Credentials, None, None),
                502,
                "bedrock_credentials",
            ),
            (
                failure(FailureKind::NotFound, None, None),
                502,
                "bedrock_model_not_found",
            ),
            (
                failure(FailureKind::ModelError, None, None),
                502,
                "bedrock_model_error",
            ),
            (
                failure(FailureKind::ModelTimeout, None, None),
                504,
                "upstream_timeout",
            ),
            (
                failure(FailureKind::Transient, None, Some("the attempt timed out")),
                504,
                "upstream_timeout",
            ),
            (
                failure(
                    FailureKind::Transient,
                    None,
                    Some("connection failed: reset"),
                ),
                502,
                "upstream_unavailable",
            ),
            (
                failure(FailureKind::Other, None, None),
                502,
                "bedrock_error",
            ),
            (EmbedError::Internal("boom".into()), 500, "internal_error"),
        ];
        for (err, status, code) in cases {
            let api = ApiError::from_embed(&err);
            assert_eq!((api.status.as_u16(), api.code), (status, code), "{err:?}");
            assert_eq!(
                api.message,
                err.to_string(),
                "the message is the embedder's actionable one"
            );
        }
    }

    #[tokio::test]
    async fn throttling_carries_retry_after_and_the_openai_shape() {
        let err = ApiError::from_embed(&failure(
            FailureKind::Throttled,
            Some("ThrottlingException"),
            None,
        ));
        let (status, headers, body) = body_json(err).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(headers[header::RETRY_AFTER], "1");
        assert_eq!(body["error"]["type"], RATE_LIMIT);
        assert_eq!(body["error"]["code"], "throttled");
        assert_eq!(body["error"]["param"], serde_json::Value::Null);
        assert_eq!(body["error"]["message"], "actionable message for Throttled");
    }

    #[tokio::test]
    async fn unknown_model_names_the_param_and_lists_models() {
        let err = ApiError::from_embed(&EmbedError::UnknownModel {
            name: "gpt".into(),
            available: "titan, cohere".into(),
        });
        let (status, headers, body) = body_json(err).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(headers.get(header::RETRY_AFTER).is_none());
        assert_eq!(body["error"]["param"], "model");
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("titan, cohere")
        );
    }

    #[tokio::test]
    async fn retry_after_rounds_up_to_whole_seconds() {
        let err = ApiError::not_ready().retry_after(Duration::from_millis(1500));
        let (status, headers, _) = body_json(err).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers[header::RETRY_AFTER], "2");
        let err = ApiError::not_ready().retry_after(Duration::ZERO);
        let (_, headers, _) = body_json(err).await;
        assert_eq!(headers[header::RETRY_AFTER], "1");
    }
}
