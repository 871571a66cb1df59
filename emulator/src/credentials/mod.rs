//! Emulated AWS credential endpoints, so that every source of the SDK default chain can be tested
//! on loopback: EC2 instance metadata (IMDSv2), the ECS / EKS container credentials endpoint,
//! STS (`AssumeRole`, `AssumeRoleWithWebIdentity`) and the IAM Identity Center (SSO) portal
//! (`GetRoleCredentials`).
//!
//! They are served on the emulator's own listener, under the paths the real services use (so an
//! SDK needs only its endpoint pointed at the emulator), and each is off unless configured.
//! Every one hands out fresh session credentials (`ASIA…` key, secret, session token) that the
//! Bedrock endpoint then accepts — and only until they expire, after which Bedrock answers
//! `ExpiredTokenException`. [`crate::Emulator::issued_credentials`] tells which source issued
//! which key, so a test can prove which source signed a request.

mod imds;
mod query;
mod sso;
mod sts;

use std::collections::HashSet;
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post, put};
use rand::Rng as _;
use rand::distr::{Alphanumeric, SampleString as _};
use serde::Serialize;

use crate::config::Credential;
use crate::server::AppState;

/// Path of the emulated container credentials endpoint (for `AWS_CONTAINER_CREDENTIALS_FULL_URI`).
pub const ECS_PATH: &str = "/_emulator/ecs/credentials";
/// Default lifetime of issued credentials.
pub const DEFAULT_LIFETIME: Duration = Duration::from_secs(3600);

/// Which credential endpoints the emulator serves. All off by default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CredentialEndpoints {
    /// IMDSv2 under `/latest/...` with this instance role name. Token-less (IMDSv1) requests
    /// are refused with 401.
    pub imds_role: Option<String>,
    /// The container credentials endpoint at [`ECS_PATH`].
    pub ecs: bool,
    /// When set, the container endpoint requires exactly this `Authorization` header value
    /// (what `AWS_CONTAINER_AUTHORIZATION_TOKEN` holds).
    pub ecs_authorization: Option<String>,
    /// STS at `POST /`: `AssumeRole` (SigV4, service `sts`, signed with accepted or issued
    /// credentials) and `AssumeRoleWithWebIdentity`.
    pub sts: bool,
    /// When set, `AssumeRoleWithWebIdentity` accepts only this token; otherwise any non-empty one.
    pub web_identity_token: Option<String>,
    /// The SSO portal at `GET /federation/credentials`, accepting this access token
    /// (`x-amz-sso_bearer_token`, from the SSO token cache).
    pub sso_access_token: Option<String>,
    /// Lifetime of the issued credentials.
    pub lifetime: Duration,
    /// Issue credentials that have already expired (Bedrock then answers ExpiredTokenException).
    pub issue_expired: bool,
}

impl Default for CredentialEndpoints {
    fn default() -> Self {
        Self {
            imds_role: None,
            ecs: false,
            ecs_authorization: None,
            sts: false,
            web_identity_token: None,
            sso_access_token: None,
            lifetime: DEFAULT_LIFETIME,
            issue_expired: false,
        }
    }
}

impl CredentialEndpoints {
    /// True when at least one endpoint is served.
    pub fn any(&self) -> bool {
        self.imds_role.is_some() || self.ecs || self.sts || self.sso_access_token.is_some()
    }
}

/// Which endpoint issued a set of credentials.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum IssuedBy {
    Imds,
    Ecs,
    StsAssumeRole,
    StsWebIdentity,
    Sso,
}

impl fmt::Display for IssuedBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Imds => "imds",
            Self::Ecs => "ecs",
            Self::StsAssumeRole => "sts:AssumeRole",
            Self::StsWebIdentity => "sts:AssumeRoleWithWebIdentity",
            Self::Sso => "sso:GetRoleCredentials",
        })
    }
}

/// Session credentials handed out by a credential endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct IssuedCredentials {
    pub access_key_id: String,
    #[serde(skip)]
    pub secret_access_key: String,
    #[serde(skip)]
    pub session_token: String,
    pub expiration: SystemTime,
    pub issued_by: IssuedBy,
    /// The role (IMDS role name, STS role ARN, SSO role name), when there is one.
    pub role: Option<String>,
}

impl IssuedCredentials {
    fn credential(&self) -> Credential {
        Credential::new(&self.access_key_id, &self.secret_access_key)
            .with_session_token(&self.session_token)
    }
}

/// One request to a credential endpoint, for tests (`GET /_emulator/credential-calls`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct CredentialCall {
    /// e.g. `imds`, `ecs`, `sts`, `sso`.
    pub endpoint: &'static str,
    /// `PUT /latest/api/token`, `AssumeRole`, ...
    pub operation: String,
    pub status: u16,
    /// Why it was refused, when it was.
    pub error: Option<String>,
}

/// Runtime state of the credential endpoints.
#[derive(Debug, Default)]
pub struct CredentialState {
    issued: Mutex<Vec<IssuedCredentials>>,
    imds_tokens: Mutex<HashSet<String>>,
    calls: Mutex<Vec<CredentialCall>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Calls kept in the credential call log.
const MAX_CALLS: usize = 1000;

impl CredentialState {
    /// Makes and remembers fresh session credentials.
    pub(crate) fn issue(
        &self,
        settings: &CredentialEndpoints,
        issued_by: IssuedBy,
        role: Option<String>,
    ) -> IssuedCredentials {
        let mut rng = rand::rng();
        let expiration = if settings.issue_expired {
            SystemTime::now() - Duration::from_secs(60)
        } else {
            SystemTime::now() + settings.lifetime
        };
        let key_tail: String = (0..16)
            .map(|_| {
                let c = rng.random_range(0..36u8);
                char::from(if c < 10 { b'0' + c } else { b'A' + c - 10 })
            })
            .collect();
        let issued = IssuedCredentials {
            access_key_id: format!("ASIA{key_tail}"),
            secret_access_key: Alphanumeric.sample_string(&mut rng, 40),
            session_token: format!("IQoJemulator{}", Alphanumeric.sample_string(&mut rng, 120)),
            expiration,
            issued_by,
            role,
        };
        lock(&self.issued).push(issued.clone());
        issued
    }

    /// Issued credentials with this key id: the credential and its expiry.
    pub(crate) fn find(&self, access_key_id: &str) -> Option<(Credential, SystemTime)> {
        lock(&self.issued)
            .iter()
            .find(|c| c.access_key_id == access_key_id)
            .map(|c| (c.credential(), c.expiration))
    }

    /// Everything issued so far, oldest first.
    pub fn issued(&self) -> Vec<IssuedCredentials> {
        lock(&self.issued).clone()
    }

    /// The credential endpoint calls so far, oldest first.
    pub fn calls(&self) -> Vec<CredentialCall> {
        lock(&self.calls).clone()
    }

    fn record(
        &self,
        endpoint: &'static str,
        operation: String,
        status: u16,
        error: Option<String>,
    ) {
        let mut calls = lock(&self.calls);
        if calls.len() >= MAX_CALLS {
            calls.remove(0);
        }
        calls.push(CredentialCall {
            endpoint,
            operation,
            status,
            error,
        });
    }

    fn new_imds_token(&self) -> String {
        let token = Alphanumeric.sample_string(&mut rand::rng(), 56);
        lock(&self.imds_tokens).insert(token.clone());
        token
    }

    fn imds_token_valid(&self, token: &str) -> bool {
        lock(&self.imds_tokens).contains(token)
    }
}

/// The routes of the enabled credential endpoints.
pub(crate) fn routes(settings: &CredentialEndpoints) -> Router<Arc<AppState>> {
    let mut router = Router::new();
    if settings.imds_role.is_some() {
        router = router
            .route("/latest/api/token", put(imds::token))
            .route("/latest/{*rest}", get(imds::get));
    }
    if settings.ecs {
        router = router.route(ECS_PATH, get(ecs));
    }
    if settings.sts {
        router = router.route("/", post(sts::post));
    }
    if settings.sso_access_token.is_some() {
        router = router.route("/federation/credentials", get(sso::get_role_credentials));
    }
    router
}

/// RFC 3339 (`2026-01-02T03:04:05Z`), as the credential endpoints write expirations.
pub(crate) fn rfc3339(t: SystemTime) -> String {
    crate::sigv4::rfc3339_seconds(t)
}

fn plain(status: StatusCode, content_type: &'static str, body: String) -> Response {
    use axum::response::IntoResponse as _;
    (
        status,
        [(axum::http::header::CONTENT_TYPE, content_type)],
        body,
    )
        .into_response()
}

/// `GET /_emulator/ecs/credentials`: the container credentials endpoint.
async fn ecs(
    axum::extract::State(app): axum::extract::State<Arc<AppState>>,
    headers: HeaderMap,
) -> Response {
    let settings = &app.config.credential_endpoints;
    let state = &app.credentials;
    if let Some(want) = &settings.ecs_authorization {
        let got = headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        if !got.is_some_and(|g| crate::sigv4::ct_eq(g.as_bytes(), want.as_bytes())) {
            let why = if got.is_some() {
                "wrong Authorization header"
            } else {
                "no Authorization header"
            };
            state.record("ecs", "GET credentials".into(), 401, Some(why.into()));
            return plain(
                StatusCode::UNAUTHORIZED,
                "application/json",
                serde_json::json!({"Code": "AccessDenied", "Message": why}).to_string(),
            );
        }
    }
    let c = state.issue(settings, IssuedBy::Ecs, None);
    state.record("ecs", "GET credentials".into(), 200, None);
    let body = serde_json::json!({
        "AccessKeyId": c.access_key_id,
        "SecretAccessKey": c.secret_access_key,
        "Token": c.session_token,
        "Expiration": rfc3339(c.expiration),
        "AccountId": app.config.account_id,
        "RoleArn": format!("arn:aws:iam::{}:role/ecs-task-role", app.config.account_id),
    });
    plain(StatusCode::OK, "application/json", body.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_format() {
        let t = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(rfc3339(t), "2023-11-14T22:13:20Z");
    }

    #[test]
    fn issued_credentials_are_fresh_and_found() {
        let s = CredentialState::default();
        let settings = CredentialEndpoints::default();
        let a = s.issue(&settings, IssuedBy::Ecs, None);
        let b = s.issue(&settings, IssuedBy::Imds, Some("role".into()));
        assert_ne!(a.access_key_id, b.access_key_id);
        assert!(a.access_key_id.starts_with("ASIA") && a.access_key_id.len() == 20);
        assert_eq!(a.secret_access_key.len(), 40);
        assert!(a.expiration > SystemTime::now());
        let (cred, _) = s.find(&b.access_key_id).unwrap();
        assert_eq!(
            cred.session_token.as_deref(),
            Some(b.session_token.as_str())
        );
        assert!(s.find("AKIANOPE").is_none());
        let expired = CredentialEndpoints {
            issue_expired: true,
            ..CredentialEndpoints::default()
        };
        assert!(s.issue(&expired, IssuedBy::Sso, None).expiration < SystemTime::now());
    }
}
