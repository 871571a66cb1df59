//! SigV4 verification: parse the `Authorization` header, re-sign the received request with the
//! aws-sigv4 crate (service `bedrock`, double-encoded canonical URI) and compare.

use crate::error::{ApiError, ErrorCode};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PercentEncodingMode, SessionTokenMode, SignableBody, SignableRequest, SigningParams,
    SigningSettings, sign,
};
use aws_sigv4::sign::v4;
use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;
use http::HeaderMap;
use std::time::{Duration, SystemTime};

/// The signing name of Bedrock Runtime.
pub const SERVICE: &str = "bedrock";
const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The parts of a SigV4 `Authorization` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    /// `YYYYMMDD`.
    pub date: String,
    pub region: String,
    pub service: String,
    pub terminator: String,
    /// Lower-case header names, in the order given.
    pub signed_headers: Vec<String>,
    /// Lower-case hex.
    pub signature: String,
}

fn incomplete(msg: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::IncompleteSignatureException, msg)
}

fn invalid(msg: impl Into<String>) -> ApiError {
    ApiError::new(ErrorCode::InvalidSignatureException, msg)
}

/// True when the header value uses the SigV4 scheme.
pub fn is_sigv4(value: &str) -> bool {
    value.trim_start().starts_with(ALGORITHM)
}

/// Parses `AWS4-HMAC-SHA256 Credential=..., SignedHeaders=..., Signature=...`.
pub fn parse_authorization(value: &str) -> Result<Authorization, ApiError> {
    let rest = value.trim().strip_prefix(ALGORITHM).ok_or_else(|| {
        incomplete(format!(
            "Unsupported authorization scheme; expected {ALGORITHM}"
        ))
    })?;
    let (mut credential, mut signed, mut signature) = (None, None, None);
    for part in rest.split(',') {
        let part = part.trim();
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v.trim());
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed = Some(v.trim());
        } else if let Some(v) = part.strip_prefix("Signature=") {
            signature = Some(v.trim());
        }
    }
    let mut missing = Vec::new();
    for (name, v) in [
        ("Credential", credential),
        ("Signature", signature),
        ("SignedHeaders", signed),
    ] {
        if v.is_none_or(str::is_empty) {
            missing.push(format!("Authorization header requires '{name}' parameter."));
        }
    }
    if !missing.is_empty() {
        return Err(incomplete(missing.join(" ")));
    }
    let credential = credential.unwrap_or_default();
    let scope: Vec<&str> = credential.split('/').collect();
    if scope.len() != 5 || scope.iter().any(|s| s.is_empty()) {
        return Err(incomplete(format!(
            "Credential should be in the form ACCESS_KEY/DATE/REGION/SERVICE/aws4_request, got '{credential}'."
        )));
    }
    let signature = signature.unwrap_or_default().to_ascii_lowercase();
    if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(invalid(
            ErrorCode::InvalidSignatureException.default_message(),
        ));
    }
    Ok(Authorization {
        access_key_id: scope[0].to_string(),
        date: scope[1].to_string(),
        region: scope[2].to_string(),
        service: scope[3].to_string(),
        terminator: scope[4].to_string(),
        signed_headers: signed
            .unwrap_or_default()
            .split(';')
            .map(|h| h.trim().to_ascii_lowercase())
            .filter(|h| !h.is_empty())
            .collect(),
        signature,
    })
}

/// Parses an ISO-8601 basic timestamp `YYYYMMDDTHHMMSSZ` (the calendar by aws-smithy-types).
pub fn parse_amz_date(s: &str) -> Option<SystemTime> {
    let b = s.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' || !digits(0..8) || !digits(9..15) {
        return None;
    }
    let rfc3339 = format!(
        "{}-{}-{}T{}:{}:{}Z",
        &s[0..4],
        &s[4..6],
        &s[6..8],
        &s[9..11],
        &s[11..13],
        &s[13..15]
    );
    let t = DateTime::from_str(&rfc3339, Format::DateTime).ok()?;
    SystemTime::try_from(t).ok()
}

/// Formats a time as `YYYYMMDDTHHMMSSZ` (whole seconds, UTC).
pub fn format_amz_date(t: SystemTime) -> String {
    rfc3339_seconds(t).replace(['-', ':'], "")
}

/// RFC 3339 in whole seconds, `2026-01-02T03:04:05Z` (aws-smithy-types formats it).
pub fn rfc3339_seconds(t: SystemTime) -> String {
    let secs = DateTime::from(t).secs();
    DateTime::from_secs(secs)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string())
}

/// Checks the request time against now.
pub fn check_skew(request: SystemTime, now: SystemTime, max: Duration) -> Result<(), ApiError> {
    let mins = max.as_secs() / 60;
    let req = format_amz_date(request);
    let now_s = format_amz_date(now);
    match now.duration_since(request) {
        Ok(behind) if behind > max => Err(invalid(format!(
            "Signature expired: {req} is now earlier than {} ({now_s} - {mins} min.)",
            format_amz_date(now - max)
        ))),
        Ok(_) => Ok(()),
        Err(e) if e.duration() > max => Err(invalid(format!(
            "Signature not yet current: {req} is still later than {} ({now_s} + {mins} min.)",
            format_amz_date(now + max)
        ))),
        Err(_) => Ok(()),
    }
}

/// Constant-time equality of two byte strings.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What the verifier needs from the request.
#[derive(Debug)]
pub struct ReceivedRequest<'a> {
    pub method: &'a str,
    /// Path and query exactly as received (still percent-encoded).
    pub path_and_query: &'a str,
    /// `Host` fallback for HTTP/2 (`:authority`).
    pub authority: Option<&'a str>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// Computes the signature the client should have sent, from the headers it says it signed.
pub fn expected_signature(
    req: &ReceivedRequest<'_>,
    auth: &Authorization,
    secret_access_key: &str,
    session_token: Option<&str>,
    time: SystemTime,
) -> Result<String, ApiError> {
    let mut headers: Vec<(&str, &str)> = Vec::new();
    let mut token_signed = false;
    for name in &auth.signed_headers {
        match name.as_str() {
            // Re-inserted by the signer from the time and the credentials.
            "x-amz-date" => continue,
            "x-amz-security-token" => {
                token_signed = true;
                continue;
            }
            _ => {}
        }
        let mut found = false;
        for v in req.headers.get_all(name.as_str()) {
            if let Ok(v) = v.to_str() {
                headers.push((name.as_str(), v));
                found = true;
            }
        }
        if !found && name == "host" {
            match req.authority {
                Some(a) => headers.push(("host", a)),
                None => {
                    return Err(incomplete(
                        "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
                    ));
                }
            }
        }
    }
    if !auth.signed_headers.iter().any(|h| h == "host") {
        return Err(incomplete(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    if !auth.signed_headers.iter().any(|h| h == "x-amz-date") {
        return Err(incomplete(
            "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.",
        ));
    }
    let body = match req
        .headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok())
    {
        Some("UNSIGNED-PAYLOAD") => SignableBody::UnsignedPayload,
        _ => SignableBody::Bytes(req.body),
    };
    let mut settings = SigningSettings::default();
    settings.percent_encoding_mode = PercentEncodingMode::Double;
    settings.excluded_headers = Some(Vec::new());
    settings.session_token_mode = if token_signed {
        SessionTokenMode::Include
    } else {
        SessionTokenMode::Exclude
    };
    let identity = Credentials::new(
        auth.access_key_id.clone(),
        secret_access_key.to_string(),
        session_token.map(str::to_string),
        None,
        "bedrock-emulator",
    )
    .into();
    let params: SigningParams<'_> = v4::SigningParams::builder()
        .identity(&identity)
        .region(&auth.region)
        .name(&auth.service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|e| invalid(format!("cannot build signing parameters: {e}")))?
        .into();
    let signable = SignableRequest::new(req.method, req.path_and_query, headers.into_iter(), body)
        .map_err(|e| invalid(format!("cannot canonicalise the request: {e}")))?;
    let out = sign(signable, &params)
        .map_err(|e| invalid(format!("cannot canonicalise the request: {e}")))?;
    Ok(out.signature().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_authorization() {
        let a = parse_authorization(
            "AWS4-HMAC-SHA256 Credential=AKID/20240102/us-west-2/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        )
        .unwrap();
        assert_eq!(a.access_key_id, "AKID");
        assert_eq!(a.region, "us-west-2");
        assert_eq!(a.signed_headers, vec!["content-type", "host", "x-amz-date"]);
        assert_eq!(
            parse_authorization("AWS4-HMAC-SHA256 Credential=A/B/C/D/E")
                .unwrap_err()
                .code,
            ErrorCode::IncompleteSignatureException
        );
        assert_eq!(
            parse_authorization(
                "AWS4-HMAC-SHA256 Credential=A/B/C/D/E, SignedHeaders=host, Signature=zz"
            )
            .unwrap_err()
            .code,
            ErrorCode::InvalidSignatureException
        );
    }

    use std::time::UNIX_EPOCH;

    #[test]
    fn dates_round_trip() {
        let t = parse_amz_date("20240229T235959Z").unwrap();
        assert_eq!(format_amz_date(t), "20240229T235959Z");
        assert_eq!(format_amz_date(UNIX_EPOCH), "19700101T000000Z");
        assert!(parse_amz_date("2024-02-29T23:59:59Z").is_none());
        assert!(parse_amz_date("20241329T000000Z").is_none());
    }

    #[test]
    fn skew() {
        let now = parse_amz_date("20240101T120000Z").unwrap();
        assert!(check_skew(now - Duration::from_secs(299), now, DEFAULT).is_ok());
        let e = check_skew(now - Duration::from_secs(301), now, DEFAULT).unwrap_err();
        assert!(
            e.message.starts_with(
                "Signature expired: 20240101T115459Z is now earlier than 20240101T115500Z"
            ),
            "{}",
            e.message
        );
        assert!(
            check_skew(now + Duration::from_secs(400), now, DEFAULT)
                .unwrap_err()
                .message
                .contains("not yet current")
        );
    }
    const DEFAULT: Duration = Duration::from_secs(300);

    #[test]
    fn constant_time_eq() {
        assert!(ct_eq(b"abc", b"abc"));
        assert!(!ct_eq(b"abc", b"abd"));
        assert!(!ct_eq(b"abc", b"ab"));
    }

    /// Signs a request the way the SDK does, then verifies it.
    #[test]
    fn verifies_what_aws_sigv4_signs() {
        let time = parse_amz_date("20240101T120000Z").unwrap();
        let identity = Credentials::new("AKID", "SECRET", None, None, "t").into();
        let params: SigningParams<'_> = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("bedrock")
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let path = "/model/amazon.titan-embed-text-v2%3A0/invoke";
        let body = br#"{"inputText":"hi"}"#;
        let signable = SignableRequest::new(
            "POST",
            format!("http://localhost:1234{path}"),
            [
                ("content-type", "application/json"),
                ("host", "localhost:1234"),
            ]
            .into_iter(),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let (instructions, signature) = sign(signable, &params).unwrap().into_parts();
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        headers.insert("host", "localhost:1234".parse().unwrap());
        for (k, v) in instructions.headers() {
            headers.insert(
                http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                v.parse().unwrap(),
            );
        }
        let auth = parse_authorization(headers["authorization"].to_str().unwrap()).unwrap();
        let req = ReceivedRequest {
            method: "POST",
            path_and_query: path,
            authority: None,
            headers: &headers,
            body,
        };
        let expected = expected_signature(&req, &auth, "SECRET", None, time).unwrap();
        assert_eq!(expected, signature);
        let tampered = ReceivedRequest {
            body: br#"{"inputText":"ho"}"#,
            ..req
        };
        assert_ne!(
            expected_signature(&tampered, &auth, "SECRET", None, time).unwrap(),
            signature
        );
    }
}
