//! Authentication of a request: SigV4 (access key, optional session token) or a Bedrock API
//! key (`Authorization: Bearer`), failing with the front-door errors the AWS SDKs know.

use crate::config::{Config, Credential};
use crate::credentials::CredentialState;
use crate::error::{ApiError, ErrorCode};
use crate::sigv4::{self, ReceivedRequest};
use std::time::SystemTime;

/// Who called.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AuthInfo {
    /// `sigv4`, `bearer` or `none`.
    pub scheme: &'static str,
    pub access_key_id: Option<String>,
    /// Region of the SigV4 credential scope.
    pub region: Option<String>,
}

fn unrecognized() -> ApiError {
    ApiError::of(ErrorCode::UnrecognizedClientException)
}

/// Checks a Bedrock Runtime request's credentials against the configuration and the session
/// credentials the credential endpoints issued.
pub fn authenticate(
    cfg: &Config,
    issued: &CredentialState,
    req: &ReceivedRequest<'_>,
    now: SystemTime,
) -> Result<AuthInfo, ApiError> {
    authenticate_inner(cfg, issued, req, now, sigv4::SERVICE, true)
}

/// Checks a SigV4 request to another emulated service (`sts`): no bearer keys.
pub(crate) fn authenticate_for(
    cfg: &Config,
    issued: &CredentialState,
    req: &ReceivedRequest<'_>,
    now: SystemTime,
    service: &str,
) -> Result<AuthInfo, ApiError> {
    authenticate_inner(cfg, issued, req, now, service, false)
}

fn authenticate_inner(
    cfg: &Config,
    issued: &CredentialState,
    req: &ReceivedRequest<'_>,
    now: SystemTime,
    service: &str,
    allow_bearer: bool,
) -> Result<AuthInfo, ApiError> {
    let header = req
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok());
    if !cfg.verify_auth {
        let parsed = header
            .filter(|h| sigv4::is_sigv4(h))
            .and_then(|h| sigv4::parse_authorization(h).ok());
        return Ok(AuthInfo {
            scheme: if parsed.is_some() { "sigv4" } else { "none" },
            access_key_id: parsed.as_ref().map(|a| a.access_key_id.clone()),
            region: parsed.map(|a| a.region),
        });
    }
    let Some(header) = header else {
        return Err(ApiError::of(ErrorCode::MissingAuthenticationTokenException));
    };
    if let Some(token) = header.trim().strip_prefix("Bearer ")
        && allow_bearer
    {
        let token = token.trim();
        if cfg
            .api_keys
            .iter()
            .any(|k| sigv4::ct_eq(k.as_bytes(), token.as_bytes()))
        {
            return Ok(AuthInfo {
                scheme: "bearer",
                access_key_id: None,
                region: None,
            });
        }
        return Err(unrecognized());
    }
    if !sigv4::is_sigv4(header) {
        return Err(ApiError::new(
            ErrorCode::IncompleteSignatureException,
            format!(
                "Authorization header requires 'Credential' parameter. Authorization header requires 'Signature' parameter. Authorization header requires 'SignedHeaders' parameter. Authorization={}",
                header.split_whitespace().next().unwrap_or_default()
            ),
        ));
    }
    let auth = sigv4::parse_authorization(header)?;
    let date_header = req.headers.get("x-amz-date").and_then(|v| v.to_str().ok());
    let Some(date_header) = date_header else {
        return Err(ApiError::new(
            ErrorCode::IncompleteSignatureException,
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.",
        ));
    };
    let Some(time) = sigv4::parse_amz_date(date_header) else {
        return Err(ApiError::new(
            ErrorCode::IncompleteSignatureException,
            format!("Date must be in ISO-8601 'basic format'. Got '{date_header}'."),
        ));
    };
    let found: Option<(Credential, Option<SystemTime>)> = cfg
        .credentials
        .iter()
        .find(|c| c.access_key_id == auth.access_key_id)
        .map(|c| (c.clone(), None))
        .or_else(|| {
            issued
                .find(&auth.access_key_id)
                .map(|(c, expiry)| (c, Some(expiry)))
        });
    let Some((cred, expiry)) = found else {
        return Err(unrecognized());
    };
    if expiry.is_some_and(|e| e <= now) {
        return Err(ApiError::new(
            ErrorCode::ExpiredTokenException,
            "The security token included in the request is expired",
        ));
    }
    let token = req
        .headers
        .get("x-amz-security-token")
        .and_then(|v| v.to_str().ok());
    if let Some(t) = token
        && cfg.expired_session_tokens.iter().any(|e| e == t)
    {
        return Err(ApiError::of(ErrorCode::ExpiredTokenException));
    }
    match (&cred.session_token, token) {
        (Some(want), Some(got)) if sigv4::ct_eq(want.as_bytes(), got.as_bytes()) => {}
        (None, None) => {}
        _ => return Err(unrecognized()),
    }
    if auth.service != service {
        return Err(ApiError::new(
            ErrorCode::InvalidSignatureException,
            format!("Credential should be scoped to correct service: '{service}'. "),
        ));
    }
    if auth.terminator != "aws4_request" {
        return Err(ApiError::new(
            ErrorCode::InvalidSignatureException,
            format!(
                "Credential should be scoped with a valid terminator: 'aws4_request', not '{}'. ",
                auth.terminator
            ),
        ));
    }
    if let Some(region) = &cfg.required_region
        && &auth.region != region
    {
        return Err(ApiError::new(
            ErrorCode::InvalidSignatureException,
            format!(
                "Credential should be scoped to a valid region, not '{}'. ",
                auth.region
            ),
        ));
    }
    if !date_header.starts_with(&auth.date) {
        return Err(ApiError::new(
            ErrorCode::InvalidSignatureException,
            format!(
                "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '{}' != '{}', from '{date_header}'.",
                auth.date,
                &date_header[..8.min(date_header.len())]
            ),
        ));
    }
    sigv4::check_skew(time, now, cfg.max_clock_skew)?;
    let expected = sigv4::expected_signature(req, &auth, &cred.secret_access_key, token, time)?;
    if !sigv4::ct_eq(expected.as_bytes(), auth.signature.as_bytes()) {
        return Err(ApiError::of(ErrorCode::InvalidSignatureException));
    }
    Ok(AuthInfo {
        scheme: "sigv4",
        access_key_id: Some(auth.access_key_id),
        region: Some(auth.region),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    fn req<'a>(headers: &'a HeaderMap) -> ReceivedRequest<'a> {
        ReceivedRequest {
            method: "POST",
            path_and_query: "/model/x/invoke",
            authority: None,
            headers,
            body: b"{}",
        }
    }

    #[test]
    fn missing_and_bearer() {
        let cfg = Config::default().with_api_key("secret-key");
        let h = HeaderMap::new();
        assert_eq!(
            authenticate(
                &cfg,
                &CredentialState::default(),
                &req(&h),
                SystemTime::now()
            )
            .unwrap_err()
            .code,
            ErrorCode::MissingAuthenticationTokenException
        );
        let mut h = HeaderMap::new();
        h.insert("authorization", "Bearer secret-key".parse().unwrap());
        assert_eq!(
            authenticate(
                &cfg,
                &CredentialState::default(),
                &req(&h),
                SystemTime::now()
            )
            .unwrap()
            .scheme,
            "bearer"
        );
        h.insert("authorization", "Bearer wrong".parse().unwrap());
        assert_eq!(
            authenticate(
                &cfg,
                &CredentialState::default(),
                &req(&h),
                SystemTime::now()
            )
            .unwrap_err()
            .code,
            ErrorCode::UnrecognizedClientException
        );
        let open = Config::default().without_auth();
        assert_eq!(
            authenticate(
                &open,
                &CredentialState::default(),
                &req(&HeaderMap::new()),
                SystemTime::now()
            )
            .unwrap()
            .scheme,
            "none"
        );
    }

    #[test]
    fn unknown_key_and_tokens() {
        let cfg = Config::default().with_expired_session_token("old");
        let now = SystemTime::now();
        let mut h = HeaderMap::new();
        h.insert("x-amz-date", sigv4::format_amz_date(now).parse().unwrap());
        let sig = "0".repeat(64);
        let day = &sigv4::format_amz_date(now)[..8];
        h.insert(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential=NOPE/{day}/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature={sig}").parse().unwrap(),
        );
        assert_eq!(
            authenticate(&cfg, &CredentialState::default(), &req(&h), now)
                .unwrap_err()
                .code,
            ErrorCode::UnrecognizedClientException
        );
        h.insert(
            "authorization",
            format!("AWS4-HMAC-SHA256 Credential={}/{day}/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature={sig}", crate::config::DEFAULT_ACCESS_KEY_ID).parse().unwrap(),
        );
        h.insert("host", "localhost".parse().unwrap());
        assert_eq!(
            authenticate(&cfg, &CredentialState::default(), &req(&h), now)
                .unwrap_err()
                .code,
            ErrorCode::InvalidSignatureException
        );
        h.insert("x-amz-security-token", "old".parse().unwrap());
        assert_eq!(
            authenticate(&cfg, &CredentialState::default(), &req(&h), now)
                .unwrap_err()
                .code,
            ErrorCode::ExpiredTokenException
        );
        h.insert("x-amz-security-token", "other".parse().unwrap());
        assert_eq!(
            authenticate(&cfg, &CredentialState::default(), &req(&h), now)
                .unwrap_err()
                .code,
            ErrorCode::UnrecognizedClientException
        );
    }
}
