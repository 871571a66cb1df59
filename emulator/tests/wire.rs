//! Wire-level checks with hand-signed requests: headers, error format, path encoding, clock skew.

mod common;

use aws_credential_types::Credentials;
use bedrock_emulator::{Config, embed, spawn};
use common::{floats, signed_post};
use std::time::{Duration, SystemTime};

fn creds(emu: &bedrock_emulator::Emulator) -> Credentials {
    common::creds(emu)
}

#[tokio::test]
async fn success_headers_and_encoded_ids() {
    let emu = spawn(Config::default()).await.unwrap();
    let c = creds(&emu);
    let body = br#"{"inputText":"hello headers"}"#;
    let r = signed_post(
        &emu,
        "amazon.titan-embed-text-v2%3A0",
        body,
        &c,
        SystemTime::now(),
        &[("x-amzn-bedrock-performanceconfig-latency", "standard")],
    )
    .await;
    assert_eq!(r.status(), 200);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "application/json");
    assert_eq!(h["x-amzn-requestid"].to_str().unwrap().len(), 36);
    let tokens: u32 = h["x-amzn-bedrock-input-token-count"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(tokens >= 2);
    assert!(
        h["x-amzn-bedrock-invocation-latency"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .is_ok()
    );
    assert_eq!(h["x-amzn-bedrock-performanceconfig-latency"], "standard");
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(floats(&v["embedding"]), embed("hello headers", 1024, true));
    assert_eq!(v["inputTextTokenCount"], tokens);

    // An ARN with %3A and %2F in the path (double-encoded in the canonical URI by the signer).
    let arn = "arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Ainference-profile%2Fus.amazon.titan-embed-text-v2%3A0";
    let r = signed_post(&emu, arn, body, &c, SystemTime::now(), &[]).await;
    assert_eq!(r.status(), 200, "{:?}", r.text().await);
    assert_eq!(
        emu.requests()[1].model_id,
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.titan-embed-text-v2:0"
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn error_format_matches_bedrock() {
    let emu = spawn(Config::default()).await.unwrap();
    let c = creds(&emu);
    let r = signed_post(
        &emu,
        "amazon.titan-embed-text-v2%3A0",
        br#"{"inputText":""}"#,
        &c,
        SystemTime::now(),
        &[],
    )
    .await;
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.headers()["x-amzn-errortype"],
        "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"
    );
    assert!(r.headers().contains_key("x-amzn-requestid"));
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(
        v["message"],
        "Malformed input request: #/inputText: expected minLength: 1, actual: 0, please reformat your input and try again."
    );
    let r = signed_post(
        &emu,
        "amazon.titan-embed-text-v2%3A0",
        b"not json",
        &c,
        SystemTime::now(),
        &[("accept", "application/json")],
    )
    .await;
    assert_validation(r, "Malformed input request: invalid JSON: ").await;
    let r = signed_post(
        &emu,
        "amazon.titan-embed-text-v2%3A0",
        br#"{"inputText":"x"}"#,
        &c,
        SystemTime::now(),
        &[("accept", "text/plain")],
    )
    .await;
    assert_validation(
        r,
        "The provided Accept Type is invalid or not supported for this model",
    )
    .await;

    let r = reqwest::Client::new()
        .post(format!(
            "{}/model/amazon.titan-embed-text-v2%3A0/invoke",
            emu.endpoint_url()
        ))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.headers()["x-amzn-errortype"]
            .to_str()
            .unwrap()
            .starts_with("MissingAuthenticationTokenException:")
    );

    let r = reqwest::Client::new()
        .get(format!("{}/nothing/here", emu.endpoint_url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(
        r.headers()["x-amzn-errortype"]
            .to_str()
            .unwrap()
            .starts_with("UnknownOperationException:")
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn tampering_and_clock_skew_are_rejected() {
    let emu = spawn(Config::default()).await.unwrap();
    let c = creds(&emu);
    // Signed for one body, sent with another: sign by hand, then swap the body.
    let url = format!(
        "{}/model/amazon.titan-embed-text-v2%3A0/invoke",
        emu.endpoint_url()
    );
    let host = emu.addr().to_string();
    let signed = common::sigv4_headers(
        "POST",
        &url,
        &[("content-type", "application/json"), ("host", &host)],
        br#"{"inputText":"a"}"#,
        &c,
        "us-east-1",
        SystemTime::now(),
    );
    let mut rb = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .body(r#"{"inputText":"b"}"#);
    for (k, v) in &signed {
        rb = rb.header(k, v);
    }
    let r = rb.send().await.unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.headers()["x-amzn-errortype"]
            .to_str()
            .unwrap()
            .starts_with("InvalidSignatureException:")
    );

    // Ten minutes old.
    let r = signed_post(
        &emu,
        "amazon.titan-embed-text-v2%3A0",
        br#"{"inputText":"a"}"#,
        &c,
        SystemTime::now() - Duration::from_secs(600),
        &[],
    )
    .await;
    assert_eq!(r.status(), 403);
    assert!(
        r.headers()["x-amzn-errortype"]
            .to_str()
            .unwrap()
            .starts_with("InvalidSignatureException:")
    );
    let v: serde_json::Value = r.json().await.unwrap();
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .starts_with("Signature expired:"),
        "{v}"
    );

    // Two minutes old is within the limit.
    let r = signed_post(
        &emu,
        "amazon.titan-embed-text-v2%3A0",
        br#"{"inputText":"a"}"#,
        &c,
        SystemTime::now() - Duration::from_secs(120),
        &[],
    )
    .await;
    assert_eq!(r.status(), 200);
    emu.shutdown().await;
}

/// A 400 ValidationException (header and body) whose message starts with `message`.
async fn assert_validation(r: reqwest::Response, message: &str) {
    assert_eq!(r.status(), 400);
    assert_eq!(
        r.headers()["x-amzn-errortype"],
        "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"
    );
    let v: serde_json::Value = r.json().await.unwrap();
    let got = v["message"].as_str().unwrap_or_default();
    assert!(got.starts_with(message), "{v}");
}
