//! The HTTP surface: `POST /model/{modelId}/invoke` and the `/_emulator/*` control endpoints.

use crate::auth::{self, AuthInfo};
use crate::config::Config;
use crate::conn::ConnControl;
use crate::credentials::{self, CredentialState};
use crate::error::{ApiError, ErrorCode};
use crate::faults::{self, FaultOutcome, FaultSettings};
use crate::model_id::{self, ResolvedModel};
use crate::models;
use crate::sigv4::ReceivedRequest;
use crate::stats::{CallEnd, CallGuard, RequestRecord, Stats};
use crate::token_quota::TokenQuota;
use crate::vectors::splitmix64;
use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use percent_encoding::percent_decode_str;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

/// Largest accepted request body (the InvokeModel `body` limit).
pub const MAX_BODY_BYTES: usize = 25_000_000;
/// Request bodies larger than this are not copied into the request log.
const MAX_LOGGED_BODY: usize = 1 << 20;
/// Request headers copied into the request log.
const LOGGED_HEADERS: &[&str] = &[
    "content-type",
    "accept",
    "content-length",
    "user-agent",
    "x-amz-user-agent",
    "x-amz-date",
    "x-amz-security-token",
    "x-amz-content-sha256",
    "amz-sdk-invocation-id",
    "amz-sdk-request",
    "x-amzn-bedrock-performanceconfig-latency",
    "x-amzn-bedrock-trace",
    "x-amzn-bedrock-guardrailidentifier",
    "x-amzn-bedrock-service-tier",
];

/// Shared state of a running emulator.
#[derive(Debug)]
pub struct AppState {
    pub config: Config,
    pub faults: RwLock<FaultSettings>,
    pub stats: Arc<Stats>,
    /// Session credentials issued by the credential endpoints, and their call log.
    pub credentials: CredentialState,
    /// Input tokens per model in the last 60 s, against `config.tokens_per_minute`.
    pub token_quota: TokenQuota,
    ids: AtomicU64,
    id_salt: u64,
}

impl AppState {
    pub fn new(config: Config) -> Self {
        let faults = RwLock::new(config.faults.clone());
        let stats = Arc::new(Stats::new(
            config.call_log_capacity,
            config.request_log_capacity,
        ));
        let id_salt = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        Self {
            token_quota: TokenQuota::new(config.tokens_per_minute),
            config,
            faults,
            stats,
            credentials: CredentialState::default(),
            ids: AtomicU64::new(0),
            id_salt,
        }
    }

    /// A fresh UUID-shaped request id.
    pub fn request_id(&self) -> String {
        let n = self.ids.fetch_add(1, Ordering::Relaxed);
        let a = splitmix64(self.id_salt ^ n.wrapping_mul(0x2545_F491_4F6C_DD1D));
        let b = splitmix64(a ^ n);
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xfff,
            ((b >> 48) & 0x3fff) | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }

    /// Clears stats, the request log, the fault sequence and the token-quota windows.
    pub fn reset(&self) {
        self.stats.reset();
        self.token_quota.reset();
    }

    pub fn fault_settings(&self) -> FaultSettings {
        self.faults
            .read()
            .map(|f| f.clone())
            .unwrap_or_else(|p| p.into_inner().clone())
    }

    pub fn set_fault_settings(&self, settings: FaultSettings) {
        match self.faults.write() {
            Ok(mut f) => *f = settings,
            Err(p) => *p.into_inner() = settings,
        }
    }
}

/// The router.
pub fn router(state: Arc<AppState>) -> Router {
    credentials::routes(&state.config.credential_endpoints)
        .route("/model/{model_id}/invoke", post(invoke))
        .route(
            "/model/{model_id}/invoke-with-response-stream",
            post(invoke),
        )
        .route("/_emulator/stats", get(get_stats))
        .route("/_emulator/requests", get(get_requests))
        .route("/_emulator/reset", post(post_reset))
        .route(
            "/_emulator/faults",
            get(get_faults).put(put_faults).post(put_faults),
        )
        .route("/_emulator/health", get(|| async { "ok" }))
        .route("/_emulator/credentials", get(get_credentials))
        .fallback(unknown_operation)
        .with_state(state)
}

fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response()
}

fn error_response(err: &ApiError, request_id: &str) -> Response {
    let (status, headers, body) = err.into_response_parts();
    let mut resp = Response::new(Body::from(body));
    *resp.status_mut() = status;
    let h = resp.headers_mut();
    for (k, v) in headers {
        h.insert(k, v);
    }
    if let Ok(v) = HeaderValue::from_str(request_id) {
        h.insert("x-amzn-RequestId", v);
    }
    resp
}

async fn unknown_operation(State(app): State<Arc<AppState>>, req: Request) -> Response {
    let msg = format!(
        "The emulator has no operation for {} {}",
        req.method(),
        req.uri().path()
    );
    error_response(
        &ApiError::new(ErrorCode::UnknownOperationException, msg),
        &app.request_id(),
    )
}

async fn get_stats(State(app): State<Arc<AppState>>) -> Response {
    json_response(StatusCode::OK, &app.stats.snapshot())
}

async fn get_credentials(State(app): State<Arc<AppState>>) -> Response {
    json_response(
        StatusCode::OK,
        &json!({ "issued": app.credentials.issued(), "calls": app.credentials.calls() }),
    )
}

async fn get_requests(State(app): State<Arc<AppState>>) -> Response {
    json_response(StatusCode::OK, &app.stats.requests())
}

async fn post_reset(State(app): State<Arc<AppState>>) -> Response {
    app.reset();
    json_response(StatusCode::OK, &json!({ "reset": true }))
}

async fn get_faults(State(app): State<Arc<AppState>>) -> Response {
    json_response(StatusCode::OK, &app.fault_settings())
}

async fn put_faults(State(app): State<Arc<AppState>>, body: Bytes) -> Response {
    let parsed: Result<FaultSettings, String> =
        serde_json::from_slice(&body).map_err(|e| e.to_string());
    match parsed.and_then(|s| s.validate().map(|_| s).map_err(|e| e.to_string())) {
        Ok(settings) => {
            app.set_fault_settings(settings.clone());
            json_response(StatusCode::OK, &settings)
        }
        Err(e) => json_response(StatusCode::BAD_REQUEST, &json!({ "message": e })),
    }
}

/// The success of one invocation.
struct Served {
    body: Vec<u8>,
    input_tokens: u32,
    items: usize,
}

enum Failure {
    Error(ApiError),
    Reset,
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Error(e)
    }
}

/// Bedrock's answer to InvokeModelWithResponseStream on a model that does not stream, such as
/// every embedding model (400 ValidationException, as a live call answers it).
pub const UNSUPPORTED_FOR_STREAMING: &str = "The model is unsupported for streaming.";

/// Everything known about a call, for the request log.
struct CallInfo {
    /// InvokeModelWithResponseStream rather than InvokeModel.
    streaming: bool,
    model_id: String,
    resolved: Option<ResolvedModel>,
    auth: Option<AuthInfo>,
}

fn media_type(v: &str) -> String {
    v.split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

fn check_media_types(headers: &HeaderMap) -> Result<(), ApiError> {
    if let Some(ct) = headers.get(header::CONTENT_TYPE) {
        let ct = media_type(ct.to_str().unwrap_or_default());
        if ct != "application/json" {
            return Err(ApiError::validation(
                "The provided Content Type is invalid or not supported for this model",
            ));
        }
    }
    if let Some(accept) = headers.get(header::ACCEPT) {
        let ok = accept
            .to_str()
            .unwrap_or_default()
            .split(',')
            .map(media_type)
            .any(|m| m == "application/json" || m == "*/*" || m == "application/*" || m.is_empty());
        if !ok {
            return Err(ApiError::validation(
                "The provided Accept Type is invalid or not supported for this model",
            ));
        }
    }
    Ok(())
}

async fn serve_invoke(
    app: &AppState,
    conn: &ConnControl,
    parts: &axum::http::request::Parts,
    body: Result<Bytes, ApiError>,
    info: &mut CallInfo,
    seq: u64,
    request_id: &str,
) -> Result<Served, Failure> {
    let cfg = &app.config;
    let body = body?;
    let headers = &parts.headers;
    let received = ReceivedRequest {
        method: parts.method.as_str(),
        path_and_query: parts
            .uri
            .path_and_query()
            .map(|p| p.as_str())
            .unwrap_or("/"),
        authority: parts.uri.authority().map(|a| a.as_str()),
        headers,
        body: &body,
    };
    let who = auth::authenticate(cfg, &app.credentials, &received, SystemTime::now())?;
    let region = who
        .region
        .clone()
        .unwrap_or_else(|| cfg.default_region.clone());
    info.auth = Some(who);
    let resolved = model_id::resolve(
        &info.model_id,
        &region,
        &cfg.account_id,
        &cfg.application_profiles,
    )?;
    info.resolved = Some(resolved.clone());
    if let Some(allowed) = &cfg.allowed_models
        && !allowed
            .iter()
            .any(|p| model_id::glob_match(p, &resolved.resource_arn))
    {
        return Err(ApiError::new(
            ErrorCode::AccessDeniedException,
            format!(
                "User: arn:aws:iam::{}:user/bedrock-emulator is not authorized to perform: bedrock:InvokeModel on resource: {} because no identity-based policy allows the bedrock:InvokeModel action",
                cfg.account_id, resolved.resource_arn
            ),
        )
        .into());
    }
    let fault_cfg = app
        .fault_settings()
        .for_model(&info.model_id, Some(resolved.base_id))
        .clone();
    let decision = faults::decide(&fault_cfg, cfg.seed, seq);
    if !decision.delay.is_zero() {
        tokio::time::sleep(decision.delay).await;
    }
    match decision.outcome {
        Some(FaultOutcome::Reset) => {
            conn.reset();
            return Err(Failure::Reset);
        }
        Some(FaultOutcome::Error(mut e)) => {
            if e.code == ErrorCode::ModelErrorException {
                e.resource_name = Some(resolved.resource_arn.clone());
            }
            return Err(e.into());
        }
        None => {}
    }
    check_media_types(headers)?;
    if info.streaming {
        return Err(ApiError::validation(UNSUPPORTED_FOR_STREAMING).into());
    }
    let out = models::invoke(resolved.kind, &body, request_id)?;
    // Bedrock counts on-demand and inference-profile traffic separately.
    let quota_key = if resolved.via_profile {
        info.model_id.as_str()
    } else {
        resolved.base_id
    };
    app.token_quota
        .admit(quota_key, u64::from(out.input_tokens), Instant::now())?;
    Ok(Served {
        body: serde_json::to_vec(&out.body).unwrap_or_default(),
        input_tokens: out.input_tokens,
        items: out.items,
    })
}

fn request_record(
    headers: &HeaderMap,
    body: &[u8],
    info: &CallInfo,
    status: u16,
    error: Option<String>,
) -> RequestRecord {
    let mut logged = BTreeMap::new();
    for name in LOGGED_HEADERS {
        let values: Vec<&str> = headers
            .get_all(*name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        if !values.is_empty() {
            logged.insert((*name).to_string(), values.join(", "));
        }
    }
    let body_json = if body.len() > MAX_LOGGED_BODY {
        Value::Null
    } else {
        serde_json::from_slice(body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into_owned()))
    };
    let auth = info.auth.clone().unwrap_or_default();
    RequestRecord {
        seq: 0,
        arrived_ms: 0,
        model_id: info.model_id.clone(),
        base_model: info.resolved.as_ref().map(|r| r.base_id.to_string()),
        status,
        error,
        auth: if info.auth.is_some() {
            auth.scheme.to_string()
        } else {
            "rejected".to_string()
        },
        access_key_id: auth.access_key_id,
        region: auth.region,
        headers: logged,
        body: body_json,
        body_bytes: body.len(),
    }
}

async fn invoke(
    State(app): State<Arc<AppState>>,
    ConnectInfo(conn): ConnectInfo<ConnControl>,
    req: Request,
) -> Response {
    let started = Instant::now();
    let request_id = app.request_id();
    let (parts, body) = req.into_parts();
    let path = parts.uri.path().strip_prefix("/model/").unwrap_or_default();
    let (raw_id, streaming) = match path.strip_suffix("/invoke-with-response-stream") {
        Some(id) => (id, true),
        None => (path.strip_suffix("/invoke").unwrap_or_default(), false),
    };
    let model_id = percent_decode_str(raw_id).decode_utf8_lossy().into_owned();
    let stats_key = model_id::resolve(
        &model_id,
        &app.config.default_region,
        &app.config.account_id,
        &app.config.application_profiles,
    )
    .map(|r| r.base_id.to_string())
    .unwrap_or_else(|_| model_id.clone());
    let guard = CallGuard::new(app.stats.clone(), &stats_key);
    let seq = guard.seq();

    let body = axum::body::to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| {
            ApiError::malformed(format!(
                "#: the request body exceeds {MAX_BODY_BYTES} bytes"
            ))
        });
    let body_for_log = body.clone().unwrap_or_default();
    let mut info = CallInfo {
        streaming,
        model_id,
        resolved: None,
        auth: None,
    };
    let result = serve_invoke(&app, &conn, &parts, body, &mut info, seq, &request_id).await;
    let latency_ms = started.elapsed().as_millis().to_string();
    match result {
        Ok(served) => {
            let record = request_record(&parts.headers, &body_for_log, &info, 200, None);
            guard.finish(
                CallEnd::Accepted {
                    input_tokens: served.input_tokens,
                    items: served.items,
                },
                Some(record),
            );
            tracing::debug!(model = %info.model_id, request_id, "invoke ok");
            let mut resp = Response::new(Body::from(served.body));
            let h = resp.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
            if let Ok(v) = HeaderValue::from_str(&request_id) {
                h.insert("x-amzn-RequestId", v);
            }
            h.insert(
                "X-Amzn-Bedrock-Input-Token-Count",
                HeaderValue::from(served.input_tokens),
            );
            if let Ok(v) = HeaderValue::from_str(&latency_ms) {
                h.insert("X-Amzn-Bedrock-Invocation-Latency", v);
            }
            if let Some(v) = parts
                .headers
                .get("x-amzn-bedrock-performanceconfig-latency")
            {
                h.insert("X-Amzn-Bedrock-PerformanceConfig-Latency", v.clone());
            }
            resp
        }
        Err(Failure::Error(e)) => {
            let status = e.code.status().as_u16();
            let record = request_record(
                &parts.headers,
                &body_for_log,
                &info,
                status,
                Some(e.code.to_string()),
            );
            guard.finish(
                CallEnd::Rejected {
                    status,
                    code: e.code.to_string(),
                },
                Some(record),
            );
            tracing::debug!(model = %info.model_id, request_id, code = %e.code, message = %e.message, "invoke rejected");
            error_response(&e, &request_id)
        }
        Err(Failure::Reset) => {
            let record = request_record(
                &parts.headers,
                &body_for_log,
                &info,
                0,
                Some("ConnectionReset".into()),
            );
            guard.finish(CallEnd::Reset, Some(record));
            tracing::debug!(model = %info.model_id, request_id, "connection reset injected");
            // Never written: the connection fails on the first write.
            error_response(
                &ApiError::of(ErrorCode::InternalServerException),
                &request_id,
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn media_types() {
        let mut h = HeaderMap::new();
        assert!(check_media_types(&h).is_ok());
        h.insert(
            header::CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        h.insert(header::ACCEPT, "text/html, */*".parse().unwrap());
        assert!(check_media_types(&h).is_ok());
        h.insert(header::ACCEPT, "text/html".parse().unwrap());
        assert!(
            check_media_types(&h)
                .unwrap_err()
                .message
                .contains("Accept")
        );
        h.remove(header::ACCEPT);
        h.insert(
            header::CONTENT_TYPE,
            "application/octet-stream".parse().unwrap(),
        );
        assert!(
            check_media_types(&h)
                .unwrap_err()
                .message
                .contains("Content Type")
        );
    }

    #[test]
    fn request_ids_are_unique_and_uuid_shaped() {
        let app = AppState::new(Config::default());
        let a = app.request_id();
        let b = app.request_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 36);
        assert_eq!(a.matches('-').count(), 4);
    }
}
