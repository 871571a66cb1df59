//! The IAM Identity Center (SSO) portal: `GET /federation/credentials?account_id=&role_name=`
//! with the cached access token in `x-amz-sso_bearer_token` (restJson1).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;

use super::{IssuedBy, plain, query};
use crate::server::AppState;

const TOKEN_HEADER: &str = "x-amz-sso_bearer_token";

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let mut resp = plain(
        status,
        "application/json",
        serde_json::json!({ "message": message }).to_string(),
    );
    if let Ok(v) = HeaderValue::from_str(code) {
        resp.headers_mut().insert("x-amzn-ErrorType", v);
    }
    resp
}

/// `GET /federation/credentials`.
pub(super) async fn get_role_credentials(
    State(app): State<Arc<AppState>>,
    req: Request,
) -> Response {
    let state = &app.credentials;
    let settings = &app.config.credential_endpoints;
    let pairs = query::parse(req.uri().query().unwrap_or_default());
    let token = req
        .headers()
        .get(TOKEN_HEADER)
        .and_then(|v| v.to_str().ok());
    let want = settings.sso_access_token.as_deref().unwrap_or_default();
    if !token.is_some_and(|t| crate::sigv4::ct_eq(t.as_bytes(), want.as_bytes())) {
        state.record(
            "sso",
            "GetRoleCredentials".into(),
            401,
            Some("missing or unknown access token".into()),
        );
        return error(
            StatusCode::UNAUTHORIZED,
            "UnauthorizedException",
            "Session token not found or invalid",
        );
    }
    let (Some(role), Some(account)) = (
        query::get(&pairs, "role_name").filter(|r| !r.is_empty()),
        query::get(&pairs, "account_id").filter(|a| !a.is_empty()),
    ) else {
        state.record(
            "sso",
            "GetRoleCredentials".into(),
            400,
            Some("role_name or account_id missing".into()),
        );
        return error(
            StatusCode::BAD_REQUEST,
            "InvalidRequestException",
            "role_name and account_id are required",
        );
    };
    let c = state.issue(settings, IssuedBy::Sso, Some(format!("{account}/{role}")));
    state.record("sso", "GetRoleCredentials".into(), 200, None);
    let expiration_ms = c
        .expiration
        .duration_since(std::time::SystemTime::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let body = serde_json::json!({
        "roleCredentials": {
            "accessKeyId": c.access_key_id,
            "secretAccessKey": c.secret_access_key,
            "sessionToken": c.session_token,
            "expiration": expiration_ms,
        }
    });
    plain(StatusCode::OK, "application/json", body.to_string())
}
