//! Errors in OpenAI's shape, `{"error":{"message","type","code","param"}}`, and the HTTP status
//! every failure maps to. The mapping reads [`Failure`] (types, never message text), the same
//! classification the bulk job uses.
//!
//! | status | `type` | when |
//! |---|---|---|
//! | 400 | `invalid_request_error` | a call of the request over a token limit (`too_many_tokens`), bad JSON or fields, token ids that are not `cl100k_base` (`invalid_token_id`), more than 2,048 inputs (`code: null`, OpenAI's message), Bedrock ValidationException, codec InvalidParam / InvalidInput |
//! | 401 | `invalid_request_error` | missing (`code: null`) or wrong (`invalid_api_key`) API key |
//! | 404 | `invalid_request_error` | unknown model (`model_not_found`; the message lists the served ones), unknown route |
//! | 408 | `invalid_request_error` | the request body did not arrive within `runtime.http.body_read_timeout` |
//! | 413 | `invalid_request_error` | body over the limit |
//! | 429 | `requests` | still throttled after the retries, service quota exceeded, the limiter would wait past `limiter_max_wait` (`rate_limit_exceeded`, `Retry-After`) |
//! | 502 | `server_error` | Bedrock auth / permission / not-found / model errors, unreadable responses, codec BadResponse |
//! | 503 | `server_error` | not ready, no codec for the model, ModelNotReadyException (`Retry-After`) |
//! | 504 | `server_error` | ModelTimeoutException or attempts that timed out, until the retries ran out |
//! | 500 | `server_error` | codec traps, contract violations, internal errors |
//!
//! Answers a retry cannot fix ([`Failure::is_permanent`]) carry `x-should-retry: false`, which
//! the official OpenAI SDKs honour before their own status rules (they retry 408, 409, 429 and
//! every 5xx by default).
//!
//! Two audiences: `message` is what the client can act on; `detail`, when set, is the
//! operator's version (file paths, secret and profile names, where the credentials came from,
//! IAM ARNs). [`super::request_id`] logs the detail under the request id and sends the client
//! the message, or the detail too with `runtime.http.error_detail: full`.

use std::time::Duration;

use axum::Json;
use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::aws::FailureKind;
use crate::codec::{RouteError, TrapKind};
use crate::embedder::EmbedError;
use crate::failure::Failure;

/// `x-should-retry`: the OpenAI SDKs' override of their retry rules.
pub const SHOULD_RETRY: HeaderName = HeaderName::from_static("x-should-retry");

/// An error answer. `message` is for the client; `code` is stable, for programs and metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub kind: &'static str,
    /// The stable code, also the `code` label of the failure metrics.
    pub code: &'static str,
    /// Whether `code` is sent (OpenAI sends `null` for some errors, e.g. too many inputs).
    pub code_on_wire: bool,
    pub param: Option<&'static str>,
    /// What the client sees.
    pub message: String,
    /// The operator's fuller account (logged; sent only with `error_detail: full`).
    pub detail: Option<String>,
    /// Sent as `Retry-After` (whole seconds, at least 1).
    pub retry_after: Option<Duration>,
    /// Retrying the same request cannot help: sent as `x-should-retry: false`.
    pub permanent: bool,
}

/// How much of an error the client sees (`runtime.http.error_detail`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ErrorDetail {
    /// What the client can act on; the operator's detail goes to the log only.
    #[default]
    Client,
    /// The operator's detail in the answer too (a trusted network, offline mode).
    Full,
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
    pub code: Option<&'a str>,
    pub param: Option<&'a str>,
    /// The `x-request-id` of the answer, so a user can quote it to the operator.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<&'a str>,
}

/// OpenAI's `type` for client errors (400, 401, 404, 413, ...).
pub const INVALID_REQUEST: &str = "invalid_request_error";
/// OpenAI sends 401s as `invalid_request_error` too (code `invalid_api_key`).
pub const AUTHENTICATION: &str = INVALID_REQUEST;
/// OpenAI's `type` of a request-rate 429 (code `rate_limit_exceeded`).
pub const RATE_LIMIT: &str = "requests";
/// OpenAI's `type` for every 5xx.
pub const SERVER: &str = "server_error";
pub const UPSTREAM: &str = SERVER;
pub const UNAVAILABLE: &str = SERVER;
pub const TIMEOUT: &str = SERVER;
/// The code of every 429 (OpenAI's).
pub const RATE_LIMIT_EXCEEDED: &str = "rate_limit_exceeded";

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
            code_on_wire: true,
            param: None,
            message: message.into(),
            detail: None,
            retry_after: None,
            permanent: false,
        }
    }

    /// A 400 about one request field.
    pub fn invalid(param: &'static str, code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, INVALID_REQUEST, code, message)
            .param(param)
            .permanent()
    }

    pub fn param(mut self, param: &'static str) -> Self {
        self.param = Some(param);
        self
    }

    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = Some(after);
        self
    }

    /// Marks the answer `x-should-retry: false`.
    pub fn permanent(mut self) -> Self {
        self.permanent = true;
        self
    }

    /// Sends `code: null` (the code still labels metrics and logs).
    pub fn without_wire_code(mut self) -> Self {
        self.code_on_wire = false;
        self
    }

    /// The operator's version of the message (logged; sent with `error_detail: full`).
    pub fn detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
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
        .permanent()
    }

    /// The body did not arrive in time (`runtime.http.body_read_timeout`).
    pub fn body_timeout(limit: Duration) -> Self {
        Self::new(
            StatusCode::REQUEST_TIMEOUT,
            INVALID_REQUEST,
            "body_timeout",
            format!(
                "the request body did not arrive within {} s: send it whole, without pauses",
                limit.as_secs_f64()
            ),
        )
    }

    /// More inputs than the API allows: OpenAI answers 400 with `'$.input' is invalid` and no
    /// code; the hint after it says what the limit is.
    pub fn too_many_inputs(count: usize, max: usize) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            INVALID_REQUEST,
            "too_many_inputs",
            format!(
                "'$.input' is invalid. Please check the API reference: https://platform.openai.com/docs/api-reference. \
                 (input has {count} items; at most {max} are allowed per request: split it into several requests)"
            ),
        )
        .without_wire_code()
        .permanent()
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            SERVER,
            "internal_error",
            "internal error in bedrock-embed",
        )
        .detail(message)
    }

    /// The status and body for a failed embedding, from its [`Failure`] kind.
    pub fn from_embed(err: &EmbedError) -> Self {
        let failure = Failure::of(err);
        let full = err.to_string();
        let (status, kind, code) = status_of(failure);
        let mut out = if failure.is_client_fault() {
            Self::new(status, kind, code, full)
        } else {
            let message = match err {
                EmbedError::NoCodec { source, .. } => no_codec_message(source),
                EmbedError::TooManyTokens {
                    estimate,
                    limit,
                    param,
                    ..
                } => Some(too_many_tokens_message(*estimate, *limit, param)),
                _ => None,
            };
            let message = message.unwrap_or_else(|| client_message(failure).to_string());
            Self::new(status, kind, code, message).detail(full)
        };
        out.permanent = failure.is_permanent();
        out.param = match failure {
            Failure::UnknownModel => Some("model"),
            Failure::InvalidInput | Failure::TooManyTokens => Some("input"),
            _ => None,
        };
        out.retry_after = err.retry_after().or(match failure {
            Failure::Bedrock(FailureKind::ServiceQuota) => Some(Duration::from_secs(1)),
            _ => None,
        });
        out
    }

    /// The body sent, with the request id and the detail policy applied.
    pub fn body<'a>(&'a self, request_id: Option<&'a str>, detail: ErrorDetail) -> ErrorBody<'a> {
        let message = match (detail, &self.detail) {
            (ErrorDetail::Full, Some(d)) => d.as_str(),
            _ => self.message.as_str(),
        };
        ErrorBody {
            error: ErrorObject {
                message,
                kind: self.kind,
                code: self.code_on_wire.then_some(self.code),
                param: self.param,
                request_id,
            },
        }
    }

    /// The whole answer.
    pub fn render(&self, request_id: Option<&str>, detail: ErrorDetail) -> Response {
        let mut response = (self.status, Json(self.body(request_id, detail))).into_response();
        let headers = response.headers_mut();
        if let Some(after) = self.retry_after {
            let secs = after.as_secs() + u64::from(after.subsec_nanos() > 0);
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        if self.permanent {
            headers.insert(SHOULD_RETRY, HeaderValue::from_static("false"));
        }
        response
    }
}

/// Status, OpenAI `type` and code per failure kind.
fn status_of(failure: Failure) -> (StatusCode, &'static str, &'static str) {
    use FailureKind as K;
    match failure {
        Failure::UnknownModel => (StatusCode::NOT_FOUND, INVALID_REQUEST, "model_not_found"),
        Failure::NoCodec => (
            StatusCode::SERVICE_UNAVAILABLE,
            UNAVAILABLE,
            "codec_unavailable",
        ),
        Failure::InvalidParam => (StatusCode::BAD_REQUEST, INVALID_REQUEST, "invalid_param"),
        Failure::InvalidInput => (StatusCode::BAD_REQUEST, INVALID_REQUEST, "invalid_input"),
        Failure::TooManyTokens => (StatusCode::BAD_REQUEST, INVALID_REQUEST, "too_many_tokens"),
        Failure::BadResponse => (StatusCode::BAD_GATEWAY, UPSTREAM, "bad_upstream_response"),
        Failure::UnsupportedModel => (
            StatusCode::INTERNAL_SERVER_ERROR,
            SERVER,
            "codec_unsupported_model",
        ),
        Failure::CodecTrap(_) => (StatusCode::INTERNAL_SERVER_ERROR, SERVER, "codec_trap"),
        Failure::CodecContract => (StatusCode::INTERNAL_SERVER_ERROR, SERVER, "codec_contract"),
        Failure::Internal => (StatusCode::INTERNAL_SERVER_ERROR, SERVER, "internal_error"),
        Failure::RateLimited => (
            StatusCode::TOO_MANY_REQUESTS,
            RATE_LIMIT,
            RATE_LIMIT_EXCEEDED,
        ),
        Failure::Bedrock(kind) => match kind {
            K::ModelNotReady => (
                StatusCode::SERVICE_UNAVAILABLE,
                UNAVAILABLE,
                "model_not_ready",
            ),
            K::Throttled | K::ServiceQuota => (
                StatusCode::TOO_MANY_REQUESTS,
                RATE_LIMIT,
                RATE_LIMIT_EXCEEDED,
            ),
            K::Validation => (
                StatusCode::BAD_REQUEST,
                INVALID_REQUEST,
                "bedrock_validation",
            ),
            K::ModelTimeout | K::Timeout => {
                (StatusCode::GATEWAY_TIMEOUT, TIMEOUT, "upstream_timeout")
            }
            K::Transient => (StatusCode::BAD_GATEWAY, UPSTREAM, "upstream_unavailable"),
            K::AccessDenied => (StatusCode::BAD_GATEWAY, UPSTREAM, "bedrock_access_denied"),
            K::Auth | K::Credentials => (StatusCode::BAD_GATEWAY, UPSTREAM, "bedrock_credentials"),
            K::NotFound => (StatusCode::BAD_GATEWAY, UPSTREAM, "bedrock_model_not_found"),
            K::ModelError => (StatusCode::BAD_GATEWAY, UPSTREAM, "bedrock_model_error"),
            K::Other => (StatusCode::BAD_GATEWAY, UPSTREAM, "bedrock_error"),
        },
    }
}

/// The numbers, without the operator's param names.
fn too_many_tokens_message(estimate: u64, limit: u64, param: &str) -> String {
    let per = if param == "tokens_per_day_limit" {
        "day"
    } else {
        "minute"
    };
    format!(
        "a call of this request may use up to {estimate} input tokens (estimated from its texts' length), more than the {limit} tokens per {per} this server allows this model: send fewer or shorter inputs per request"
    )
}

/// A removed codec's model-id prefix is what a client can quote and wait for (the codec's file
/// stays in the operator's detail).
fn no_codec_message(source: &RouteError) -> Option<String> {
    match source {
        RouteError::RemovedPrefix { prefix, .. } => Some(format!(
            "no codec serves the model prefix {prefix:?} right now (its codec was removed): retry \
             later; the server's operator has the details in its log under this answer's request id"
        )),
        _ => None,
    }
}

/// What a client can act on, for the failures whose full message is the operator's.
fn client_message(failure: Failure) -> &'static str {
    use FailureKind as K;
    // The failures only the operator can fix say so, and where the detail is.
    macro_rules! op {
        ($s:literal) => {
            concat!(
                $s,
                "; the server's operator has the details in its log under this answer's request id"
            )
        };
    }
    match failure {
        Failure::Bedrock(K::Throttled) => {
            "Bedrock is throttling this model and the server's retries ran out: retry after the Retry-After delay, or send fewer requests"
        }
        Failure::RateLimited => {
            "this model is at the request rate, token or concurrency limit this server allows it, and the request would have waited too long: retry after the Retry-After delay, or send fewer requests"
        }
        Failure::Bedrock(K::ServiceQuota) => {
            "a Bedrock service quota of this server's AWS account is exhausted for this model: retry later"
        }
        Failure::Bedrock(K::ModelNotReady) => {
            "Bedrock is still loading this model: retry after the Retry-After delay"
        }
        Failure::Bedrock(K::ModelTimeout | K::Timeout) => {
            "Bedrock did not answer in time and the server's retries ran out: retry, or send fewer or shorter inputs per request"
        }
        Failure::Bedrock(K::Transient) => {
            "Bedrock did not answer and the server's retries ran out: retry shortly"
        }
        Failure::Bedrock(K::AccessDenied) => op!(
            "this server's AWS identity is not allowed to invoke this model at Bedrock; retrying will not help until the operator grants access"
        ),
        Failure::Bedrock(K::Auth | K::Credentials) => op!(
            "Bedrock rejected this server's AWS credentials for this model; retrying will not help until the operator fixes them"
        ),
        Failure::Bedrock(K::NotFound) => op!(
            "Bedrock does not know the model this name is configured with; retrying will not help until the operator fixes the model id"
        ),
        Failure::Bedrock(K::ModelError) => op!("the model failed inside Bedrock on this request"),
        Failure::Bedrock(K::Other) => op!("the Bedrock call failed"),
        Failure::NoCodec => op!("no codec serves this model right now: retry later"),
        Failure::BadResponse => op!("the model's codec could not read Bedrock's answer"),
        Failure::UnsupportedModel => op!("the model's codec does not serve its model id"),
        Failure::CodecTrap(TrapKind::MemoryLimit) => op!(
            "the model's codec ran out of memory on this request: send fewer or shorter inputs per request"
        ),
        Failure::CodecTrap(TrapKind::TimeLimit) => op!(
            "the model's codec ran past its time limit on this request: send fewer or shorter inputs per request, or retry"
        ),
        Failure::CodecTrap(_) => op!("the model's codec failed on this request"),
        Failure::CodecContract => op!("the model's codec returned an invalid answer"),
        Failure::Internal => op!("internal error in bedrock-embed"),
        // Client faults send their full message; these arms are never reached from from_embed.
        Failure::UnknownModel
        | Failure::InvalidParam
        | Failure::InvalidInput
        | Failure::TooManyTokens
        | Failure::Bedrock(K::Validation) => "the request was refused",
    }
}

impl IntoResponse for ApiError {
    /// Renders without a request id, and keeps the error in the response's extensions:
    /// [`super::request_id`] re-renders it with the id and the detail policy, and logs it.
    fn into_response(self) -> Response {
        let mut response = self.render(None, ErrorDetail::Client);
        response.extensions_mut().insert(self);
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
            self.detail.as_deref().unwrap_or(&self.message)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aws::InvokeFailure;
    use crate::codec::CodecError;

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
            message: format!(
                "actionable message for {kind:?} (param aws_access_key_id (secret MY_KID from pod/.env))"
            ),
            attempts: 3,
        }
    }

    fn codec(make: fn(String, String) -> CodecError) -> EmbedError {
        EmbedError::Codec(make("titan".into(), "allowed: 256, 512, 1024".into()))
    }

    fn trap(kind: TrapKind) -> EmbedError {
        EmbedError::Codec(CodecError::Trap {
            codec: "titan".into(),
            source_desc: "/srv/pod/codecs/titan.wasm".into(),
            func: "encode",
            model_id: "amazon.titan-embed-text-v2:0".into(),
            kind,
            reason: "it tried to use more than its memory limit of 64 MiB".into(),
        })
    }

    async fn body_json(
        response: Response,
    ) -> (StatusCode, axum::http::HeaderMap, serde_json::Value) {
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, headers, serde_json::from_slice(&bytes).unwrap())
    }

    #[test]
    fn every_embed_error_maps_to_its_status_type_and_code() {
        let contract = |codec: String, reason: String| CodecError::Contract {
            codec,
            source_desc: "built-in".into(),
            func: "decode",
            model_id: "amazon.titan-embed-text-v2:0".into(),
            reason,
        };
        // (error, status, type, code, x-should-retry: false)
        let cases: Vec<(EmbedError, u16, &str, &str, bool)> = vec![
            (
                EmbedError::UnknownModel {
                    name: "nope".into(),
                    available: "titan, cohere".into(),
                },
                404,
                "invalid_request_error",
                "model_not_found",
                true,
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
                "server_error",
                "codec_unavailable",
                false,
            ),
            (
                codec(|codec, message| CodecError::InvalidParam { codec, message }),
                400,
                "invalid_request_error",
                "invalid_param",
                true,
            ),
            (
                codec(|codec, message| CodecError::InvalidInput { codec, message }),
                400,
                "invalid_request_error",
                "invalid_input",
                true,
            ),
            (
                codec(|codec, message| CodecError::BadResponse { codec, message }),
                502,
                "server_error",
                "bad_upstream_response",
                true,
            ),
            (
                codec(|codec, message| CodecError::UnsupportedModel { codec, message }),
                500,
                "server_error",
                "codec_unsupported_model",
                true,
            ),
            (
                trap(TrapKind::Panic),
                500,
                "server_error",
                "codec_trap",
                true,
            ),
            (
                trap(TrapKind::MemoryLimit),
                500,
                "server_error",
                "codec_trap",
                true,
            ),
            (
                trap(TrapKind::TimeLimit),
                500,
                "server_error",
                "codec_trap",
                false,
            ),
            (codec(contract), 500, "server_error", "codec_contract", true),
            (
                failure(FailureKind::Throttled, Some("ThrottlingException"), None),
                429,
                "requests",
                "rate_limit_exceeded",
                false,
            ),
            (
                failure(
                    FailureKind::ModelNotReady,
                    Some("ModelNotReadyException"),
                    None,
                ),
                503,
                "server_error",
                "model_not_ready",
                false,
            ),
            (
                failure(FailureKind::ServiceQuota, None, None),
                429,
                "requests",
                "rate_limit_exceeded",
                false,
            ),
            (
                failure(FailureKind::Validation, Some("ValidationException"), None),
                400,
                "invalid_request_error",
                "bedrock_validation",
                true,
            ),
            (
                failure(FailureKind::AccessDenied, None, None),
                502,
                "server_error",
                "bedrock_access_denied",
                true,
            ),
            (
                failure(FailureKind::Auth, None, None),
                502,
                "server_error",
                "bedrock_credentials",
                true,
            ),
            (
                failure(FailureKind::Credentials, None, None),
                502,
                "server_error",
                "bedrock_credentials",
                true,
            ),
            (
                failure(FailureKind::NotFound, None, None),
                502,
                "server_error",
                "bedrock_model_not_found",
                true,
            ),
            (
                failure(FailureKind::ModelError, None, None),
                502,
                "server_error",
                "bedrock_model_error",
                true,
            ),
            (
                failure(FailureKind::ModelTimeout, None, None),
                504,
                "server_error",
                "upstream_timeout",
                false,
            ),
            // The kind decides, not the detail's words.
            (
                failure(FailureKind::Timeout, None, Some("no words about time")),
                504,
                "server_error",
                "upstream_timeout",
                false,
            ),
            (
                failure(FailureKind::Transient, None, Some("the attempt timed out")),
                502,
                "server_error",
                "upstream_unavailable",
                false,
            ),
            (
                failure(FailureKind::Other, None, None),
                502,
                "server_error",
                "bedrock_error",
                true,
            ),
            (
                EmbedError::RateLimited {
                    model: "titan".into(),
                    max_wait: Duration::from_secs(30),
                    retry_after: Duration::from_millis(2500),
                    cause: crate::limiter::ShedCause::Tokens,
                },
                429,
                "requests",
                "rate_limit_exceeded",
                false,
            ),
            (
                EmbedError::TooManyTokens {
                    model: "titan".into(),
                    estimate: 30_002,
                    limit: 20_000,
                    param: "tokens_per_min_limit",
                },
                400,
                "invalid_request_error",
                "too_many_tokens",
                true,
            ),
            (
                EmbedError::Internal("boom".into()),
                500,
                "server_error",
                "internal_error",
                false,
            ),
        ];
        for (err, status, kind, code, permanent) in cases {
            let api = ApiError::from_embed(&err);
            assert_eq!(
                (api.status.as_u16(), api.kind, api.code, api.permanent),
                (status, kind, code, permanent),
                "{err:?}"
            );
            // The operator's full message is kept, as the message or as the detail.
            assert_eq!(
                api.detail.as_deref().unwrap_or(&api.message),
                err.to_string(),
                "{err:?}"
            );
        }
    }

    #[tokio::test]
    async fn operator_detail_stays_out_of_the_client_body() {
        for err in [
            failure(FailureKind::Auth, Some("UnrecognizedClientException"), None),
            failure(FailureKind::AccessDenied, None, None),
            trap(TrapKind::MemoryLimit),
        ] {
            let api = ApiError::from_embed(&err);
            let (_, headers, body) =
                body_json(api.render(Some("req-42"), ErrorDetail::Client)).await;
            let text = body.to_string();
            for secret_ish in [
                "MY_KID",
                ".env",
                "aws_access_key_id",
                "/srv/pod",
                "actionable message",
            ] {
                assert!(!text.contains(secret_ish), "{secret_ish} leaked: {text}");
            }
            assert_eq!(body["error"]["request_id"], "req-42");
            assert!(
                text.contains("request id"),
                "points the user at the id: {text}"
            );
            assert_eq!(headers[SHOULD_RETRY], "false");
            // `full` sends it all.
            let (_, _, body) = body_json(api.render(Some("req-42"), ErrorDetail::Full)).await;
            assert_eq!(body["error"]["message"], err.to_string());
        }
    }

    #[tokio::test]
    async fn throttling_carries_retry_after_and_the_openai_shape() {
        let err = ApiError::from_embed(&failure(
            FailureKind::Throttled,
            Some("ThrottlingException"),
            None,
        ));
        let (status, headers, body) = body_json(err.into_response()).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(headers[header::RETRY_AFTER], "1");
        assert!(headers.get(SHOULD_RETRY).is_none());
        assert_eq!(body["error"]["type"], RATE_LIMIT);
        assert_eq!(body["error"]["code"], "rate_limit_exceeded");
        assert_eq!(body["error"]["param"], serde_json::Value::Null);
    }

    #[tokio::test]
    async fn a_limiter_shed_is_a_retryable_429_with_the_limiters_retry_after() {
        let err = ApiError::from_embed(&EmbedError::RateLimited {
            model: "titan".into(),
            max_wait: Duration::from_secs(30),
            retry_after: Duration::from_millis(2500),
            cause: crate::limiter::ShedCause::Requests,
        });
        let (status, headers, body) =
            body_json(err.render(Some("req-7"), ErrorDetail::Client)).await;
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(headers[header::RETRY_AFTER], "3");
        assert!(
            headers.get(SHOULD_RETRY).is_none(),
            "a shed is worth retrying"
        );
        assert_eq!(body["error"]["type"], RATE_LIMIT);
        assert_eq!(body["error"]["code"], RATE_LIMIT_EXCEEDED);
        assert_eq!(body["error"]["request_id"], "req-7");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("Retry-After"), "{message}");
        // The operator's knob stays in the log (and in `full`).
        assert!(!message.contains("limiter_max_wait"), "{message}");
        let (_, _, body) = body_json(err.render(Some("req-7"), ErrorDetail::Full)).await;
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("limiter_max_wait (30s)"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn a_removed_codec_names_its_prefix_to_the_client_and_its_file_to_the_operator() {
        let err = EmbedError::NoCodec {
            model: "echo".into(),
            source: Box::new(RouteError::RemovedPrefix {
                model_id: "example.echo-embed-v1".into(),
                prefix: "example.echo-embed-".into(),
                codec: "template".into(),
                source_desc: "/srv/pod/codecs/template.wasm".into(),
            }),
        };
        let api = ApiError::from_embed(&err);
        let (status, headers, body) =
            body_json(api.render(Some("req-9"), ErrorDetail::Client)).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            headers.get(SHOULD_RETRY).is_none(),
            "a swap may bring it back"
        );
        assert_eq!(body["error"]["code"], "codec_unavailable");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains("\"example.echo-embed-\""), "{message}");
        assert!(!message.contains("/srv/pod"), "{message}");
        assert_eq!(api.detail.as_deref(), Some(err.to_string().as_str()));
        // Other route errors keep the generic message.
        let other = ApiError::from_embed(&EmbedError::NoCodec {
            model: "m".into(),
            source: Box::new(RouteError::UnknownCodec {
                name: "x".into(),
                available: "titan".into(),
            }),
        });
        assert_eq!(other.message, client_message(Failure::NoCodec));
    }

    #[tokio::test]
    async fn unknown_model_names_the_param_and_lists_models() {
        let err = ApiError::from_embed(&EmbedError::UnknownModel {
            name: "gpt".into(),
            available: "titan, cohere".into(),
        });
        let (status, headers, body) = body_json(err.into_response()).await;
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
        let (status, headers, _) = body_json(err.into_response()).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(headers[header::RETRY_AFTER], "2");
        let err = ApiError::not_ready().retry_after(Duration::ZERO);
        let (_, headers, _) = body_json(err.into_response()).await;
        assert_eq!(headers[header::RETRY_AFTER], "1");
    }
}
