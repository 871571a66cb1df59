//! Helpers shared by the integration tests: a real aws-sdk-bedrockruntime client pointed at an
//! emulator, and a hand-signed HTTP path for wire-level checks.
#![allow(dead_code)]

use aws_credential_types::Credentials;
use aws_sdk_bedrockruntime::Client;
use aws_sdk_bedrockruntime::config::retry::RetryConfig;
use aws_sdk_bedrockruntime::config::{BehaviorVersion, Region};
use aws_sdk_bedrockruntime::error::SdkError;
use aws_sdk_bedrockruntime::operation::invoke_model::InvokeModelError;
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use bedrock_emulator::Emulator;
use serde_json::Value;
use std::time::SystemTime;

pub type InvokeResult =
    Result<Value, SdkError<InvokeModelError, aws_smithy_runtime_api::http::Response>>;

/// The emulator's accepted credentials.
pub fn creds(emu: &Emulator) -> Credentials {
    Credentials::new(
        emu.access_key_id(),
        emu.secret_access_key(),
        emu.session_token().map(str::to_string),
        None,
        "emulator-test",
    )
}

/// An SDK client with SigV4 credentials `c`, retries off.
pub fn client_with(emu: &Emulator, c: Credentials) -> Client {
    let conf = aws_sdk_bedrockruntime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(emu.endpoint_url())
        .credentials_provider(c)
        .retry_config(RetryConfig::disabled())
        .build();
    Client::from_conf(conf)
}

/// An SDK client with the emulator's credentials, retries off.
pub fn client(emu: &Emulator) -> Client {
    client_with(emu, creds(emu))
}

/// InvokeModel with a JSON body; the parsed response body.
pub async fn invoke(client: &Client, model: &str, body: Value) -> InvokeResult {
    let out = client
        .invoke_model()
        .model_id(model)
        .content_type("application/json")
        .accept("application/json")
        .body(Blob::new(serde_json::to_vec(&body).expect("json")))
        .send()
        .await?;
    Ok(serde_json::from_slice(out.body().as_ref()).expect("response body is JSON"))
}

/// The error code the SDK parsed (typed variants and unhandled alike).
pub fn code_of(err: &SdkError<InvokeModelError, aws_smithy_runtime_api::http::Response>) -> String {
    use aws_sdk_bedrockruntime::error::ProvideErrorMetadata;
    match err {
        SdkError::ServiceError(e) => e.err().code().unwrap_or("<none>").to_string(),
        other => format!("<{other:?}>"),
    }
}

/// The floats of a JSON array.
pub fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .expect("array")
        .iter()
        .map(|x| x.as_f64().expect("number") as f32)
        .collect()
}

/// Headers SigV4 adds to a request (`authorization`, `x-amz-date`, maybe the token), signing
/// like the SDK does (service `bedrock`, double-encoded path).
pub fn sigv4_headers(
    method: &str,
    url: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    c: &Credentials,
    region: &str,
    time: SystemTime,
) -> Vec<(String, String)> {
    let identity = c.clone().into();
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name("bedrock")
        .time(time)
        .settings(SigningSettings::default())
        .build()
        .expect("params")
        .into();
    let req = SignableRequest::new(
        method,
        url,
        headers.iter().copied(),
        SignableBody::Bytes(body),
    )
    .expect("signable");
    let (instructions, _) = sign(req, &params).expect("sign").into_parts();
    instructions
        .headers()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// POSTs a hand-signed InvokeModel with reqwest. `path_model` is the model id as it goes in the
/// path (already percent-encoded).
pub async fn signed_post(
    emu: &Emulator,
    path_model: &str,
    body: &[u8],
    c: &Credentials,
    time: SystemTime,
    extra: &[(&str, &str)],
) -> reqwest::Response {
    let url = format!("{}/model/{path_model}/invoke", emu.endpoint_url());
    let host = emu.addr().to_string();
    let mut headers: Vec<(&str, &str)> = vec![
        ("content-type", "application/json"),
        ("host", host.as_str()),
    ];
    headers.extend_from_slice(extra);
    let signed = sigv4_headers("POST", &url, &headers, body, c, "us-east-1", time);
    let mut rb = reqwest::Client::new().post(&url).body(body.to_vec());
    for (k, v) in headers.iter().filter(|(k, _)| *k != "host") {
        rb = rb.header(*k, *v);
    }
    for (k, v) in signed {
        rb = rb.header(k, v);
    }
    rb.send().await.expect("http")
}
