//! The emulated credential endpoints at the wire level (the host's tests drive them through the
//! real aws-config providers): what they refuse, and that Bedrock accepts what they issue —
//! until it expires.

mod common;

use aws_credential_types::Credentials;
use bedrock_emulator::{Config, CredentialEndpoints, IssuedBy, spawn};
use common::{client_with, code_of, invoke};
use serde_json::json;

const TITAN: &str = "amazon.titan-embed-text-v2:0";

fn endpoints() -> CredentialEndpoints {
    CredentialEndpoints {
        imds_role: Some("role-a".into()),
        ecs: true,
        ecs_authorization: Some("Bearer ecs-token".into()),
        sts: true,
        web_identity_token: Some("jwt-1".into()),
        sso_access_token: Some("sso-token".into()),
        ..CredentialEndpoints::default()
    }
}

fn creds(v: &serde_json::Value, key: &str, secret: &str, token: &str) -> Credentials {
    Credentials::new(
        v[key].as_str().unwrap(),
        v[secret].as_str().unwrap(),
        Some(v[token].as_str().unwrap().to_string()),
        None,
        "test",
    )
}

#[tokio::test]
async fn issued_credentials_sign_bedrock_calls() {
    let emu = spawn(Config::new().with_credential_endpoints(endpoints()))
        .await
        .unwrap();
    let base = emu.endpoint_url();
    let http = reqwest::Client::new();

    // ECS.
    let r = http.get(emu.ecs_credentials_url()).send().await.unwrap();
    assert_eq!(r.status(), 401, "no Authorization header");
    let ecs: serde_json::Value = http
        .get(emu.ecs_credentials_url())
        .header("authorization", "Bearer ecs-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let ecs = creds(&ecs, "AccessKeyId", "SecretAccessKey", "Token");

    // SSO.
    let url = format!("{base}/federation/credentials?account_id=123456789012&role_name=R");
    assert_eq!(http.get(&url).send().await.unwrap().status(), 401);
    let sso: serde_json::Value = http
        .get(&url)
        .header("x-amz-sso_bearer_token", "sso-token")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let sso = creds(
        &sso["roleCredentials"],
        "accessKeyId",
        "secretAccessKey",
        "sessionToken",
    );

    // STS web identity: a wrong token is refused, the right one answers XML.
    let form = |token: &str| {
        format!(
            "Action=AssumeRoleWithWebIdentity&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A123456789012%3Arole%2Fweb&RoleSessionName=s&WebIdentityToken={token}"
        )
    };
    let r = http.post(&base).body(form("nope")).send().await.unwrap();
    assert_eq!(r.status(), 400);
    assert!(r.text().await.unwrap().contains("InvalidIdentityToken"));
    let xml = http
        .post(&base)
        .body(form("jwt-1"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(xml.contains("<AssumeRoleWithWebIdentityResult>"), "{xml}");
    // AssumeRole must be signed.
    let r = http
        .post(&base)
        .body("Action=AssumeRole&Version=2011-06-15&RoleArn=arn%3Aaws%3Aiam%3A%3A1%3Arole%2Fx&RoleSessionName=s")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("MissingAuthenticationToken")
    );

    for c in [ecs, sso] {
        let client = client_with(&emu, c.clone());
        invoke(&client, TITAN, json!({"inputText": "hi"}))
            .await
            .unwrap();
        assert_eq!(
            emu.requests().last().unwrap().access_key_id.as_deref(),
            Some(c.access_key_id())
        );
    }
    let issued: Vec<IssuedBy> = emu
        .issued_credentials()
        .iter()
        .map(|c| c.issued_by)
        .collect();
    assert_eq!(
        issued,
        [IssuedBy::Ecs, IssuedBy::Sso, IssuedBy::StsWebIdentity]
    );
    // A made-up session is not accepted.
    let fake = Credentials::new("ASIAFAKEFAKEFAKEFAKE", "x", Some("t".into()), None, "test");
    let err = invoke(&client_with(&emu, fake), TITAN, json!({"inputText": "hi"}))
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), "UnrecognizedClientException");
}

#[tokio::test]
async fn imds_refuses_v1_and_bad_token_requests() {
    let emu = spawn(Config::new().with_imds("role-a")).await.unwrap();
    let base = emu.endpoint_url();
    let http = reqwest::Client::new();
    let creds_path = format!("{base}/latest/meta-data/iam/security-credentials/role-a");
    assert_eq!(http.get(&creds_path).send().await.unwrap().status(), 401);
    let r = http
        .get(&creds_path)
        .header("x-aws-ec2-metadata-token", "forged")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let r = http
        .put(format!("{base}/latest/api/token"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400, "a token PUT needs the TTL header");
    let token = http
        .put(format!("{base}/latest/api/token"))
        .header("x-aws-ec2-metadata-token-ttl-seconds", "21600")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let v: serde_json::Value = http
        .get(&creds_path)
        .header("x-aws-ec2-metadata-token", &token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(v["Code"], "Success");
    let calls = emu.credential_calls();
    assert_eq!(
        calls.iter().map(|c| c.status).collect::<Vec<_>>(),
        [401, 401, 400, 200, 200]
    );
    // Other endpoints are off.
    let r = http.get(emu.ecs_credentials_url()).send().await.unwrap();
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn expired_issued_credentials_get_expired_token() {
    let emu = spawn(
        Config::new().with_credential_endpoints(CredentialEndpoints {
            ecs: true,
            issue_expired: true,
            ..CredentialEndpoints::default()
        }),
    )
    .await
    .unwrap();
    let v: serde_json::Value = reqwest::get(emu.ecs_credentials_url())
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let c = creds(&v, "AccessKeyId", "SecretAccessKey", "Token");
    let err = invoke(&client_with(&emu, c), TITAN, json!({"inputText": "hi"}))
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), "ExpiredTokenException");
}
