//! Emulator configuration (library and CLI share it).

use crate::credentials::CredentialEndpoints;
use crate::faults::{FaultConfig, FaultSettings};
use crate::model_id::{self, ApplicationProfiles};
use std::net::{Ipv4Addr, SocketAddr};
use std::time::Duration;

/// The CLI's default port: `--listen` defaults to `127.0.0.1:9917`.
pub const DEFAULT_PORT: u16 = 9917;
/// Default accepted access key id (the AWS documentation example key).
pub const DEFAULT_ACCESS_KEY_ID: &str = "AKIAIOSFODNN7EXAMPLE";
/// Default accepted secret access key (the AWS documentation example key).
pub const DEFAULT_SECRET_ACCESS_KEY: &str = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY";
/// Region used for ARNs when the request does not name one (bearer auth).
pub const DEFAULT_REGION: &str = "us-east-1";
/// Account id used in the ARNs and messages the emulator makes up.
pub const DEFAULT_ACCOUNT_ID: &str = "123456789012";
/// Default seed of the fault draws.
pub const DEFAULT_SEED: u64 = 42;
/// Allowed difference between the request's `X-Amz-Date` and the emulator's clock (as AWS).
pub const DEFAULT_MAX_CLOCK_SKEW: Duration = Duration::from_secs(300);
/// Calls kept on the stats timeline.
pub const DEFAULT_CALL_LOG_CAPACITY: usize = 10_000;
/// Requests kept in the request log.
pub const DEFAULT_REQUEST_LOG_CAPACITY: usize = 1_000;

/// A set of AWS credentials the emulator accepts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    pub access_key_id: String,
    pub secret_access_key: String,
    /// When set, requests with this key id must carry this `X-Amz-Security-Token`.
    pub session_token: Option<String>,
}

impl Credential {
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        Self {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
        }
    }

    pub fn with_session_token(mut self, token: impl Into<String>) -> Self {
        self.session_token = Some(token.into());
        self
    }
}

impl Default for Credential {
    fn default() -> Self {
        Self::new(DEFAULT_ACCESS_KEY_ID, DEFAULT_SECRET_ACCESS_KEY)
    }
}

/// Everything the emulator can be told. `Default` gives the documented defaults: listen on
/// `127.0.0.1:0` (an ephemeral port; the CLI uses [`DEFAULT_PORT`]), accept
/// [`DEFAULT_ACCESS_KEY_ID`]/[`DEFAULT_SECRET_ACCESS_KEY`], seed [`DEFAULT_SEED`], no faults.
#[derive(Clone, Debug)]
pub struct Config {
    pub listen: SocketAddr,
    /// Accepted SigV4 credentials (at least one, unless `verify_auth` is false).
    pub credentials: Vec<Credential>,
    /// Session tokens answered with `ExpiredTokenException`.
    pub expired_session_tokens: Vec<String>,
    /// Accepted Bedrock API keys (`Authorization: Bearer <key>`); empty: bearer auth refused.
    pub api_keys: Vec<String>,
    /// False: accept any request, signed or not (signatures are not checked).
    pub verify_auth: bool,
    /// Largest accepted difference between `X-Amz-Date` and now.
    pub max_clock_skew: Duration,
    /// When set, the credential scope's region must be this one.
    pub required_region: Option<String>,
    /// Region for ARNs when the request names none (bearer auth).
    pub default_region: String,
    /// Account id in made-up ARNs and messages.
    pub account_id: String,
    /// When set, only model resources matching one of these ARN patterns (`*`, `?` wildcards)
    /// may be invoked; others get `AccessDeniedException` naming `bedrock:InvokeModel`.
    /// A plain id is checked as `arn:aws:bedrock:REGION::foundation-model/ID`, a profile id as
    /// `arn:aws:bedrock:REGION:ACCOUNT:inference-profile/ID`, an ARN as itself.
    pub allowed_models: Option<Vec<String>>,
    /// Application inference profiles that exist: ARN → the model they route to. Invoking
    /// an ARN not listed answers ValidationException, as Bedrock does for an unknown one.
    pub application_profiles: ApplicationProfiles,
    /// Input tokens per model per sliding 60 s window; past it, ThrottlingException "Too many
    /// tokens, please wait before trying again." (the per-model tokens-per-minute quota Bedrock
    /// enforces). `None`: no token quota.
    pub tokens_per_minute: Option<u64>,
    /// Seed of the fault draws.
    pub seed: u64,
    /// Fault injection, globally and per model.
    pub faults: FaultSettings,
    /// The emulated credential endpoints (IMDSv2, ECS, STS, SSO); all off by default.
    pub credential_endpoints: CredentialEndpoints,
    /// Calls kept on the stats timeline (`recent_calls`).
    pub call_log_capacity: usize,
    /// Requests kept in the request log.
    pub request_log_capacity: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
            credentials: vec![Credential::default()],
            expired_session_tokens: Vec::new(),
            api_keys: Vec::new(),
            verify_auth: true,
            max_clock_skew: DEFAULT_MAX_CLOCK_SKEW,
            required_region: None,
            default_region: DEFAULT_REGION.to_string(),
            account_id: DEFAULT_ACCOUNT_ID.to_string(),
            allowed_models: None,
            application_profiles: ApplicationProfiles::new(),
            tokens_per_minute: None,
            seed: DEFAULT_SEED,
            faults: FaultSettings::default(),
            credential_endpoints: CredentialEndpoints::default(),
            call_log_capacity: DEFAULT_CALL_LOG_CAPACITY,
            request_log_capacity: DEFAULT_REQUEST_LOG_CAPACITY,
        }
    }
}

impl Config {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_listen(mut self, addr: SocketAddr) -> Self {
        self.listen = addr;
        self
    }

    /// Replaces the accepted credentials with this one pair.
    pub fn with_credentials(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.credentials = vec![Credential::new(access_key_id, secret_access_key)];
        self
    }

    /// Requires this session token with the first accepted credentials.
    pub fn with_session_token(mut self, token: impl Into<String>) -> Self {
        if self.credentials.is_empty() {
            self.credentials.push(Credential::default());
        }
        self.credentials[0].session_token = Some(token.into());
        self
    }

    /// Accepts one more set of credentials.
    pub fn add_credentials(mut self, credential: Credential) -> Self {
        self.credentials.push(credential);
        self
    }

    /// Answers this session token with `ExpiredTokenException`.
    pub fn with_expired_session_token(mut self, token: impl Into<String>) -> Self {
        self.expired_session_tokens.push(token.into());
        self
    }

    /// Accepts this Bedrock API key as `Authorization: Bearer`.
    pub fn with_api_key(mut self, key: impl Into<String>) -> Self {
        self.api_keys.push(key.into());
        self
    }

    /// Turns authentication off (any request accepted).
    pub fn without_auth(mut self) -> Self {
        self.verify_auth = false;
        self
    }

    pub fn with_max_clock_skew(mut self, skew: Duration) -> Self {
        self.max_clock_skew = skew;
        self
    }

    pub fn with_required_region(mut self, region: impl Into<String>) -> Self {
        self.required_region = Some(region.into());
        self
    }

    /// Restricts invocable models to these ARN patterns.
    pub fn with_allowed_models<I, S>(mut self, patterns: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.allowed_models = Some(patterns.into_iter().map(Into::into).collect());
        self
    }

    /// Makes an application inference profile ARN invocable, routed to `model` (a model id,
    /// optionally geo-prefixed). Checked by [`Config::validate`].
    pub fn with_application_profile(
        mut self,
        arn: impl Into<String>,
        model: impl Into<String>,
    ) -> Self {
        self.application_profiles.insert(arn.into(), model.into());
        self
    }

    /// Limits every model to `tokens` input tokens per sliding 60 s window.
    pub fn with_tokens_per_minute(mut self, tokens: u64) -> Self {
        self.tokens_per_minute = Some(tokens);
        self
    }

    pub fn with_seed(mut self, seed: u64) -> Self {
        self.seed = seed;
        self
    }

    /// Faults for every model without its own entry.
    pub fn with_faults(mut self, faults: FaultConfig) -> Self {
        self.faults.default = faults;
        self
    }

    /// Faults for one model (id as sent, or its foundation-model id), replacing the default.
    pub fn with_model_faults(mut self, model: impl Into<String>, faults: FaultConfig) -> Self {
        self.faults.models.insert(model.into(), faults);
        self
    }

    /// Serves the credential endpoints as configured.
    pub fn with_credential_endpoints(mut self, endpoints: CredentialEndpoints) -> Self {
        self.credential_endpoints = endpoints;
        self
    }

    /// Serves IMDSv2 with this instance role.
    pub fn with_imds(mut self, role: impl Into<String>) -> Self {
        self.credential_endpoints.imds_role = Some(role.into());
        self
    }

    /// Serves the container credentials endpoint, requiring `authorization` when given.
    pub fn with_ecs(mut self, authorization: Option<String>) -> Self {
        self.credential_endpoints.ecs = true;
        self.credential_endpoints.ecs_authorization = authorization;
        self
    }

    /// Serves STS (AssumeRole, AssumeRoleWithWebIdentity; the latter accepting only
    /// `web_identity_token` when given).
    pub fn with_sts(mut self, web_identity_token: Option<String>) -> Self {
        self.credential_endpoints.sts = true;
        self.credential_endpoints.web_identity_token = web_identity_token;
        self
    }

    /// Serves the SSO portal, accepting this access token.
    pub fn with_sso(mut self, access_token: impl Into<String>) -> Self {
        self.credential_endpoints.sso_access_token = Some(access_token.into());
        self
    }

    pub fn with_call_log_capacity(mut self, n: usize) -> Self {
        self.call_log_capacity = n;
        self
    }

    pub fn with_request_log_capacity(mut self, n: usize) -> Self {
        self.request_log_capacity = n;
        self
    }

    /// Checks the configuration.
    pub fn validate(&self) -> anyhow::Result<()> {
        if self.verify_auth && self.credentials.is_empty() && self.api_keys.is_empty() {
            anyhow::bail!("no credentials and no API key accepted: every request would be refused");
        }
        for c in &self.credentials {
            if c.access_key_id.is_empty() || c.secret_access_key.is_empty() {
                anyhow::bail!("empty access key id or secret access key");
            }
        }
        for (arn, target) in &self.application_profiles {
            model_id::check_application_profile(arn, target).map_err(anyhow::Error::msg)?;
        }
        if self.tokens_per_minute == Some(0) {
            anyhow::bail!(
                "tokens per minute is 0: every call would be throttled; leave it unset for no token quota"
            );
        }
        self.faults.validate()?;
        Ok(())
    }
}
