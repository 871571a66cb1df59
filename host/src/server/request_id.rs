//! `x-request-id` on every answer, and the one place errors are logged and rendered.
//!
//! A request's id is the caller's `x-request-id` when it is sane (1–128 characters of
//! `A-Z a-z 0-9 - _ . : / + =`, so a load balancer's or tracing system's id carries through),
//! else a fresh `req_` + 32 hex digits. The id is in the response header, in the body of every
//! error (`error.request_id`) and in the log line of every failure, which holds the operator's
//! detail (see [`super::error`]).

use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;

use super::AppState;
use super::error::ApiError;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The request's id, in the request's extensions for handlers that want it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestId(pub String);

/// Longest caller-supplied id kept.
pub const MAX_LEN: usize = 128;

/// The caller's id when it is one we can echo safely (header-safe, log-safe, bounded).
pub fn sane(value: &HeaderValue) -> Option<&str> {
    let text = value.to_str().ok()?;
    let ok = !text.is_empty()
        && text.len() <= MAX_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:/+=".contains(&b));
    ok.then_some(text)
}

/// A new id: `req_` and 128 random bits in hex.
pub fn generate() -> String {
    format!("req_{:032x}", rand::random::<u128>())
}

/// Middleware: assigns the id, and turns an [`ApiError`] answer into its final body (with the
/// id and the configured detail) and its log line.
pub async fn tag(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(REQUEST_ID)
        .and_then(sane)
        .map_or_else(generate, str::to_owned);
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    request.extensions_mut().insert(RequestId(id.clone()));
    let mut response = next.run(request).await;
    if let Some(err) = response.extensions_mut().remove::<ApiError>() {
        log(&err, &id, &method, &path);
        response = err.render(Some(&id), state.error_detail());
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID, value);
    }
    response
}

/// Server errors at `warn` with the operator's detail; client errors at `debug`.
fn log(err: &ApiError, id: &str, method: &axum::http::Method, path: &str) {
    let detail = err.detail.as_deref().unwrap_or(&err.message);
    if err.status.is_server_error() {
        tracing::warn!(request_id = id, %method, path, status = err.status.as_u16(), code = err.code, "{detail}");
    } else {
        tracing::debug!(request_id = id, %method, path, status = err.status.as_u16(), code = err.code, "{detail}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sane_ids_are_kept_and_others_replaced() {
        for ok in ["abc", "req_1234", "1-2_3.4:5/6+7=8", &"a".repeat(MAX_LEN)] {
            assert_eq!(sane(&HeaderValue::from_str(ok).unwrap()), Some(ok), "{ok}");
        }
        for bad in [
            "",
            "with space",
            "semi;colon",
            "quote\"",
            &"a".repeat(MAX_LEN + 1),
        ] {
            assert_eq!(sane(&HeaderValue::from_str(bad).unwrap()), None, "{bad}");
        }
        assert_eq!(
            sane(&HeaderValue::from_bytes(b"caf\xc3\xa9").unwrap()),
            None
        );
        let id = generate();
        assert!(id.starts_with("req_") && id.len() == 36, "{id}");
        assert_ne!(generate(), id);
        assert!(sane(&HeaderValue::from_str(&id).unwrap()).is_some());
    }
}
