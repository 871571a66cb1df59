//! Every credential source the host supports, end to end on loopback: the real `bedrock-embed`
//! binary runs as a child process with a controlled environment (the AWS credential chain reads
//! the process environment, which a test must not mutate in its own process), against the
//! emulator and its credential endpoints (IMDSv2, ECS, STS, SSO) in this process. The emulator
//! accepts only the credentials the source under test supplies, and its request log shows which
//! key signed each InvokeModel — so a green test proves the request carried that source's keys.
//!
//! Also: the no-credentials and expired-credentials messages, secret hygiene (logs at debug,
//! HTTP error bodies, /metrics, `codecs`), and an allow-list denying one model.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use bedrock_embed_tests::bin::host_binary;
use bedrock_emulator::{Config, CredentialEndpoints, Emulator, IssuedBy, RequestRecord};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

const TITAN: &str = "amazon.titan-embed-text-v2:0";
const COHERE: &str = "cohere.embed-english-v3";
const ACCOUNT: &str = "123456789012";
/// Keys the emulator accepts in tests where the host must get its keys from somewhere else:
/// never handed to the host, so a request signed with them would prove nothing.
const DECOY_KEY_ID: &str = "AKIADECOYDECOYDECOY1";
const DECOY_SECRET: &str = "decoy/secret/never/given/to/the/host/0000";
/// How long one child run may take before the test fails.
const CHILD_TIMEOUT: Duration = Duration::from_secs(60);

/// An emulator that accepts only `key`/`secret` (+ `token`).
async fn emulator_accepting(key: &str, secret: &str, token: Option<&str>) -> Emulator {
    let mut config = Config::new().with_credentials(key, secret);
    if let Some(token) = token {
        config = config.with_session_token(token);
    }
    bedrock_emulator::spawn(config).await.unwrap()
}

/// An emulator whose Bedrock endpoint accepts only decoy keys (and whatever its credential
/// endpoints issue).
async fn emulator_with(endpoints: CredentialEndpoints) -> Emulator {
    let config = Config::new()
        .with_credentials(DECOY_KEY_ID, DECOY_SECRET)
        .with_credential_endpoints(endpoints);
    bedrock_emulator::spawn(config).await.unwrap()
}

/// A spicepod entry served by the emulator (`extra`: YAML lines indented six spaces).
fn entry(name: &str, model_id: &str, emulator: &Emulator, extra: &str) -> String {
    let dimensions = if model_id == TITAN {
        "      dimensions: \"256\"\n"
    } else {
        ""
    };
    format!(
        "  - from: bedrock:{model_id}\n    name: {name}\n    params:\n      aws_endpoint_url: {}\n{dimensions}{extra}",
        emulator.endpoint_url()
    )
}

fn spicepod(entries: &[String]) -> String {
    bedrock_embed_tests::hosted::spicepod(&entries.concat())
}

/// The result of one child run.
#[derive(Debug)]
struct Outcome {
    success: bool,
    stdout: String,
    stderr: String,
}

impl Outcome {
    fn assert_ok(&self) -> &Self {
        assert!(
            self.success,
            "bedrock-embed failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    fn assert_failed(&self) -> &Self {
        assert!(
            !self.success,
            "bedrock-embed should have failed:\nstdout: {}\nstderr: {}",
            self.stdout, self.stderr
        );
        self
    }

    /// The vectors `embed` printed.
    fn vectors(&self) -> Vec<Vec<f32>> {
        let doc: Value = serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|e| panic!("{e}: {}", self.stdout));
        doc["data"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| {
                d["embedding"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|x| x.as_f64().unwrap() as f32)
                    .collect()
            })
            .collect()
    }

    fn all(&self) -> String {
        format!("{}\n{}", self.stdout, self.stderr)
    }
}

/// A temp directory holding the spicepod, its `.env`, and an empty HOME (so `~/.aws` holds only
/// what the test writes), plus the environment every child gets.
struct Pod {
    dir: tempfile::TempDir,
}

impl Pod {
    fn new(spicepod_text: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("spicepod.yaml"), spicepod_text).unwrap();
        std::fs::create_dir_all(dir.path().join("home")).unwrap();
        Self { dir }
    }

    fn with_dotenv(self, text: &str) -> Self {
        self.write(".env", text);
        self
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    fn home(&self) -> PathBuf {
        self.path("home")
    }

    fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// `bedrock-embed ARGS` with only HOME, the given variables, and (unless the test serves
    /// IMDS) `AWS_EC2_METADATA_DISABLED=true` in its environment.
    fn command(&self, args: &[&str], env: &[(&str, &str)]) -> Command {
        let mut cmd = Command::new(host_binary());
        cmd.env_clear()
            .current_dir(self.dir.path())
            .env("HOME", self.home())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        if !env
            .iter()
            .any(|(k, _)| *k == "AWS_EC2_METADATA_SERVICE_ENDPOINT")
        {
            cmd.env("AWS_EC2_METADATA_DISABLED", "true");
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd
    }

    async fn run(&self, args: &[&str], env: &[(&str, &str)]) -> Outcome {
        let child = self
            .command(args, env)
            .spawn()
            .expect("spawning bedrock-embed");
        let out = tokio::time::timeout(CHILD_TIMEOUT, child.wait_with_output())
            .await
            .expect("bedrock-embed finished in time")
            .unwrap();
        Outcome {
            success: out.status.success(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    async fn embed(&self, model: &str, env: &[(&str, &str)]) -> Outcome {
        let spicepod = self.path("spicepod.yaml");
        self.run(
            &[
                "embed",
                "--spicepod",
                spicepod.to_str().unwrap(),
                "--model",
                model,
                "hello credentials",
            ],
            env,
        )
        .await
    }

    async fn check(&self, env: &[(&str, &str)]) -> Outcome {
        let spicepod = self.path("spicepod.yaml");
        self.run(&["check", "--spicepod", spicepod.to_str().unwrap()], env)
            .await
    }
}

/// The last InvokeModel the emulator received, which must have succeeded.
fn last_accepted(emulator: &Emulator) -> RequestRecord {
    let last = emulator
        .requests()
        .pop()
        .expect("the emulator received an InvokeModel");
    assert_eq!(last.status, 200, "{last:?}");
    last
}

/// Asserts the last InvokeModel was signed with the session credentials `by` issued.
fn assert_signed_by_issued(emulator: &Emulator, by: IssuedBy) {
    let issued: Vec<_> = emulator
        .issued_credentials()
        .into_iter()
        .filter(|c| c.issued_by == by)
        .collect();
    assert!(
        !issued.is_empty(),
        "{by} issued credentials: {:?}",
        emulator.credential_calls()
    );
    let last = last_accepted(emulator);
    let key = last.access_key_id.clone().unwrap();
    let used = issued
        .iter()
        .find(|c| c.access_key_id == key)
        .unwrap_or_else(|| panic!("{key} was issued by {by}"));
    assert_eq!(
        last.headers.get("x-amz-security-token"),
        Some(&used.session_token)
    );
}

// ---------------------------------------------------------------- explicit params and env

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn params_keys_and_session_token_from_dotenv_beat_the_environment() {
    let plain = emulator_accepting(
        "AKIAPARAMSPLAIN00001",
        "params/plain/secret/value/0000000000000",
        None,
    )
    .await;
    let session = emulator_accepting(
        "ASIAPARAMSSESSION001",
        "params/session/secret/value/00000000000",
        Some("params-session-token-1"),
    )
    .await;
    let keys = "      aws_access_key_id: ${ secrets:KEY_ID }\n      aws_secret_access_key: ${ secrets:SECRET }\n";
    let pod = Pod::new(&spicepod(&[
        entry("plain", TITAN, &plain, keys),
        entry(
            "session",
            TITAN,
            &session,
            "      aws_access_key_id: ${ secrets:S_KEY_ID }\n      aws_secret_access_key: ${ secrets:S_SECRET }\n      \
             aws_session_token: ${ secrets:S_TOKEN }\n",
        ),
    ]))
    .with_dotenv(
        "KEY_ID=AKIAPARAMSPLAIN00001\nSECRET=params/plain/secret/value/0000000000000\n\
         S_KEY_ID=ASIAPARAMSSESSION001\nS_SECRET=params/session/secret/value/00000000000\nS_TOKEN=params-session-token-1\n",
    );
    // Other keys and a Bedrock API key in the environment lose to the params.
    let env = [
        ("AWS_ACCESS_KEY_ID", "AKIAENVIRONMENT00001"),
        ("AWS_SECRET_ACCESS_KEY", "env-secret"),
        ("AWS_BEARER_TOKEN_BEDROCK", "env-api-key"),
    ];

    let out = pod.embed("plain", &env).await;
    out.assert_ok();
    assert_eq!(
        out.vectors()[0],
        bedrock_emulator::embed("hello credentials", 256, true)
    );
    assert_eq!(
        last_accepted(&plain).access_key_id.as_deref(),
        Some("AKIAPARAMSPLAIN00001")
    );

    pod.embed("session", &env).await.assert_ok();
    let last = last_accepted(&session);
    assert_eq!(last.access_key_id.as_deref(), Some("ASIAPARAMSSESSION001"));
    assert_eq!(
        last.headers.get("x-amz-security-token").map(String::as_str),
        Some("params-session-token-1")
    );

    let out = pod.check(&env).await;
    out.assert_ok();
    assert!(
        out.stdout
            .contains("params aws_access_key_id/aws_secret_access_key/aws_session_token"),
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn environment_keys_with_and_without_session_token() {
    let plain = emulator_accepting(
        "AKIAENVPLAIN00000001",
        "env/plain/secret/000000000000000000000000",
        None,
    )
    .await;
    let session = emulator_accepting(
        "ASIAENVSESSION000001",
        "env/session/secret/0000000000000000000000",
        Some("env-session-token"),
    )
    .await;
    let pod = Pod::new(&spicepod(&[
        entry("plain", TITAN, &plain, ""),
        entry("session", TITAN, &session, ""),
    ]));

    let out = pod
        .embed(
            "plain",
            &[
                ("AWS_ACCESS_KEY_ID", "AKIAENVPLAIN00000001"),
                (
                    "AWS_SECRET_ACCESS_KEY",
                    "env/plain/secret/000000000000000000000000",
                ),
            ],
        )
        .await;
    out.assert_ok();
    assert_eq!(
        last_accepted(&plain).access_key_id.as_deref(),
        Some("AKIAENVPLAIN00000001")
    );

    pod.embed(
        "session",
        &[
            ("AWS_ACCESS_KEY_ID", "ASIAENVSESSION000001"),
            (
                "AWS_SECRET_ACCESS_KEY",
                "env/session/secret/0000000000000000000000",
            ),
            ("AWS_SESSION_TOKEN", "env-session-token"),
        ],
    )
    .await
    .assert_ok();
    let last = last_accepted(&session);
    assert_eq!(
        last.headers.get("x-amz-security-token").map(String::as_str),
        Some("env-session-token")
    );
}

// ---------------------------------------------------------------- shared files and profiles

const CREDENTIALS_FILE: &str = "\
[default]
aws_access_key_id = AKIAFILEDEFAULT00001
aws_secret_access_key = file/default/secret/00000000000000000000

[dev]
aws_access_key_id = AKIAFILEDEV000000001
aws_secret_access_key = file/dev/secret/000000000000000000000000
";

const CONFIG_FILE: &str = "\
[default]
region = us-east-1

[profile dev]
region = eu-west-1
";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shared_files_default_profile_aws_profile_and_the_aws_profile_param() {
    let default = emulator_accepting(
        "AKIAFILEDEFAULT00001",
        "file/default/secret/00000000000000000000",
        None,
    )
    .await;
    let dev = emulator_accepting(
        "AKIAFILEDEV000000001",
        "file/dev/secret/000000000000000000000000",
        None,
    )
    .await;
    let pod = Pod::new(&spicepod(&[
        entry("default", TITAN, &default, ""),
        entry("dev", TITAN, &dev, ""),
        entry("dev-param", TITAN, &dev, "      aws_profile: dev\n"),
    ]));
    // Not in ~/.aws: the *_FILE variables move them.
    let credentials = pod.write("aws/credentials-file", CREDENTIALS_FILE);
    let config = pod.write("aws/config-file", CONFIG_FILE);
    let files = [
        ("AWS_SHARED_CREDENTIALS_FILE", credentials.to_str().unwrap()),
        ("AWS_CONFIG_FILE", config.to_str().unwrap()),
    ];

    pod.embed("default", &files).await.assert_ok();
    let last = last_accepted(&default);
    assert_eq!(last.access_key_id.as_deref(), Some("AKIAFILEDEFAULT00001"));
    assert_eq!(last.region.as_deref(), Some("us-east-1"));

    let with_profile = [files[0], files[1], ("AWS_PROFILE", "dev")];
    pod.embed("dev", &with_profile).await.assert_ok();
    let last = last_accepted(&dev);
    assert_eq!(last.access_key_id.as_deref(), Some("AKIAFILEDEV000000001"));
    assert_eq!(
        last.region.as_deref(),
        Some("eu-west-1"),
        "the profile's region"
    );

    // The param beats AWS_PROFILE (which names the default profile's keys here).
    let other_profile = [files[0], files[1], ("AWS_PROFILE", "default")];
    pod.embed("dev-param", &other_profile).await.assert_ok();
    assert_eq!(
        last_accepted(&dev).access_key_id.as_deref(),
        Some("AKIAFILEDEV000000001")
    );
    assert_eq!(dev.requests().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_role_arn_with_source_profile_assumes_the_role_through_sts() {
    // The source profile's keys may call STS (the emulator accepts them) but the Bedrock call
    // must be signed by the role's session credentials.
    let emulator = bedrock_emulator::spawn(
        Config::new()
            .with_credentials(
                "AKIASOURCEPROFILE001",
                "source/profile/secret/000000000000000000",
            )
            .with_sts(None),
    )
    .await
    .unwrap();
    let pod = Pod::new(&spicepod(&[entry("m", TITAN, &emulator, "")]));
    pod.write(
        "home/.aws/credentials",
        "[base]\naws_access_key_id = AKIASOURCEPROFILE001\naws_secret_access_key = source/profile/secret/000000000000000000\n",
    );
    pod.write(
        "home/.aws/config",
        &format!("[profile app]\nrole_arn = arn:aws:iam::{ACCOUNT}:role/bedrock-app\nsource_profile = base\nregion = us-east-1\n"),
    );
    let sts = emulator.endpoint_url();
    pod.embed(
        "m",
        &[("AWS_PROFILE", "app"), ("AWS_ENDPOINT_URL_STS", &sts)],
    )
    .await
    .assert_ok();
    assert_signed_by_issued(&emulator, IssuedBy::StsAssumeRole);
    let issued = emulator.issued_credentials();
    assert_eq!(
        issued[0].role.as_deref(),
        Some("arn:aws:iam::123456789012:role/bedrock-app")
    );
}

// ---------------------------------------------------------------- web identity, ECS, IMDS, SSO

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn web_identity_token_file_and_role_arn_through_sts() {
    let emulator = emulator_with(CredentialEndpoints {
        sts: true,
        web_identity_token: Some("eyJhbGciOi.web-identity.jwt".into()),
        ..CredentialEndpoints::default()
    })
    .await;
    let pod = Pod::new(&spicepod(&[entry("m", TITAN, &emulator, "")]));
    let token = pod.write("token/web-identity", "eyJhbGciOi.web-identity.jwt");
    let sts = emulator.endpoint_url();
    let env = [
        ("AWS_WEB_IDENTITY_TOKEN_FILE", token.to_str().unwrap()),
        (
            "AWS_ROLE_ARN",
            "arn:aws:iam::123456789012:role/irsa-bedrock",
        ),
        ("AWS_ROLE_SESSION_NAME", "bedrock-embed-test"),
        ("AWS_REGION", "us-east-1"),
        ("AWS_ENDPOINT_URL_STS", &sts),
    ];
    pod.embed("m", &env).await.assert_ok();
    assert_signed_by_issued(&emulator, IssuedBy::StsWebIdentity);

    let out = pod.check(&env).await;
    out.assert_ok();
    assert!(
        out.stdout.contains("supplied by web identity"),
        "{}",
        out.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ecs_container_credentials_with_and_without_an_authorization_token() {
    let open = emulator_with(CredentialEndpoints {
        ecs: true,
        ..CredentialEndpoints::default()
    })
    .await;
    let guarded = emulator_with(CredentialEndpoints {
        ecs: true,
        ecs_authorization: Some("Basic ZWNzLXRva2Vu".into()),
        ..CredentialEndpoints::default()
    })
    .await;
    let pod = Pod::new(&spicepod(&[
        entry("open", TITAN, &open, ""),
        entry("guarded", TITAN, &guarded, ""),
    ]));

    let url = open.ecs_credentials_url();
    pod.embed("open", &[("AWS_CONTAINER_CREDENTIALS_FULL_URI", &url)])
        .await
        .assert_ok();
    assert_signed_by_issued(&open, IssuedBy::Ecs);

    let url = guarded.ecs_credentials_url();
    let token_file = pod.write("token/ecs", "Basic ZWNzLXRva2Vu");
    pod.embed(
        "guarded",
        &[
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &url),
            (
                "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE",
                token_file.to_str().unwrap(),
            ),
        ],
    )
    .await
    .assert_ok();
    assert_signed_by_issued(&guarded, IssuedBy::Ecs);

    // The token as a variable works the same.
    pod.embed(
        "guarded",
        &[
            ("AWS_CONTAINER_CREDENTIALS_FULL_URI", &url),
            ("AWS_CONTAINER_AUTHORIZATION_TOKEN", "Basic ZWNzLXRva2Vu"),
        ],
    )
    .await
    .assert_ok();
    assert_signed_by_issued(&guarded, IssuedBy::Ecs);

    // Without the token the endpoint refuses, and the host says where it looked.
    let out = pod
        .check(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", &url)])
        .await;
    out.assert_failed();
    // The model, the chain it walked (ECS among it) and the endpoint's answer.
    assert!(
        out.stderr.contains(
            "embeddings \"guarded\": loading AWS credentials from default chain (environment, \
             shared config/credentials files with profile `default`, SSO, web identity, ECS, EC2 \
             IMDSv2) failed"
        ) && out.stderr.contains("StatusCode(401)"),
        "{}",
        out.stderr
    );
    assert!(
        guarded.credential_calls().iter().any(|c| c.status == 401),
        "{:?}",
        guarded.credential_calls()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imds_v2_token_then_role_credentials_and_imds_v1_refused() {
    let emulator = emulator_with(CredentialEndpoints {
        imds_role: Some("bedrock-instance-role".into()),
        ..CredentialEndpoints::default()
    })
    .await;
    // No aws_region: the region comes from IMDS too, as on an instance.
    let pod = Pod::new(&spicepod(&[entry("m", TITAN, &emulator, "")]));
    let imds = emulator.endpoint_url();
    pod.embed("m", &[("AWS_EC2_METADATA_SERVICE_ENDPOINT", &imds)])
        .await
        .assert_ok();
    assert_signed_by_issued(&emulator, IssuedBy::Imds);
    let calls = emulator.credential_calls();
    assert!(
        calls
            .iter()
            .any(|c| c.operation == "PUT /latest/api/token" && c.status == 200),
        "{calls:?}"
    );
    assert!(
        calls.iter().all(|c| c.status != 401),
        "every metadata read carried the IMDSv2 token: {calls:?}"
    );

    // IMDSv1 (no token) is refused.
    let client = reqwest::Client::new();
    let v1 = client
        .get(format!("{imds}/latest/meta-data/iam/security-credentials/"))
        .send()
        .await
        .unwrap();
    assert_eq!(v1.status().as_u16(), 401);
    let token = client
        .put(format!("{imds}/latest/api/token"))
        .header("x-aws-ec2-metadata-token-ttl-seconds", "60")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let role = client
        .get(format!("{imds}/latest/meta-data/iam/security-credentials/"))
        .header("x-aws-ec2-metadata-token", token)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(role, "bedrock-instance-role");
}

fn last_issued_role(emulator: &Emulator) -> Option<String> {
    emulator.issued_credentials().pop().and_then(|c| c.role)
}

/// `~/.aws/sso/cache/<sha1(identifier)>.json`.
fn sso_cache_file(identifier: &str) -> String {
    use sha1::Digest as _;
    format!(
        "home/.aws/sso/cache/{}.json",
        hex::encode(sha1::Sha1::digest(identifier.as_bytes()))
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sso_session_and_legacy_sso_profiles_get_role_credentials_from_the_portal() {
    let emulator = emulator_with(CredentialEndpoints {
        sso_access_token: Some("sso-cached-access-token".into()),
        ..CredentialEndpoints::default()
    })
    .await;
    let pod = Pod::new(&spicepod(&[entry("m", TITAN, &emulator, "")]));
    pod.write(
        "home/.aws/config",
        &format!(
            "[profile sso-dev]\nsso_session = corp\nsso_account_id = {ACCOUNT}\nsso_role_name = BedrockUser\nregion = us-east-1\n\n\
             [sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n\
             sso_registration_scopes = sso:account:access\n\n\
             [profile sso-legacy]\nsso_start_url = https://legacy.awsapps.com/start\nsso_region = us-east-1\n\
             sso_account_id = {ACCOUNT}\nsso_role_name = BedrockLegacy\nregion = us-east-1\n"
        ),
    );
    // What `aws sso login` leaves behind (the token provider reads it by session name, the
    // legacy provider by start URL).
    pod.write(
        &sso_cache_file("corp"),
        r#"{"startUrl": "https://corp.awsapps.com/start", "region": "us-east-1", "accessToken": "sso-cached-access-token",
            "expiresAt": "2099-01-01T00:00:00Z", "clientId": "client-id", "clientSecret": "client-secret",
            "registrationExpiresAt": "2099-01-01T00:00:00Z", "refreshToken": "refresh-token"}"#,
    );
    pod.write(
        &sso_cache_file("https://legacy.awsapps.com/start"),
        r#"{"startUrl": "https://legacy.awsapps.com/start", "region": "us-east-1", "accessToken": "sso-cached-access-token",
            "expiresAt": "2099-01-01T00:00:00Z"}"#,
    );
    let sso = emulator.endpoint_url();

    pod.embed(
        "m",
        &[("AWS_PROFILE", "sso-dev"), ("AWS_ENDPOINT_URL_SSO", &sso)],
    )
    .await
    .assert_ok();
    assert_signed_by_issued(&emulator, IssuedBy::Sso);
    assert_eq!(
        last_issued_role(&emulator).as_deref(),
        Some("123456789012/BedrockUser")
    );
    // The start-up check's credentials served the call: one GetRoleCredentials per run.
    assert_eq!(emulator.issued_credentials().len(), 1);

    pod.embed(
        "m",
        &[
            ("AWS_PROFILE", "sso-legacy"),
            ("AWS_ENDPOINT_URL_SSO", &sso),
        ],
    )
    .await
    .assert_ok();
    assert_signed_by_issued(&emulator, IssuedBy::Sso);
    assert_eq!(
        last_issued_role(&emulator).as_deref(),
        Some("123456789012/BedrockLegacy")
    );
    assert_eq!(emulator.issued_credentials().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bedrock_api_key_from_aws_bearer_token_bedrock() {
    let emulator = bedrock_emulator::spawn(
        Config::new()
            .with_credentials(DECOY_KEY_ID, DECOY_SECRET)
            .with_api_key("bedrock-api-key-ABSKexample"),
    )
    .await
    .unwrap();
    let pod = Pod::new(&spicepod(&[entry("m", TITAN, &emulator, "")]));
    let env = [("AWS_BEARER_TOKEN_BEDROCK", "bedrock-api-key-ABSKexample")];
    pod.embed("m", &env).await.assert_ok();
    let last = last_accepted(&emulator);
    assert_eq!(last.auth, "bearer");
    let out = pod.check(&env).await;
    out.assert_ok();
    assert!(
        out.stdout
            .contains("Bedrock API key in environment variable AWS_BEARER_TOKEN_BEDROCK"),
        "{}",
        out.stdout
    );
}

// ---------------------------------------------------------------- failures that name the fix

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_credentials_anywhere_fails_check_embed_and_run_with_one_message() {
    let emulator = emulator_with(CredentialEndpoints::default()).await;
    let pod = Pod::new(&spicepod(&[entry("m", TITAN, &emulator, "")]));
    let spicepod = pod.path("spicepod.yaml");
    let spicepod = spicepod.to_str().unwrap();
    for args in [
        vec!["check", "--spicepod", spicepod],
        vec!["embed", "--spicepod", spicepod, "--model", "m", "text"],
        vec!["run", "--spicepod", spicepod, "--http", "127.0.0.1:0"],
    ] {
        let out = pod.run(&args, &[]).await;
        out.assert_failed();
        let all = out.all();
        assert_eq!(
            all.matches("no AWS credentials found").count(),
            1,
            "one message from {args:?}:\n{all}"
        );
        for source in [
            "aws_access_key_id/aws_secret_access_key",
            "AWS_ACCESS_KEY_ID",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_PROFILE",
            "SSO",
            "AWS_WEB_IDENTITY_TOKEN_FILE",
            "AWS_CONTAINER_CREDENTIALS",
            "IMDSv2",
            "aws_profile",
            "AWS_BEARER_TOKEN_BEDROCK",
        ] {
            assert!(
                all.contains(source),
                "{args:?}: the message names {source}:\n{all}"
            );
        }
        assert!(
            !out.stdout.contains("listening"),
            "{args:?} must not start serving"
        );
    }
    assert!(emulator.requests().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_session_credentials_say_so_and_where_they_came_from() {
    // A credentials endpoint handing out credentials that already expired: caught at start-up.
    let emulator = emulator_with(CredentialEndpoints {
        ecs: true,
        issue_expired: true,
        ..CredentialEndpoints::default()
    })
    .await;
    let pod = Pod::new(&spicepod(&[entry("m", TITAN, &emulator, "")]));
    let url = emulator.ecs_credentials_url();
    let out = pod
        .check(&[("AWS_CONTAINER_CREDENTIALS_FULL_URI", &url)])
        .await;
    out.assert_failed();
    assert!(out.stderr.contains("expired"), "{}", out.stderr);
    assert!(
        out.stderr.contains("container credentials"),
        "{}",
        out.stderr
    );

    // A session token Bedrock says expired: caught on the call, naming the environment.
    let bedrock = bedrock_emulator::spawn(
        Config::new()
            .with_credentials(
                "ASIAEXPIREDENV000001",
                "expired/env/secret/00000000000000000000",
            )
            .with_session_token("stale-session-token")
            .with_expired_session_token("stale-session-token"),
    )
    .await
    .unwrap();
    let pod = Pod::new(&spicepod(&[entry("m", TITAN, &bedrock, "")]));
    let out = pod
        .embed(
            "m",
            &[
                ("AWS_ACCESS_KEY_ID", "ASIAEXPIREDENV000001"),
                (
                    "AWS_SECRET_ACCESS_KEY",
                    "expired/env/secret/00000000000000000000",
                ),
                ("AWS_SESSION_TOKEN", "stale-session-token"),
            ],
        )
        .await;
    out.assert_failed();
    assert!(out.stderr.contains("have expired"), "{}", out.stderr);
    assert!(out.stderr.contains("environment"), "{}", out.stderr);
}

// ---------------------------------------------------------------- secret hygiene

/// The secret values of the hygiene tests: none may appear in any output.
const SECRETS: &[&str] = &[
    "hygiene/params/secret/value/00000000001",
    "hygiene-params-session-token-0001",
    "hygiene/env/secret/value/000000000000002",
    "hygiene-env-session-token-0002",
    "hygiene/wrong/secret/value/000000000003",
    "hygiene-bearer-api-key-0004",
    "hygiene-server-api-key-0005",
];

fn assert_no_secret(what: &str, text: &str) {
    for secret in SECRETS {
        assert!(!text.contains(secret), "{what} leaks a secret:\n{text}");
    }
}

/// One emulator accepting the params keys; a pod with a good model (params from .env), a model
/// signed from the environment, and one whose secret is wrong (its calls fail).
async fn hygiene_setup() -> (Emulator, Pod, Vec<(&'static str, &'static str)>) {
    let emulator = bedrock_emulator::spawn(
        Config::new()
            .with_credentials("ASIAHYGIENEPARAMS001", SECRETS[0])
            .with_session_token(SECRETS[1])
            .add_credentials(
                bedrock_emulator::Credential::new("ASIAHYGIENEENV000001", SECRETS[2])
                    .with_session_token(SECRETS[3]),
            ),
    )
    .await
    .unwrap();
    let text = spicepod(&[
        entry(
            "good",
            TITAN,
            &emulator,
            "      aws_access_key_id: ${ secrets:P_KEY }\n      aws_secret_access_key: ${ secrets:P_SECRET }\n      \
             aws_session_token: ${ secrets:P_TOKEN }\n",
        ),
        entry("from-env", COHERE, &emulator, ""),
        entry(
            "wrong",
            TITAN,
            &emulator,
            "      aws_access_key_id: ASIAHYGIENEPARAMS001\n      aws_secret_access_key: ${ secrets:W_SECRET }\n      \
             aws_session_token: ${ secrets:P_TOKEN }\n",
        ),
    ]) + "runtime:\n  auth:\n    api-key:\n      keys:\n        - ${ secrets:SERVER_KEY }\n";
    let pod = Pod::new(&text).with_dotenv(&format!(
        "P_KEY=ASIAHYGIENEPARAMS001\nP_SECRET={}\nP_TOKEN={}\nW_SECRET={}\nSERVER_KEY={}\n",
        SECRETS[0], SECRETS[1], SECRETS[4], SECRETS[6]
    ));
    let env = vec![
        ("AWS_ACCESS_KEY_ID", "ASIAHYGIENEENV000001"),
        ("AWS_SECRET_ACCESS_KEY", SECRETS[2]),
        ("AWS_SESSION_TOKEN", SECRETS[3]),
        ("BEDROCK_EMBED_LOG", "debug"),
    ];
    (emulator, pod, env)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_appear_in_no_cli_output_even_at_debug_level() {
    let (emulator, pod, env) = hygiene_setup().await;
    let out = pod.check(&env).await;
    out.assert_ok();
    assert!(
        out.stderr.contains("DEBUG"),
        "debug logging is on:\n{}",
        out.stderr
    );
    assert_no_secret("check", &out.all());

    for model in ["good", "from-env"] {
        let out = pod.embed(model, &env).await;
        out.assert_ok();
        assert_no_secret(model, &out.all());
    }
    let out = pod.embed("wrong", &env).await;
    out.assert_failed();
    assert!(out.stderr.contains("InvalidSignature"), "{}", out.stderr);
    assert_no_secret("a rejected call", &out.all());
    assert_eq!(emulator.requests().len(), 3);

    // A Bedrock API key in the environment, and `codecs`.
    let mut with_key = env.clone();
    with_key.push(("AWS_BEARER_TOKEN_BEDROCK", SECRETS[5]));
    let out = pod.run(&["codecs"], &with_key).await;
    out.assert_ok();
    assert_no_secret("codecs", &out.all());
    let out = pod.run(&["codecs", "--json"], &with_key).await;
    out.assert_ok();
    assert_no_secret("codecs --json", &out.all());
}

/// `bedrock-embed run` on an ephemeral port; its stdout/stderr are collected until it is killed.
struct Server {
    child: tokio::process::Child,
    url: String,
    stderr: tokio::task::JoinHandle<String>,
    stdout: tokio::task::JoinHandle<String>,
}

impl Server {
    async fn start(pod: &Pod, env: &[(&str, &str)]) -> Server {
        let spicepod = pod.path("spicepod.yaml");
        let mut child = pod
            .command(
                &[
                    "run",
                    "--spicepod",
                    spicepod.to_str().unwrap(),
                    "--http",
                    "127.0.0.1:0",
                ],
                env,
            )
            .spawn()
            .expect("spawning bedrock-embed run");
        let mut stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let stderr = child.stderr.take().unwrap();
        let stderr = tokio::spawn(async move {
            let mut all = String::new();
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        let first = tokio::time::timeout(CHILD_TIMEOUT, stdout.next_line())
            .await
            .expect("run printed its address in time")
            .unwrap();
        let Some(url) = first
            .as_deref()
            .and_then(|l| l.strip_prefix("bedrock-embed listening on "))
            .map(str::to_owned)
        else {
            let _ = child.kill().await;
            panic!("run did not start: {first:?}\n{}", stderr.await.unwrap());
        };
        let stdout = tokio::spawn(async move {
            let mut all = format!("{}\n", first.unwrap_or_default());
            while let Ok(Some(line)) = stdout.next_line().await {
                all.push_str(&line);
                all.push('\n');
            }
            all
        });
        Server {
            child,
            url,
            stderr,
            stdout,
        }
    }

    /// Kills the server and returns everything it printed.
    async fn stop(mut self) -> String {
        let _ = self.child.kill().await;
        format!(
            "{}\n{}",
            self.stdout.await.unwrap(),
            self.stderr.await.unwrap()
        )
    }
}

async fn post_embeddings(
    client: &reqwest::Client,
    server: &Server,
    key: &str,
    model: &str,
) -> (u16, String) {
    let resp = client
        .post(format!("{}/v1/embeddings", server.url))
        .bearer_auth(key)
        .json(&serde_json::json!({"model": model, "input": ["hello credentials"]}))
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.text().await.unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_appear_in_no_http_body_metrics_or_server_log() {
    let (_emulator, pod, env) = hygiene_setup().await;
    let server = Server::start(&pod, &env).await;
    let client = reqwest::Client::new();
    let key = SECRETS[6];

    let (status, body) = post_embeddings(&client, &server, key, "good").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post_embeddings(&client, &server, key, "from-env").await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = post_embeddings(&client, &server, key, "wrong").await;
    assert_eq!(status, 502, "{body}");
    // The client gets what it can act on and the request id; which param to fix is the
    // operator's, in the log under that id (checked below).
    let error: Value = serde_json::from_str(&body).unwrap();
    let wrong_id = error["error"]["request_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a request id in the 502: {body}"))
        .to_string();
    assert!(
        !body.contains("aws_secret_access_key"),
        "the param name is the operator's detail: {body}"
    );
    assert_no_secret("a 502 body", &body);
    // Whatever the API-key check answers (`run` does not enforce runtime.auth yet), the body
    // holds no secret.
    let (_, body) = post_embeddings(&client, &server, "not-the-key", "good").await;
    assert_no_secret("a body answering a wrong API key", &body);
    for path in ["/metrics", "/v1/models", "/health", "/v1/ready"] {
        let resp = client
            .get(format!("{}{path}", server.url))
            .bearer_auth(key)
            .send()
            .await
            .unwrap();
        let body = resp.text().await.unwrap();
        assert_no_secret(path, &body);
    }
    let output = server.stop().await;
    assert!(output.contains("DEBUG"), "debug logging is on:\n{output}");
    let line = output
        .lines()
        .find(|l| l.contains(&wrong_id))
        .unwrap_or_else(|| panic!("no log line with {wrong_id}:\n{output}"));
    assert!(
        line.contains("aws_secret_access_key"),
        "the log names the param to fix: {line}"
    );
    assert_no_secret("the server's output", &output);
}

// ---------------------------------------------------------------- permissions

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_model_the_policy_denies_answers_an_actionable_502_and_the_others_keep_working() {
    let emulator = bedrock_emulator::spawn(Config::new().with_allowed_models([format!(
        "arn:aws:bedrock:us-east-1::foundation-model/{TITAN}"
    )]))
    .await
    .unwrap();
    let keys = format!(
        "      aws_region: us-east-1\n      aws_access_key_id: {}\n      aws_secret_access_key: ${{ secrets:SECRET }}\n",
        emulator.access_key_id()
    );
    let pod = Pod::new(&spicepod(&[
        entry("titan", TITAN, &emulator, &keys),
        entry("cohere", COHERE, &emulator, &keys),
    ]))
    .with_dotenv(&format!("SECRET={}\n", emulator.secret_access_key()));
    let server = Server::start(&pod, &[]).await;
    let client = reqwest::Client::new();

    let (status, body) = post_embeddings(&client, &server, "", "cohere").await;
    assert_eq!(status, 502, "{body}");
    let error: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(error["error"]["code"], "bedrock_access_denied", "{body}");
    let request_id = error["error"]["request_id"]
        .as_str()
        .unwrap_or_else(|| panic!("a request id in the 502: {body}"))
        .to_string();
    // The client hears that retrying will not help and where the detail is; the IAM action
    // and ARN to grant are the operator's.
    let message = error["error"]["message"].as_str().unwrap();
    assert!(message.contains("not allowed to invoke"), "{message}");
    assert!(message.contains("request id"), "{message}");
    let arn = format!("arn:aws:bedrock:us-east-1::foundation-model/{COHERE}");
    assert!(
        !message.contains("bedrock:InvokeModel") && !message.contains(&arn),
        "{message}"
    );

    for _ in 0..2 {
        let (status, body) = post_embeddings(&client, &server, "", "titan").await;
        assert_eq!(status, 200, "{body}");
    }
    let output = server.stop().await;
    // The operator's log line, under the client's request id, says what to grant.
    let line = output
        .lines()
        .find(|l| l.contains(&request_id))
        .unwrap_or_else(|| panic!("no log line with {request_id}:\n{output}"));
    assert!(
        line.contains("bedrock:InvokeModel") && line.contains(&arn),
        "{line}"
    );
    // Denied once, not retried.
    let denied = emulator
        .requests()
        .iter()
        .filter(|r| r.status == 403)
        .count();
    assert_eq!(denied, 1);
}

// ---------------------------------------------------------------- what a guest can read

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codecs_receive_no_aws_params_and_no_secret() {
    use bedrock_embed::models::{self, BuildOptions};
    use bedrock_embed::spicepod::Spicepod;

    // The embedder hands a codec exactly `Model::params` (encode and decode); build the models
    // the way `run` does and look at what that holds.
    let emulator = emulator_accepting("ASIAGUESTPARAMS00001", SECRETS[0], Some(SECRETS[1])).await;
    let text = spicepod(&[entry(
        "m",
        TITAN,
        &emulator,
        "      aws_region: us-east-1\n      aws_profile: ignored\n      \
         aws_access_key_id: ${ secrets:KEY }\n      aws_secret_access_key: ${ secrets:SECRET }\n      \
         aws_session_token: ${ secrets:TOKEN }\n      max_concurrent_invocations: 4\n      \
         requests_per_min_limit: 600\n      normalize: \"false\"\n",
    )]);
    let secrets = std::collections::HashMap::from([
        ("KEY".to_string(), "ASIAGUESTPARAMS00001".to_string()),
        ("SECRET".to_string(), SECRETS[0].to_string()),
        ("TOKEN".to_string(), SECRETS[1].to_string()),
    ]);
    let pod = Spicepod::parse(&text, std::path::Path::new("spicepod.yaml"), &secrets).unwrap();
    let registry = bedrock_embed_tests::codecs::loaded().registry.clone();
    let options = BuildOptions {
        check_credentials: true,
        ..BuildOptions::default()
    };
    let (built, _) = models::build(&pod.spicepod, &registry, &options)
        .await
        .unwrap();
    let params: Vec<(String, String)> = built[0]
        .params
        .iter()
        .map(|p| (p.name.clone(), p.value.clone()))
        .collect();
    assert_eq!(
        params,
        [
            ("dimensions".to_string(), "256".to_string()),
            ("normalize".to_string(), "false".to_string())
        ],
        "only the codec's own params"
    );
    for (name, value) in &params {
        assert!(!name.starts_with("aws_"));
        assert_no_secret("a codec param", value);
        assert!(!value.contains("ASIAGUESTPARAMS00001"));
    }
}
