//! Optional API keys (the spicepod's `runtime.auth.api-key.keys`): when set, every route but
//! `/health` and `/v1/ready` (as in Spice) needs `Authorization: Bearer <key>` or
//! `X-API-Key: <key>`.
//!
//! Only SHA-256 digests of the keys are kept, and a presented key is compared against every
//! digest in constant time (no early exit, no length leak). Keys are never logged.

use axum::extract::{Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::AppState;
use super::error::{AUTHENTICATION, ApiError};
use crate::secrets::Secret;

/// Routes open without a key.
pub const OPEN_PATHS: &[&str] = &["/health", "/v1/ready"];

/// The accepted keys, as digests.
#[derive(Clone)]
pub struct ApiKeys {
    digests: Vec<[u8; 32]>,
}

impl std::fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ApiKeys({} keys)", self.digests.len())
    }
}

/// What the request presented.
#[derive(Debug, PartialEq, Eq)]
pub enum Presented<'a> {
    None,
    /// A key header that is not usable (e.g. `Authorization: Basic ...`).
    Malformed,
    Keys(Vec<&'a str>),
}

impl ApiKeys {
    /// `None` when there are no keys (auth off).
    pub fn new(keys: &[Secret]) -> Option<Self> {
        let digests: Vec<[u8; 32]> = keys.iter().map(|k| digest(k.expose())).collect();
        (!digests.is_empty()).then_some(Self { digests })
    }

    pub fn len(&self) -> usize {
        self.digests.len()
    }

    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }

    /// Whether `key` is one of the keys, in time independent of where (or whether) it matches.
    pub fn accepts(&self, key: &str) -> bool {
        let presented = digest(key);
        let mut found = 0u8;
        for d in &self.digests {
            found |= u8::from(ct_eq(&presented, d));
        }
        found == 1
    }

    /// Checks the request's headers: `Ok` or the 401 to send.
    pub fn check(&self, headers: &HeaderMap) -> Result<(), ApiError> {
        match presented(headers) {
            Presented::Keys(keys) if keys.iter().any(|k| self.accepts(k)) => Ok(()),
            Presented::Keys(_) => Err(unauthorized("invalid_api_key", "the API key is not valid")),
            Presented::Malformed => Err(unauthorized(
                "invalid_api_key",
                "the Authorization header must be `Bearer <key>` (or send `X-API-Key: <key>`)",
            )),
            // OpenAI sends a missing key with `code: null`.
            Presented::None => Err(unauthorized(
                "missing_api_key",
                "an API key is required: send `Authorization: Bearer <key>` or `X-API-Key: <key>`",
            )
            .without_wire_code()),
        }
    }
}

fn unauthorized(code: &'static str, message: &str) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, AUTHENTICATION, code, message).permanent()
}

fn digest(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

fn ct_eq(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let mut diff = 0u8;
    for (x, y) in a.iter().zip(b) {
        diff |= x ^ y;
    }
    std::hint::black_box(diff) == 0
}

/// The keys a request presents: `Authorization: Bearer <key>` and/or `X-API-Key: <key>`.
pub fn presented(headers: &HeaderMap) -> Presented<'_> {
    let mut keys = Vec::new();
    let mut malformed = false;
    for value in headers.get_all(header::AUTHORIZATION) {
        match value.to_str().ok().and_then(bearer) {
            Some(key) => keys.push(key),
            None => malformed = true,
        }
    }
    for value in headers.get_all("x-api-key") {
        match value.to_str().map(str::trim) {
            Ok(key) if !key.is_empty() => keys.push(key),
            _ => malformed = true,
        }
    }
    match (keys.is_empty(), malformed) {
        (false, _) => Presented::Keys(keys),
        (true, true) => Presented::Malformed,
        (true, false) => Presented::None,
    }
}

/// The token of `Bearer <token>` (scheme case-insensitive).
fn bearer(value: &str) -> Option<&str> {
    let (scheme, token) = value.trim().split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
}

/// Middleware: lets open paths through, checks keys on the rest.
pub async fn require_key(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(keys) = &state.api_keys
        && !OPEN_PATHS.contains(&request.uri().path())
        && let Err(err) = keys.check(request.headers())
    {
        tracing::debug!(
            path = request.uri().path(),
            code = err.code,
            "request refused: API key"
        );
        super::metrics::auth_failure(err.code);
        return err.into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn keys() -> ApiKeys {
        ApiKeys::new(&[Secret::new("k-one", "test"), Secret::new("k-two", "test")]).unwrap()
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn no_keys_means_auth_off() {
        assert!(ApiKeys::new(&[]).is_none());
    }

    #[test]
    fn accepts_only_configured_keys() {
        let keys = keys();
        assert_eq!(keys.len(), 2);
        assert!(keys.accepts("k-one") && keys.accepts("k-two"));
        assert!(!keys.accepts("k-on") && !keys.accepts("k-one ") && !keys.accepts(""));
    }

    #[test]
    fn extraction_from_bearer_and_x_api_key() {
        assert_eq!(
            presented(&headers(&[("authorization", "Bearer abc")])),
            Presented::Keys(vec!["abc"])
        );
        assert_eq!(
            presented(&headers(&[("authorization", "bearer  abc ")])),
            Presented::Keys(vec!["abc"])
        );
        assert_eq!(
            presented(&headers(&[("x-api-key", "xyz")])),
            Presented::Keys(vec!["xyz"])
        );
        assert_eq!(
            presented(&headers(&[("authorization", "Basic dTpw")])),
            Presented::Malformed
        );
        assert_eq!(
            presented(&headers(&[("authorization", "Bearer ")])),
            Presented::Malformed
        );
        assert_eq!(presented(&headers(&[])), Presented::None);
        // The OpenAI client always sends a bearer, maybe a placeholder; X-API-Key may carry the real key.
        assert_eq!(
            presented(&headers(&[
                ("authorization", "Bearer placeholder"),
                ("x-api-key", "real")
            ])),
            Presented::Keys(vec!["placeholder", "real"])
        );
    }

    #[test]
    fn check_gives_401_codes() {
        let keys = keys();
        assert!(
            keys.check(&headers(&[("authorization", "Bearer k-two")]))
                .is_ok()
        );
        assert!(keys.check(&headers(&[("x-api-key", "k-one")])).is_ok());
        assert!(
            keys.check(&headers(&[
                ("authorization", "Bearer nope"),
                ("x-api-key", "k-one")
            ]))
            .is_ok()
        );
        let e = keys.check(&headers(&[])).unwrap_err();
        assert_eq!(
            (e.status, e.code, e.code_on_wire),
            (StatusCode::UNAUTHORIZED, "missing_api_key", false)
        );
        let e = keys
            .check(&headers(&[("authorization", "Bearer nope")]))
            .unwrap_err();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::UNAUTHORIZED, "invalid_api_key")
        );
        assert!(!e.message.contains("nope"), "never echo a presented key");
        let e = keys
            .check(&headers(&[("authorization", "Basic x")]))
            .unwrap_err();
        assert_eq!(e.code, "invalid_api_key");
    }

    #[test]
    fn debug_shows_no_key() {
        assert_eq!(format!("{:?}", keys()), "ApiKeys(2 keys)");
    }
}
