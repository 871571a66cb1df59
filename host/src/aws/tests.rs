//! Tests of client building, the credentials check and error classification. The environment
//! and files are injected (never the process environment; IMDS disabled), and InvokeModel runs
//! the real SDK against a tiny HTTP peer on 127.0.0.1 that answers with canned Bedrock replies.

use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_bedrockruntime::error::SdkError;
use aws_sdk_bedrockruntime::operation::invoke_model::{InvokeModelError, InvokeModelOutput};
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_types::os_shim_internal::{Env, Fs};

mod peer;

use self::peer::{Peer, Reply};
use super::client::{Sources, load_with};
use super::*;
use crate::secrets::Secret;
use crate::spicepod::AwsParams;

const KEY_ID: &str = "AKIDBEDROCKEMBEDTEST";
const SECRET: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYKNOWNSECRET";
const TOKEN: &str = "IQoJb3JpZ2luX2VjEKNOWNSESSIONTOKEN";
const MODEL: &str = "amazon.titan-embed-text-v2:0";

// ---------------------------------------------------------------------------------------------
// Injected environment

fn fake_env(extra: &[(&str, &str)]) -> Env {
    let mut vars = vec![
        ("AWS_EC2_METADATA_DISABLED", "true"),
        // Belt and braces: were IMDS probed anyway, it would hit a closed loopback port.
        ("AWS_EC2_METADATA_SERVICE_ENDPOINT", "http://127.0.0.1:1"),
        ("HOME", "/nonexistent/bedrock-embed-test-home"),
    ];
    vars.extend_from_slice(extra);
    Env::from_slice(&vars)
}

/// A fake environment and an empty file system: no credentials anywhere.
fn isolated(extra: &[(&str, &str)]) -> Sources {
    Sources {
        env: fake_env(extra),
        fs: Fs::from_slice(&[]),
        profile_files: None,
    }
}

fn key_params(region: Option<&str>, endpoint: Option<&str>) -> AwsParams {
    AwsParams {
        region: region.map(str::to_owned),
        access_key_id: Some(Secret::new(KEY_ID, "secret AWS_KEY in .env")),
        secret_access_key: Some(Secret::new(SECRET, "secret AWS_SECRET in .env")),
        endpoint_url: endpoint.map(str::to_owned),
        ..AwsParams::default()
    }
}

fn fast() -> AwsOptions {
    AwsOptions {
        connect_timeout: Duration::from_secs(2),
        read_timeout: Duration::from_millis(500),
        attempt_timeout: Duration::from_secs(2),
        ..AwsOptions::default()
    }
}

async fn model(params: &AwsParams, sources: &Sources) -> ModelAws {
    match load_with(params, &fast(), sources).await {
        Ok(m) => m,
        Err(e) => panic!("load failed: {e}"),
    }
}

async fn invoke(
    aws: &ModelAws,
) -> Result<InvokeModelOutput, SdkError<InvokeModelError, HttpResponse>> {
    let call = aws
        .client
        .invoke_model()
        .model_id(MODEL)
        .content_type("application/json")
        .body(Blob::new(br#"{"inputText":"hello"}"#.to_vec()))
        .send();
    match tokio::time::timeout(Duration::from_secs(10), call).await {
        Ok(result) => result,
        Err(_) => panic!("InvokeModel did not finish within 10 s"),
    }
}

/// InvokeModel against a peer answering `reply`, with keys from params.
async fn failure_for(reply: Reply) -> (InvokeFailure, ModelAws) {
    let peer = Peer::start(reply).await;
    let aws = model(
        &key_params(Some("us-west-2"), Some(&peer.url)),
        &isolated(&[]),
    )
    .await;
    match invoke(&aws).await {
        Ok(_) => panic!("expected an error"),
        Err(err) => (classify(&err), aws),
    }
}

fn http(status: u16, error_type: &'static str, body: &'static str) -> Reply {
    Reply::Http {
        status,
        error_type: Some(error_type),
        body,
    }
}

fn assert_no_secret(text: &str) {
    for secret in [SECRET, TOKEN] {
        assert!(!text.contains(secret), "secret leaked into: {text}");
    }
}

// ---------------------------------------------------------------------------------------------
// The HTTP client

/// An idle pooled connection to Bedrock closes after `pool_idle_timeout`, and not before: the
/// memory a burst of connections holds goes back when it ends.
#[tokio::test]
async fn idle_connections_close_after_the_pool_idle_timeout() {
    let peer = Peer::start(Reply::KeepAlive {
        body: r#"{"embedding":[0.5]}"#,
    })
    .await;
    let params = key_params(Some("us-east-1"), Some(&peer.url));
    let sources = isolated(&[]);
    let with = |idle: Duration| AwsOptions {
        pool_idle_timeout: idle,
        ..fast()
    };

    let long = load_with(&params, &with(Duration::from_secs(30)), &sources)
        .await
        .expect("load");
    invoke(&long).await.expect("200 from the peer");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(
        peer.client_closes().is_empty(),
        "with a 30 s idle timeout the connection must stay pooled: {:?}",
        peer.client_closes()
    );

    let short = load_with(&params, &with(Duration::from_millis(300)), &sources)
        .await
        .expect("load");
    invoke(&short).await.expect("200 from the peer");
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while peer.client_closes().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let closes = peer.client_closes();
    assert_eq!(
        closes.len(),
        1,
        "only the 300 ms client's connection closes: {closes:?}"
    );
    assert!(
        closes[0] >= Duration::from_millis(300) && closes[0] < Duration::from_secs(3),
        "closed {:?} after its answer, want 300 ms .. 3 s",
        closes[0]
    );
    drop(long);
}

// ---------------------------------------------------------------------------------------------
// Credentials, region, endpoint

#[tokio::test]
async fn static_keys_from_params_sign_requests() {
    let peer = Peer::start(Reply::Http {
        status: 200,
        error_type: None,
        body: r#"{"embedding":[0.5]}"#,
    })
    .await;
    // A bearer token in the environment must not beat keys given as params.
    let sources = isolated(&[("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key-from-env")]);
    let aws = model(&key_params(Some("eu-west-1"), Some(&peer.url)), &sources).await;

    assert_eq!(aws.region, "eu-west-1");
    assert_eq!(aws.region_source, RegionSource::Param);
    assert_eq!(aws.endpoint.as_deref(), Some(peer.url.as_str()));
    assert_eq!(
        aws.credentials_source.to_string(),
        "params aws_access_key_id/aws_secret_access_key (secret AWS_KEY in .env; secret AWS_SECRET in .env)"
    );
    check_credentials(&aws).await.expect("static keys resolve");

    let out = invoke(&aws).await.expect("200 from the peer");
    assert_eq!(out.body.as_ref(), br#"{"embedding":[0.5]}"#);
    let seen = peer.requests();
    assert_eq!(seen.len(), 1, "exactly one attempt");
    assert!(
        seen[0]
            .request_line
            .starts_with("POST /model/amazon.titan-embed-text-v2%3A0/invoke")
    );
    let auth = seen[0].header("authorization").unwrap_or_default();
    assert!(
        auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={KEY_ID}/")),
        "SigV4 with the param keys, got {auth}"
    );
    assert!(auth.contains("/eu-west-1/bedrock/aws4_request"), "{auth}");
    assert_no_secret(&format!("{aws:?} {}", aws.credentials_source));
}

#[tokio::test]
async fn session_token_is_sent_and_partial_keys_are_refused() {
    let peer = Peer::start(Reply::Http {
        status: 200,
        error_type: None,
        body: "{}",
    })
    .await;
    let mut params = key_params(Some("us-east-1"), Some(&peer.url));
    params.session_token = Some(Secret::new(TOKEN, "secret AWS_TOKEN in .env"));
    let aws = model(&params, &isolated(&[])).await;
    assert!(
        aws.credentials_source
            .to_string()
            .starts_with("params aws_access_key_id/aws_secret_access_key/aws_session_token (")
    );
    invoke(&aws).await.expect("200");
    assert_eq!(
        peer.requests()[0].header("x-amz-security-token"),
        Some(TOKEN)
    );

    let partial = AwsParams {
        access_key_id: Some(Secret::new(KEY_ID, "param aws_access_key_id")),
        ..AwsParams::default()
    };
    let err = load_with(&partial, &fast(), &isolated(&[]))
        .await
        .expect_err("partial keys");
    assert_eq!(
        err.to_string(),
        "aws_access_key_id is set (param aws_access_key_id) but aws_secret_access_key is not"
    );
}

#[allow(deprecated)]
fn profile_files(dir: &std::path::Path) -> aws_config::profile::profile_file::ProfileFiles {
    use aws_config::profile::profile_file::{ProfileFileKind, ProfileFiles};
    let credentials = dir.join("credentials");
    let config = dir.join("config");
    std::fs::write(
        &credentials,
        format!("[dev]\naws_access_key_id = AKIDPROFILEDEV\naws_secret_access_key = {SECRET}\n"),
    )
    .expect("write credentials");
    std::fs::write(&config, "[profile dev]\nregion = ap-southeast-2\n").expect("write config");
    ProfileFiles::builder()
        .with_file(ProfileFileKind::Credentials, credentials)
        .with_file(ProfileFileKind::Config, config)
        .build()
}

#[tokio::test]
async fn profile_param_supplies_keys_and_region() {
    let dir = tempfile::tempdir().expect("tempdir");
    let peer = Peer::start(Reply::Http {
        status: 200,
        error_type: None,
        body: "{}",
    })
    .await;
    // Keys in the environment must not beat the aws_profile param.
    let sources = Sources {
        env: fake_env(&[
            ("AWS_ACCESS_KEY_ID", "AKIDFROMENV"),
            ("AWS_SECRET_ACCESS_KEY", "envsecret"),
        ]),
        fs: Fs::real(),
        profile_files: Some(profile_files(dir.path())),
    };
    let params = AwsParams {
        profile: Some("dev".into()),
        endpoint_url: Some(peer.url.clone()),
        ..AwsParams::default()
    };
    let aws = model(&params, &sources).await;
    assert_eq!(aws.region, "ap-southeast-2");
    assert_eq!(aws.region_source, RegionSource::Chain);
    assert_eq!(
        aws.credentials_source.to_string(),
        "profile `dev` (aws_profile param)"
    );

    check_credentials(&aws).await.expect("profile keys resolve");
    assert_eq!(
        aws.credentials_source.to_string(),
        "profile `dev` (aws_profile param), supplied by keys of profile `dev`"
    );
    invoke(&aws).await.expect("200");
    let auth = peer.requests()[0]
        .header("authorization")
        .unwrap_or_default()
        .to_owned();
    assert!(auth.contains("Credential=AKIDPROFILEDEV/"), "{auth}");
    assert!(auth.contains("/ap-southeast-2/bedrock/"), "{auth}");

    // A profile that is not in the files: the error names it and where to fix it.
    let missing = AwsParams {
        profile: Some("nope".into()),
        ..params
    };
    let aws = model(&missing, &sources).await;
    let err = check_credentials(&aws)
        .await
        .expect_err("no such profile")
        .to_string();
    assert!(err.contains("profile `nope`"), "{err}");
    assert_no_secret(&err);
}

#[tokio::test]
async fn no_credentials_lists_every_source_and_falls_back_to_us_east_1() {
    let aws = model(&AwsParams::default(), &isolated(&[])).await;
    assert_eq!(aws.region, DEFAULT_REGION);
    assert_eq!(aws.region_source, RegionSource::Default);
    assert_eq!(aws.endpoint, None);
    assert_eq!(
        aws.endpoint_display(),
        "https://bedrock-runtime.us-east-1.amazonaws.com"
    );
    assert!(matches!(
        aws.credentials_source.kind(),
        CredentialsKind::DefaultChain { .. }
    ));

    let started = std::time::Instant::now();
    let err = check_credentials(&aws)
        .await
        .expect_err("nothing configured");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "no slow network probing"
    );
    assert!(matches!(err, AwsError::NoCredentials { .. }), "{err:?}");
    let text = err.to_string();
    let mut at = 0;
    for needle in [
        "params aws_access_key_id/aws_secret_access_key",
        "environment AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
        "~/.aws/credentials and ~/.aws/config",
        "AWS_PROFILE",
        "SSO",
        "web identity",
        "ECS",
        "IMDSv2",
        "aws_access_key_id: ${ secrets:AWS_ACCESS_KEY_ID }",
    ] {
        let found = text[at..]
            .find(needle)
            .unwrap_or_else(|| panic!("`{needle}` in order in:\n{text}"));
        at += found;
    }
}

#[tokio::test]
async fn default_chain_reports_the_provider_that_answered() {
    let sources = isolated(&[
        ("AWS_ACCESS_KEY_ID", KEY_ID),
        ("AWS_SECRET_ACCESS_KEY", SECRET),
        ("AWS_REGION", "eu-central-1"),
        ("AWS_PROFILE", "work"),
    ]);
    let aws = model(&AwsParams::default(), &sources).await;
    assert_eq!(aws.region, "eu-central-1");
    assert_eq!(aws.region_source, RegionSource::Chain);
    check_credentials(&aws).await.expect("env keys");
    let text = aws.credentials_source.to_string();
    assert!(text.starts_with("default chain ("), "{text}");
    assert!(text.contains("profile `work` from AWS_PROFILE"), "{text}");
    assert!(
        text.ends_with("supplied by environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY"),
        "{text}"
    );
    assert!(
        aws.credentials_source
            .fix_hint()
            .contains("in the environment")
    );
    assert_no_secret(&text);
}

#[tokio::test]
async fn expired_credentials_say_so_and_where_from() {
    let mut aws = model(&key_params(Some("us-east-1"), None), &isolated(&[])).await;
    let past = SystemTime::now() - Duration::from_secs(3600);
    let creds = Credentials::new(KEY_ID, SECRET, Some(TOKEN.into()), Some(past), "test");
    aws.credentials_provider = Some(SharedCredentialsProvider::new(creds));
    let err = check_credentials(&aws).await.expect_err("expired");
    let text = err.to_string();
    assert!(
        text.starts_with("the AWS credentials from params aws_access_key_id/aws_secret_access_key")
    );
    assert!(text.contains("expired at "), "{text}");
    assert_no_secret(&text);
}

#[tokio::test]
async fn endpoint_from_the_environment_is_used_by_the_sdk_itself() {
    for var in ["AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "AWS_ENDPOINT_URL"] {
        let peer = Peer::start(Reply::Http {
            status: 200,
            error_type: None,
            body: "{}",
        })
        .await;
        let sources = isolated(&[(var, peer.url.as_str())]);
        let params = AwsParams {
            endpoint_url: None,
            ..key_params(Some("us-east-1"), None)
        };
        let aws = model(&params, &sources).await;
        assert_eq!(aws.endpoint.as_deref(), Some(peer.url.as_str()), "{var}");
        invoke(&aws)
            .await
            .unwrap_or_else(|e| panic!("{var}: {}", classify(&e)));
        assert_eq!(peer.requests().len(), 1, "{var}");
    }

    // The param beats the environment.
    let peer = Peer::start(Reply::Http {
        status: 200,
        error_type: None,
        body: "{}",
    })
    .await;
    let sources = isolated(&[("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", "http://127.0.0.1:1")]);
    let aws = model(&key_params(Some("us-east-1"), Some(&peer.url)), &sources).await;
    assert_eq!(aws.endpoint.as_deref(), Some(peer.url.as_str()));
    invoke(&aws).await.expect("param endpoint");
    assert_eq!(peer.requests().len(), 1);
}

#[tokio::test]
async fn bedrock_api_key_from_the_environment_is_sent_as_bearer() {
    let peer = Peer::start(Reply::Http {
        status: 200,
        error_type: None,
        body: "{}",
    })
    .await;
    let sources = isolated(&[
        ("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key-abc"),
        ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", peer.url.as_str()),
    ]);
    let aws = model(&AwsParams::default(), &sources).await;
    assert_eq!(
        aws.credentials_source.kind(),
        &CredentialsKind::BearerToken {
            env_var: BEARER_TOKEN_ENV
        }
    );
    check_credentials(&aws)
        .await
        .expect("nothing to resolve with an API key");
    invoke(&aws).await.expect("200");
    assert_eq!(
        peer.requests()[0].header("authorization"),
        Some("Bearer bedrock-api-key-abc")
    );
}

// ---------------------------------------------------------------------------------------------
// Classification of real SDK errors

#[tokio::test]
async fn throttling_and_transient_errors_are_retryable() {
    for (reply, kind, code) in [
        (
            http(
                429,
                "ThrottlingException",
                r#"{"message":"Too many requests"}"#,
            ),
            FailureKind::Throttled,
            Some("ThrottlingException"),
        ),
        (
            http(429, "ModelNotReadyException", r#"{"message":"loading"}"#),
            FailureKind::ModelNotReady,
            Some("ModelNotReadyException"),
        ),
        (
            http(500, "InternalServerException", r#"{"message":"oops"}"#),
            FailureKind::Transient,
            Some("InternalServerException"),
        ),
        (
            http(503, "ServiceUnavailableException", r#"{"message":"busy"}"#),
            FailureKind::Transient,
            Some("ServiceUnavailableException"),
        ),
        (
            Reply::Http {
                status: 502,
                error_type: None,
                body: "bad gateway",
            },
            FailureKind::Transient,
            None,
        ),
        (
            Reply::Http {
                status: 504,
                error_type: None,
                body: "{}",
            },
            FailureKind::Transient,
            None,
        ),
    ] {
        let (f, _) = failure_for(reply).await;
        assert_eq!(f.kind, kind, "{f:?}");
        assert_eq!(f.code.as_deref(), code, "{f:?}");
        assert!(f.retryable(), "{f:?}");
        assert!(f.status.is_some(), "{f:?}");
    }

    let (f, aws) = failure_for(http(
        429,
        "ThrottlingException",
        r#"{"message":"Too many requests"}"#,
    ))
    .await;
    assert_eq!(f.status, Some(429));
    assert_eq!(f.message.as_deref(), Some("Too many requests"));
    assert_eq!(f.request_id.as_deref(), Some("req-429"));
    let text = f.user_message("docs", MODEL, &aws.region, &aws.credentials_source);
    assert!(text.contains("requests_per_min_limit"), "{text}");
    assert!(text.contains("max_concurrent_invocations"), "{text}");
    assert!(text.contains("quota"), "{text}");
    assert!(text.ends_with("[request id req-429]"), "{text}");
}

#[tokio::test]
async fn connection_failures_and_timeouts_are_transient() {
    let (reset, _) = failure_for(Reply::Close).await;
    assert_eq!(reset.kind, FailureKind::Transient, "{reset:?}");
    assert!(reset.retryable());

    // A timeout is its own kind (504, not 502), read from the SDK's error type.
    let (hang, _) = failure_for(Reply::Hang).await;
    assert_eq!(hang.kind, FailureKind::Timeout, "{hang:?}");
    assert!(hang.retryable());
    assert_eq!(hang.status, None);

    // ModelTimeoutException: "Try your request again": retried within the budget.
    let (slow, aws) =
        failure_for(http(408, "ModelTimeoutException", r#"{"message":"slow"}"#)).await;
    assert_eq!(slow.kind, FailureKind::ModelTimeout, "{slow:?}");
    assert!(slow.retryable());
    let text = slow.user_message("docs", MODEL, &aws.region, &aws.credentials_source);
    assert!(text.contains("retries ran out"), "{text}");

    // Nothing listening.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let aws = model(&key_params(Some("us-east-1"), Some(&url)), &isolated(&[])).await;
    let refused = classify(&invoke(&aws).await.expect_err("refused"));
    assert_eq!(refused.kind, FailureKind::Transient, "{refused:?}");
    assert!(refused.detail.is_some());
}

#[tokio::test]
async fn client_errors_are_never_retried() {
    for (reply, kind) in [
        (
            http(
                400,
                "ValidationException",
                r#"{"message":"Malformed input request"}"#,
            ),
            FailureKind::Validation,
        ),
        (
            http(
                400,
                "ServiceQuotaExceededException",
                r#"{"message":"quota"}"#,
            ),
            FailureKind::ServiceQuota,
        ),
        (
            http(403, "AccessDeniedException", r#"{"message":"denied"}"#),
            FailureKind::AccessDenied,
        ),
        (
            http(
                403,
                "UnrecognizedClientException",
                r#"{"message":"The security token included in the request is invalid."}"#,
            ),
            FailureKind::Auth,
        ),
        (
            http(
                403,
                "InvalidSignatureException",
                r#"{"message":"signature mismatch"}"#,
            ),
            FailureKind::Auth,
        ),
        (
            http(
                403,
                "ExpiredTokenException",
                r#"{"message":"The security token included in the request is expired"}"#,
            ),
            FailureKind::Auth,
        ),
        (
            http(403, "IncompleteSignature", r#"{"message":"incomplete"}"#),
            FailureKind::Auth,
        ),
        (
            http(
                403,
                "MissingAuthenticationToken",
                r#"{"message":"missing"}"#,
            ),
            FailureKind::Auth,
        ),
        (
            http(
                404,
                "ResourceNotFoundException",
                r#"{"message":"Model not found"}"#,
            ),
            FailureKind::NotFound,
        ),
        (
            // What Bedrock answers for an unknown or invalid model id.
            http(
                400,
                "ValidationException",
                r#"{"message":"The provided model identifier is invalid."}"#,
            ),
            FailureKind::NotFound,
        ),
        (
            http(
                424,
                "ModelErrorException",
                r#"{"message":"model failed","originalStatusCode":500,"resourceName":"x"}"#,
            ),
            FailureKind::ModelError,
        ),
    ] {
        let (f, aws) = failure_for(reply).await;
        assert_eq!(f.kind, kind, "{f:?}");
        assert!(!f.retryable(), "{f:?}");
        let text = f.user_message("docs", MODEL, &aws.region, &aws.credentials_source);
        assert!(text.contains("model `docs`"), "{text}");
        assert_no_secret(&text);
        assert_no_secret(&format!("{f} {f:?}"));
    }
}

#[tokio::test]
async fn messages_name_the_fix() {
    let (f, aws) = failure_for(http(
        403,
        "AccessDeniedException",
        r#"{"message":"User: arn:aws:iam::123456789012:user/ci is not authorized to perform: bedrock:InvokeModel"}"#,
    ))
    .await;
    let text = f.user_message("docs", MODEL, "us-west-2", &aws.credentials_source);
    assert!(
        text.contains("`bedrock:InvokeModel` on arn:aws:bedrock:us-west-2::foundation-model/amazon.titan-embed-text-v2:0"),
        "{text}"
    );
    let text = f.user_message(
        "docs",
        "us.cohere.embed-v4:0",
        "us-west-2",
        &aws.credentials_source,
    );
    assert!(
        text.contains("arn:aws:bedrock:us-west-2:123456789012:inference-profile/us.cohere.embed-v4:0 and arn:aws:bedrock:*::foundation-model/cohere.embed-v4:0"),
        "{text}"
    );

    let (f, aws) = failure_for(http(
        403,
        "UnrecognizedClientException",
        r#"{"message":"invalid"}"#,
    ))
    .await;
    let text = f.user_message("docs", MODEL, "us-west-2", &aws.credentials_source);
    assert!(
        text.starts_with("the access key from params aws_access_key_id/aws_secret_access_key (secret AWS_KEY in .env"),
        "{text}"
    );
    assert!(
        text.contains("check the aws_access_key_id/aws_secret_access_key params"),
        "{text}"
    );

    let (f, aws) = failure_for(http(
        403,
        "ExpiredTokenException",
        r#"{"message":"expired"}"#,
    ))
    .await;
    let text = f.user_message("docs", MODEL, "us-west-2", &aws.credentials_source);
    assert!(text.contains("have expired"), "{text}");
    assert!(
        text.contains("params aws_access_key_id/aws_secret_access_key"),
        "{text}"
    );

    let (f, aws) = failure_for(http(
        400,
        "ValidationException",
        r#"{"message":"dimensions must be 256, 512 or 1024"}"#,
    ))
    .await;
    let text = f.user_message("docs", MODEL, "us-west-2", &aws.credentials_source);
    assert!(
        text.contains("dimensions must be 256, 512 or 1024"),
        "{text}"
    );
    assert!(text.contains(&format!("model id `{MODEL}`")), "{text}");
    assert!(text.contains("params"), "{text}");

    let (f, _) = failure_for(http(
        424,
        "ModelErrorException",
        r#"{"message":"boom","originalStatusCode":500}"#,
    ))
    .await;
    assert_eq!(f.original_status_code, Some(500));
    assert_eq!(f.status, Some(424));
}

#[test]
fn kinds_from_status_when_the_code_is_unknown() {
    use super::classify::kind_of;
    assert_eq!(kind_of(None, Some(429)), FailureKind::Throttled);
    assert_eq!(
        kind_of(Some("SomethingNew"), Some(503)),
        FailureKind::Transient
    );
    assert_eq!(kind_of(None, Some(400)), FailureKind::Validation);
    assert_eq!(kind_of(None, Some(403)), FailureKind::AccessDenied);
    assert_eq!(
        kind_of(Some("UnrecognizedClientException"), Some(403)),
        FailureKind::Auth
    );
    assert_eq!(kind_of(None, Some(424)), FailureKind::ModelError);
    assert_eq!(kind_of(None, Some(418)), FailureKind::Other);
}
