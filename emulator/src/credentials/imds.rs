//! EC2 instance metadata, IMDSv2 only: `PUT /latest/api/token` (with
//! `X-aws-ec2-metadata-token-ttl-seconds`) gives a session token; every `GET` must carry it in
//! `X-aws-ec2-metadata-token`, otherwise it is refused with 401 as on an instance that requires
//! IMDSv2 (`HttpTokens=required`).

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;

use super::{IssuedBy, plain, rfc3339};
use crate::server::AppState;

const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
const MAX_TTL_SECS: u64 = 21_600;

/// `PUT /latest/api/token`.
pub(super) async fn token(State(app): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let state = &app.credentials;
    let ttl = headers
        .get(TTL_HEADER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .filter(|t| (1..=MAX_TTL_SECS).contains(t));
    let Some(ttl) = ttl else {
        state.record(
            "imds",
            "PUT /latest/api/token".into(),
            400,
            Some(format!("missing or invalid {TTL_HEADER}")),
        );
        return plain(StatusCode::BAD_REQUEST, "text/plain", String::new());
    };
    let token = state.new_imds_token();
    state.record("imds", "PUT /latest/api/token".into(), 200, None);
    let mut resp = plain(StatusCode::OK, "text/plain", token);
    resp.headers_mut()
        .insert(TTL_HEADER, HeaderValue::from(ttl));
    resp
}

/// `GET /latest/...`.
pub(super) async fn get(
    State(app): State<Arc<AppState>>,
    Path(rest): Path<String>,
    headers: HeaderMap,
) -> Response {
    let state = &app.credentials;
    let settings = &app.config.credential_endpoints;
    let operation = format!("GET /latest/{rest}");
    let token = headers.get(TOKEN_HEADER).and_then(|v| v.to_str().ok());
    match token {
        None => {
            state.record(
                "imds",
                operation,
                401,
                Some("IMDSv1 request (no token) refused".into()),
            );
            return plain(StatusCode::UNAUTHORIZED, "text/plain", String::new());
        }
        Some(t) if !state.imds_token_valid(t) => {
            state.record("imds", operation, 401, Some("unknown token".into()));
            return plain(StatusCode::UNAUTHORIZED, "text/plain", String::new());
        }
        Some(_) => {}
    }
    let role = settings.imds_role.clone().unwrap_or_default();
    let path = rest.trim_end_matches('/');
    let body = match path {
        "meta-data/iam/security-credentials" => role,
        "meta-data/placement/region" => app.config.default_region.clone(),
        p if p.strip_prefix("meta-data/iam/security-credentials/") == Some(role.as_str()) => {
            let c = state.issue(settings, IssuedBy::Imds, Some(role.clone()));
            serde_json::json!({
                "Code": "Success",
                "LastUpdated": rfc3339(SystemTime::now()),
                "Type": "AWS-HMAC",
                "AccessKeyId": c.access_key_id,
                "SecretAccessKey": c.secret_access_key,
                "Token": c.session_token,
                "Expiration": rfc3339(c.expiration),
            })
            .to_string()
        }
        _ => {
            state.record("imds", operation, 404, Some("no such metadata".into()));
            return plain(StatusCode::NOT_FOUND, "text/plain", String::new());
        }
    };
    state.record("imds", operation, 200, None);
    plain(StatusCode::OK, "text/plain", body)
}
