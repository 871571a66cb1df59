//! STS on the query protocol (`POST /`, form body, XML answers): `AssumeRole`, signed with SigV4
//! (service `sts`) by credentials the emulator accepts or issued, and
//! `AssumeRoleWithWebIdentity`, unsigned, carrying the web identity token.

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::{IssuedBy, IssuedCredentials, plain, query, rfc3339};
use crate::error::ErrorCode;
use crate::server::AppState;
use crate::sigv4::ReceivedRequest;

const NS: &str = "https://sts.amazonaws.com/doc/2011-06-15/";
/// The signing name of STS.
pub const SERVICE: &str = "sts";

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

struct StsError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl StsError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    fn response(&self, request_id: &str) -> Response {
        let kind = if self.status.is_server_error() {
            "Receiver"
        } else {
            "Sender"
        };
        let body = format!(
            "<ErrorResponse xmlns=\"{NS}\">\n  <Error>\n    <Type>{kind}</Type>\n    <Code>{}</Code>\n    \
             <Message>{}</Message>\n  </Error>\n  <RequestId>{request_id}</RequestId>\n</ErrorResponse>\n",
            self.code,
            xml_escape(&self.message)
        );
        plain(self.status, "text/xml", body)
    }
}

/// The STS error for a failed SigV4 check.
fn auth_error(e: &crate::error::ApiError) -> StsError {
    let (status, code) = match e.code {
        ErrorCode::UnrecognizedClientException => (StatusCode::FORBIDDEN, "InvalidClientTokenId"),
        ErrorCode::InvalidSignatureException => (StatusCode::FORBIDDEN, "SignatureDoesNotMatch"),
        ErrorCode::ExpiredTokenException => (StatusCode::BAD_REQUEST, "ExpiredToken"),
        ErrorCode::MissingAuthenticationTokenException => {
            (StatusCode::FORBIDDEN, "MissingAuthenticationToken")
        }
        _ => (StatusCode::BAD_REQUEST, "IncompleteSignature"),
    };
    StsError::new(status, code, e.message.clone())
}

/// `POST /`.
pub(super) async fn post(State(app): State<Arc<AppState>>, req: Request) -> Response {
    let request_id = app.request_id();
    let (parts, body) = req.into_parts();
    let body: Bytes = match axum::body::to_bytes(body, 1 << 20).await {
        Ok(b) => b,
        Err(_) => {
            return StsError::new(StatusCode::BAD_REQUEST, "InvalidInput", "body too large")
                .response(&request_id);
        }
    };
    let form = query::parse(&String::from_utf8_lossy(&body));
    let action = query::get(&form, "Action").unwrap_or_default().to_string();
    let result = match action.as_str() {
        "AssumeRole" => {
            let received = ReceivedRequest {
                method: parts.method.as_str(),
                path_and_query: parts.uri.path_and_query().map_or("/", |p| p.as_str()),
                authority: parts.uri.authority().map(|a| a.as_str()),
                headers: &parts.headers,
                body: &body,
            };
            match crate::auth::authenticate_for(
                &app.config,
                &app.credentials,
                &received,
                SystemTime::now(),
                SERVICE,
            ) {
                Ok(_) => assume_role(&app, &form, &request_id, IssuedBy::StsAssumeRole),
                Err(e) => Err(auth_error(&e)),
            }
        }
        "AssumeRoleWithWebIdentity" => {
            let token = query::get(&form, "WebIdentityToken").unwrap_or_default();
            let want = &app.config.credential_endpoints.web_identity_token;
            let ok = !token.is_empty()
                && want
                    .as_deref()
                    .is_none_or(|w| crate::sigv4::ct_eq(w.as_bytes(), token.as_bytes()));
            if ok {
                assume_role(&app, &form, &request_id, IssuedBy::StsWebIdentity)
            } else {
                Err(StsError::new(
                    StatusCode::BAD_REQUEST,
                    "InvalidIdentityToken",
                    "The web identity token that was passed could not be validated by AWS. Get a new identity token from the identity provider and then retry the request.",
                ))
            }
        }
        other => Err(StsError::new(
            StatusCode::BAD_REQUEST,
            "InvalidAction",
            format!("Could not find operation {other} for version 2011-06-15"),
        )),
    };
    let operation = if action.is_empty() {
        "(no Action)".to_string()
    } else {
        action
    };
    match result {
        Ok(resp) => {
            app.credentials.record("sts", operation, 200, None);
            resp
        }
        Err(e) => {
            app.credentials.record(
                "sts",
                operation,
                e.status.as_u16(),
                Some(format!("{}: {}", e.code, e.message)),
            );
            e.response(&request_id)
        }
    }
}

fn assume_role(
    app: &AppState,
    form: &[(String, String)],
    request_id: &str,
    by: IssuedBy,
) -> Result<Response, StsError> {
    let missing = |name: &str| {
        StsError::new(
            StatusCode::BAD_REQUEST,
            "ValidationError",
            format!(
                "1 validation error detected: Value null at '{name}' failed to satisfy constraint: Member must not be null"
            ),
        )
    };
    let role_arn = query::get(form, "RoleArn")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| missing("roleArn"))?;
    let session = query::get(form, "RoleSessionName")
        .filter(|r| !r.is_empty())
        .ok_or_else(|| missing("roleSessionName"))?;
    let role_name = role_arn.rsplit('/').next().unwrap_or(role_arn);
    let c: IssuedCredentials = app.credentials.issue(
        &app.config.credential_endpoints,
        by,
        Some(role_arn.to_string()),
    );
    let account = &app.config.account_id;
    let (operation, extra) = match by {
        IssuedBy::StsWebIdentity => (
            "AssumeRoleWithWebIdentity",
            "    <SubjectFromWebIdentityToken>system:serviceaccount:default:app</SubjectFromWebIdentityToken>\n    \
             <Audience>sts.amazonaws.com</Audience>\n    <Provider>bedrock-emulator</Provider>\n",
        ),
        _ => ("AssumeRole", "    <PackedPolicySize>0</PackedPolicySize>\n"),
    };
    let body = format!(
        "<{operation}Response xmlns=\"{NS}\">\n  <{operation}Result>\n{extra}    <AssumedRoleUser>\n      \
         <Arn>arn:aws:sts::{account}:assumed-role/{role}/{session}</Arn>\n      \
         <AssumedRoleId>AROAEMULATOR:{session}</AssumedRoleId>\n    </AssumedRoleUser>\n    <Credentials>\n      \
         <AccessKeyId>{key}</AccessKeyId>\n      <SecretAccessKey>{secret}</SecretAccessKey>\n      \
         <SessionToken>{token}</SessionToken>\n      <Expiration>{exp}</Expiration>\n    </Credentials>\n  \
         </{operation}Result>\n  <ResponseMetadata>\n    <RequestId>{request_id}</RequestId>\n  </ResponseMetadata>\n\
         </{operation}Response>\n",
        role = xml_escape(role_name),
        session = xml_escape(session),
        key = c.access_key_id,
        secret = c.secret_access_key,
        token = c.session_token,
        exp = rfc3339(c.expiration),
    );
    Ok(plain(StatusCode::OK, "text/xml", body))
}
