//! `bedrock-emulator`: a local Amazon Bedrock Runtime (embedding models) on 127.0.0.1.
//!
//! Prints exactly one line to stdout once bound — `bedrock-emulator listening on http://ADDR` —
//! and logs to stderr (`RUST_LOG` filters, default `info`). SIGINT/SIGTERM: graceful exit 0.

use bedrock_emulator::faults::{FaultConfig, parse_model_spec};
use bedrock_emulator::{Config, Credential, CredentialEndpoints, ErrorCode};
use clap::Parser;
use std::io::Write;
use std::net::SocketAddr;
use std::time::Duration;

fn parse_rate(s: &str) -> Result<f64, String> {
    let v: f64 = s.parse().map_err(|e| format!("{e}"))?;
    if (0.0..=1.0).contains(&v) {
        Ok(v)
    } else {
        Err(format!("{v} is not between 0 and 1"))
    }
}

/// `HOST:PORT`, `:PORT` (127.0.0.1) or a bare `PORT` (127.0.0.1).
fn parse_listen(s: &str) -> Result<SocketAddr, String> {
    let t = s.trim();
    let full = if let Some(port) = t.strip_prefix(':') {
        format!("127.0.0.1:{port}")
    } else if t.bytes().all(|b| b.is_ascii_digit()) && !t.is_empty() {
        format!("127.0.0.1:{t}")
    } else {
        t.to_string()
    };
    full.parse()
        .map_err(|e| format!("{s:?} is not HOST:PORT, :PORT or PORT ({e})"))
}

/// `ARN=MODEL` for --application-inference-profile.
fn parse_application_profile(s: &str) -> Result<(String, String), String> {
    let (arn, model) = s.split_once('=').ok_or_else(|| {
        format!("{s:?} is not ARN=MODEL (e.g. arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc=amazon.titan-embed-text-v2:0)")
    })?;
    let (arn, model) = (arn.trim(), model.trim());
    bedrock_emulator::model_id::check_application_profile(arn, model)?;
    Ok((arn.to_string(), model.to_string()))
}

/// A whole number of tokens above zero.
fn parse_tokens(s: &str) -> Result<u64, String> {
    match s.trim().parse::<u64>() {
        Ok(0) => Err("0 would throttle every call; leave the flag out for no token quota".into()),
        Ok(n) => Ok(n),
        Err(e) => Err(format!("{s:?} is not a whole number of tokens ({e})")),
    }
}

fn parse_model_fault(s: &str) -> Result<(String, FaultConfig), String> {
    parse_model_spec(s).map_err(|e| e.to_string())
}

/// A local Amazon Bedrock Runtime: real wire (restJson1, SigV4), deterministic embeddings,
/// fault injection and a stats view.
///
/// Models: amazon.titan-embed-text-v1, amazon.titan-embed-text-v2:0, amazon.titan-embed-image-v1,
/// cohere.embed-english-v3, cohere.embed-multilingual-v3, cohere.embed-v4:0,
/// amazon.nova-2-multimodal-embeddings-v1:0 — as plain ids, geo/global inference-profile ids
/// (us., eu., apac., global., ...) and foundation-model / inference-profile ARNs.
///
/// Endpoints: POST /model/{modelId}/invoke; GET /_emulator/stats; GET /_emulator/requests;
/// POST /_emulator/reset; GET|PUT /_emulator/faults (JSON {"default": {...}, "models": {...}});
/// GET /_emulator/credentials (issued session credentials, credential endpoint calls);
/// GET /_emulator/health. With the credential endpoint flags, also IMDSv2 (/latest/...), the
/// container credentials endpoint, STS (POST /) and the SSO portal (/federation/credentials),
/// whose session credentials Bedrock then accepts.
///
/// Point a client at it with e.g. AWS_ENDPOINT_URL_BEDROCK_RUNTIME=http://127.0.0.1:9917,
/// AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE, AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
/// and any region.
#[derive(Debug, Parser)]
#[command(
    name = "bedrock-emulator",
    version,
    about,
    long_about,
    max_term_width = 100
)]
struct Cli {
    /// Address to listen on: HOST:PORT, :PORT or PORT (host 127.0.0.1). Port 0 picks a free
    /// port; the address is printed on stdout as `bedrock-emulator listening on http://ADDR`.
    #[arg(long, env = "BEDROCK_EMULATOR_LISTEN", default_value = "127.0.0.1:9917", value_parser = parse_listen)]
    listen: SocketAddr,

    /// Access key id accepted in SigV4 signatures.
    #[arg(long, env = "BEDROCK_EMULATOR_ACCESS_KEY_ID", default_value = bedrock_emulator::DEFAULT_ACCESS_KEY_ID)]
    access_key_id: String,

    /// Secret access key the signatures are checked with.
    #[arg(long, env = "BEDROCK_EMULATOR_SECRET_ACCESS_KEY", default_value = bedrock_emulator::DEFAULT_SECRET_ACCESS_KEY, hide_env_values = true)]
    secret_access_key: String,

    /// Session token the requests must carry (X-Amz-Security-Token) with these credentials;
    /// without it, requests must carry none.
    #[arg(long, env = "BEDROCK_EMULATOR_SESSION_TOKEN", hide_env_values = true)]
    session_token: Option<String>,

    /// A session token answered with ExpiredTokenException (403). Repeatable.
    #[arg(long, value_name = "TOKEN")]
    expired_session_token: Vec<String>,

    /// Accept this Bedrock API key as `Authorization: Bearer KEY`. Repeatable.
    #[arg(
        long,
        env = "BEDROCK_EMULATOR_API_KEY",
        value_name = "KEY",
        hide_env_values = true
    )]
    api_key: Vec<String>,

    /// Accept every request without checking credentials or signatures.
    #[arg(long)]
    no_auth: bool,

    /// Largest accepted difference, in seconds, between X-Amz-Date and the clock
    /// (InvalidSignatureException "Signature expired" beyond it).
    #[arg(long, default_value_t = 300, value_name = "SECS")]
    max_clock_skew_secs: u64,

    /// Require this region in the SigV4 credential scope (default: any region).
    #[arg(long)]
    region: Option<String>,

    /// Region for the ARNs of calls whose auth names none (bearer).
    #[arg(long, default_value = bedrock_emulator::DEFAULT_REGION)]
    default_region: String,

    /// Account id in made-up ARNs and messages.
    #[arg(long, default_value = bedrock_emulator::DEFAULT_ACCOUNT_ID)]
    account_id: String,

    /// Only models whose resource ARN matches one of these patterns (`*`, `?`) may be invoked;
    /// others get AccessDeniedException naming bedrock:InvokeModel. Repeatable. A plain id is
    /// checked as arn:aws:bedrock:REGION::foundation-model/ID, a profile id as
    /// arn:aws:bedrock:REGION:ACCOUNT:inference-profile/ID. Default: all allowed.
    #[arg(long, value_name = "ARN_PATTERN")]
    allow_model: Vec<String>,

    /// Make an application inference profile ARN invocable, routed to MODEL (a model id above,
    /// optionally with a geo prefix): ARN=MODEL. Unknown application profile ARNs answer
    /// ValidationException, as on Bedrock. Repeatable.
    #[arg(long, value_parser = parse_application_profile, value_name = "ARN=MODEL")]
    application_inference_profile: Vec<(String, String)>,

    /// Per-model tokens-per-minute quota: input tokens accepted per model id in a sliding 60 s
    /// window; past it, ThrottlingException "Too many tokens, please wait before trying
    /// again.". Inference-profile ids are counted apart from the on-demand model, as on
    /// Bedrock. Default: no token quota.
    #[arg(long, value_parser = parse_tokens, value_name = "N")]
    tokens_per_minute: Option<u64>,

    /// Seed of the fault draws: a fixed seed repeats the same faults for the same calls.
    #[arg(long, env = "BEDROCK_EMULATOR_SEED", default_value_t = bedrock_emulator::DEFAULT_SEED)]
    seed: u64,

    /// Fraction of calls answered ThrottlingException (429).
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate, value_name = "RATE")]
    throttle_rate: f64,

    /// Fraction of calls answered InternalServerException (500).
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate, value_name = "RATE")]
    internal_error_rate: f64,

    /// Fraction of calls answered ServiceUnavailableException (503).
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate, value_name = "RATE")]
    unavailable_rate: f64,

    /// Fraction of calls answered ModelNotReadyException (429).
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate, value_name = "RATE")]
    model_not_ready_rate: f64,

    /// Fraction of calls answered ModelTimeoutException (408).
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate, value_name = "RATE")]
    model_timeout_rate: f64,

    /// Fraction of calls whose connection is reset (TCP RST, no answer).
    #[arg(long, default_value_t = 0.0, value_parser = parse_rate, value_name = "RATE")]
    reset_rate: f64,

    /// Latency added to every call, in milliseconds.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    latency_ms: u64,

    /// Extra latency drawn uniformly from [0, MS] per call.
    #[arg(long, default_value_t = 0, value_name = "MS")]
    jitter_ms: u64,

    /// Answer every call with this error, e.g. AccessDeniedException or ServiceQuotaExceeded.
    #[arg(long, value_name = "ERROR_CODE")]
    fail_with: Option<ErrorCode>,

    /// Faults for one model, replacing the global ones for it: MODEL@key=value,... with keys
    /// throttle, internal, unavailable, not-ready, timeout, reset (rates), latency-ms, jitter-ms,
    /// always (an error code). MODEL is the id as sent or its foundation-model id.
    /// Example: --model-fault 'cohere.embed-v4:0@throttle=0.5,latency-ms=20'. Repeatable.
    #[arg(long, value_parser = parse_model_fault, value_name = "SPEC")]
    model_fault: Vec<(String, FaultConfig)>,

    /// Serve EC2 instance metadata, IMDSv2 only, with this instance role: PUT /latest/api/token,
    /// then GET /latest/meta-data/iam/security-credentials/[ROLE] with the token (token-less
    /// IMDSv1 requests get 401). Point AWS_EC2_METADATA_SERVICE_ENDPOINT at the emulator.
    #[arg(long, value_name = "ROLE", help_heading = "Credential endpoints")]
    imds_role: Option<String>,

    /// Serve the ECS / EKS container credentials endpoint at /_emulator/ecs/credentials
    /// (AWS_CONTAINER_CREDENTIALS_FULL_URI=http://ADDR/_emulator/ecs/credentials).
    #[arg(long, help_heading = "Credential endpoints")]
    ecs: bool,

    /// Require this Authorization header on the container credentials endpoint (what
    /// AWS_CONTAINER_AUTHORIZATION_TOKEN holds). Implies --ecs.
    #[arg(
        long,
        value_name = "TOKEN",
        hide_env_values = true,
        help_heading = "Credential endpoints"
    )]
    ecs_authorization: Option<String>,

    /// Serve STS at POST /: AssumeRole (SigV4, service sts, signed with accepted or issued keys)
    /// and AssumeRoleWithWebIdentity. Point AWS_ENDPOINT_URL_STS at the emulator.
    #[arg(long, help_heading = "Credential endpoints")]
    sts: bool,

    /// Accept only this web identity token in AssumeRoleWithWebIdentity (default: any
    /// non-empty one). Implies --sts.
    #[arg(long, value_name = "TOKEN", help_heading = "Credential endpoints")]
    web_identity_token: Option<String>,

    /// Serve the SSO portal (GET /federation/credentials, GetRoleCredentials), accepting this
    /// cached access token. Point AWS_ENDPOINT_URL_SSO at the emulator.
    #[arg(long, value_name = "TOKEN", help_heading = "Credential endpoints")]
    sso_access_token: Option<String>,

    /// Lifetime of the session credentials the credential endpoints issue.
    #[arg(
        long,
        default_value_t = 3600,
        value_name = "SECS",
        help_heading = "Credential endpoints"
    )]
    credentials_lifetime_secs: u64,

    /// Issue session credentials that have already expired (Bedrock then answers
    /// ExpiredTokenException), to test expiry handling.
    #[arg(long, help_heading = "Credential endpoints")]
    issue_expired_credentials: bool,

    /// Calls kept on the stats timeline (recent_calls).
    #[arg(long, default_value_t = bedrock_emulator::config::DEFAULT_CALL_LOG_CAPACITY, value_name = "N")]
    call_log_capacity: usize,

    /// Invocations kept in the request log (/_emulator/requests).
    #[arg(long, default_value_t = bedrock_emulator::config::DEFAULT_REQUEST_LOG_CAPACITY, value_name = "N")]
    request_log_capacity: usize,
}

impl Cli {
    fn into_config(self) -> Config {
        let mut cred = Credential::new(self.access_key_id, self.secret_access_key);
        cred.session_token = self.session_token;
        let mut config = Config {
            listen: self.listen,
            credentials: vec![cred],
            expired_session_tokens: self.expired_session_token,
            api_keys: self.api_key,
            verify_auth: !self.no_auth,
            max_clock_skew: Duration::from_secs(self.max_clock_skew_secs),
            required_region: self.region,
            default_region: self.default_region,
            account_id: self.account_id,
            allowed_models: (!self.allow_model.is_empty()).then_some(self.allow_model),
            application_profiles: self.application_inference_profile.into_iter().collect(),
            tokens_per_minute: self.tokens_per_minute,
            seed: self.seed,
            call_log_capacity: self.call_log_capacity,
            request_log_capacity: self.request_log_capacity,
            credential_endpoints: CredentialEndpoints {
                imds_role: self.imds_role,
                ecs: self.ecs || self.ecs_authorization.is_some(),
                ecs_authorization: self.ecs_authorization,
                sts: self.sts || self.web_identity_token.is_some(),
                web_identity_token: self.web_identity_token,
                sso_access_token: self.sso_access_token,
                lifetime: Duration::from_secs(self.credentials_lifetime_secs),
                issue_expired: self.issue_expired_credentials,
            },
            ..Config::default()
        };
        config.faults.default = FaultConfig {
            throttle_rate: self.throttle_rate,
            internal_error_rate: self.internal_error_rate,
            unavailable_rate: self.unavailable_rate,
            model_not_ready_rate: self.model_not_ready_rate,
            model_timeout_rate: self.model_timeout_rate,
            reset_rate: self.reset_rate,
            latency_ms: self.latency_ms,
            jitter_ms: self.jitter_ms,
            always: self.fail_with,
        };
        config.faults.models.extend(self.model_fault);
        config
    }
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let config = Cli::parse().into_config();
    let emulator = bedrock_emulator::spawn(config).await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "bedrock-emulator listening on {}",
            emulator.endpoint_url()
        )?;
        out.flush()?;
    }
    wait_for_signal().await;
    tracing::info!("signal received, shutting down");
    emulator.shutdown().await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_and_faults() {
        let c = Cli::try_parse_from(["bedrock-emulator"])
            .unwrap()
            .into_config();
        assert_eq!(c.listen.port(), bedrock_emulator::DEFAULT_PORT);
        assert_eq!(
            c.credentials[0].access_key_id,
            bedrock_emulator::DEFAULT_ACCESS_KEY_ID
        );
        assert!(c.faults.default.is_none());
        let c = Cli::try_parse_from([
            "bedrock-emulator",
            "--listen",
            "127.0.0.1:0",
            "--throttle-rate",
            "0.2",
            "--fail-with",
            "AccessDenied",
            "--model-fault",
            "cohere.embed-v4:0@throttle=0.5",
        ])
        .unwrap()
        .into_config();
        assert_eq!(c.faults.default.throttle_rate, 0.2);
        assert_eq!(
            c.faults.default.always,
            Some(ErrorCode::AccessDeniedException)
        );
        assert_eq!(c.faults.models["cohere.embed-v4:0"].throttle_rate, 0.5);
        assert!(Cli::try_parse_from(["bedrock-emulator", "--throttle-rate", "1.5"]).is_err());
        for (arg, want) in [
            (":0", "127.0.0.1:0"),
            ("8080", "127.0.0.1:8080"),
            ("0.0.0.0:1", "0.0.0.0:1"),
        ] {
            let c = Cli::try_parse_from(["bedrock-emulator", "--listen", arg])
                .unwrap()
                .into_config();
            assert_eq!(c.listen.to_string(), want);
        }
        assert!(Cli::try_parse_from(["bedrock-emulator", "--listen", "nope"]).is_err());
    }

    #[test]
    fn token_quota_and_application_profiles() {
        let arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/p1";
        let c = Cli::try_parse_from([
            "bedrock-emulator",
            "--tokens-per-minute",
            "20000",
            "--application-inference-profile",
            &format!("{arn}=amazon.titan-embed-text-v2:0"),
        ])
        .unwrap()
        .into_config();
        assert_eq!(c.tokens_per_minute, Some(20_000));
        assert_eq!(c.application_profiles[arn], "amazon.titan-embed-text-v2:0");
        assert!(Cli::try_parse_from(["bedrock-emulator", "--tokens-per-minute", "0"]).is_err());
        assert!(Cli::try_parse_from(["bedrock-emulator", "--tokens-per-minute", "1.5"]).is_err());
        for bad in [
            arn.to_string(),
            format!("{arn}=nope"),
            "x=amazon.titan-embed-text-v2:0".into(),
        ] {
            assert!(
                Cli::try_parse_from(["bedrock-emulator", "--application-inference-profile", &bad])
                    .is_err(),
                "{bad}"
            );
        }
    }
}
