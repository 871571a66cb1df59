//! One Bedrock Runtime client per model: credentials, region, endpoint, timeouts, no SDK retries.

use std::fmt;
use std::time::Duration;

use aws_config::profile::ProfileFileCredentialsProvider;
#[allow(deprecated)]
use aws_config::profile::profile_file::ProfileFiles;
use aws_config::provider_config::ProviderConfig;
use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, ConfigLoader, SdkConfig};
use aws_credential_types::Credentials;
use aws_credential_types::provider::SharedCredentialsProvider;
use aws_sdk_bedrockruntime::Client;
use aws_smithy_http_client::tls;
use aws_smithy_runtime_api::client::auth::AuthSchemeId;
use aws_smithy_runtime_api::client::http::SharedHttpClient;
use aws_types::os_shim_internal::{Env, Fs};
use aws_types::region::Region;
use aws_types::service_config::ServiceConfigKey;

use super::AwsError;
use super::primed::Primed;
use super::source::{CredentialsKind, CredentialsSource};
use crate::spicepod::AwsParams;

/// The region used when neither the `aws_region` param nor the chain (AWS_REGION, profile) names one.
pub const DEFAULT_REGION: &str = "us-east-1";
/// `Credentials::provider_name` of the keys given as params.
pub(crate) const STATIC_PROVIDER_NAME: &str = "bedrock-embed-params";
/// The env var the SDK reads a Bedrock API key from (`AWS_BEARER_TOKEN` + `_` + service id).
pub const BEARER_TOKEN_ENV: &str = "AWS_BEARER_TOKEN_BEDROCK";
/// The SDK falls back to the service-less name too (aws-runtime `EnvConfigValue::load`).
const BEARER_TOKEN_ENV_GLOBAL: &str = "AWS_BEARER_TOKEN";

/// HTTP timeouts of every InvokeModel attempt.
///
/// Defaults: `connect_timeout` 5 s (TCP + TLS to a regional endpoint takes well under 1 s; 5 s
/// survives one lost SYN), `read_timeout` 60 s to the first response byte (embedding calls answer
/// in 0.05–3 s; Bedrock itself gives up on a slow model with ModelTimeoutException), and
/// `attempt_timeout` 90 s for a whole attempt, reading a ~1 MB Cohere response included.
/// A timed-out attempt is a transient failure: the host's retry loop decides what happens next.
///
/// `pool_idle_timeout` 20 s: how long a connection to Bedrock stays pooled unused (the SDK's
/// default is hyper's 90 s). After a burst at a high `max_concurrent_invocations` the host holds
/// one connection per invocation that was in flight, each with its read buffer (up to ~400 KB
/// after a ~1 MB Cohere answer); they close 20 s after the burst, and their memory goes back.
/// Steady traffic keeps reusing them, so it pays no new handshakes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsOptions {
    pub connect_timeout: Duration,
    pub read_timeout: Duration,
    pub attempt_timeout: Duration,
    pub pool_idle_timeout: Duration,
}

impl Default for AwsOptions {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            read_timeout: Duration::from_secs(60),
            attempt_timeout: Duration::from_secs(90),
            pool_idle_timeout: Duration::from_secs(20),
        }
    }
}

impl AwsOptions {
    fn timeout_config(&self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .connect_timeout(self.connect_timeout)
            .read_timeout(self.read_timeout)
            .operation_attempt_timeout(self.attempt_timeout)
            .operation_timeout(self.attempt_timeout)
            .build()
    }

    /// The SDK's own HTTP client (hyper, rustls with aws-lc, as its default one) with the idle
    /// pool bounded. One per model client, as the default one would be.
    fn http_client(&self) -> SharedHttpClient {
        aws_smithy_http_client::Builder::new()
            .pool_idle_timeout(self.pool_idle_timeout)
            .tls_provider(tls::Provider::Rustls(
                tls::rustls_provider::CryptoMode::AwsLc,
            ))
            .build_https()
    }
}

/// Where the region came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RegionSource {
    /// The `aws_region` param.
    Param,
    /// The SDK chain: AWS_REGION / AWS_DEFAULT_REGION, the profile's `region`, IMDS.
    Chain,
    /// Nothing named one: [`DEFAULT_REGION`].
    Default,
}

impl fmt::Display for RegionSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Param => "aws_region param",
            Self::Chain => "AWS_REGION or the profile",
            Self::Default => "default, nothing else set it",
        })
    }
}

/// Everything the host needs to call Bedrock for one model.
#[derive(Debug, Clone)]
pub struct ModelAws {
    pub client: Client,
    pub region: String,
    pub region_source: RegionSource,
    /// The endpoint override in effect (param, AWS_ENDPOINT_URL_BEDROCK_RUNTIME, AWS_ENDPOINT_URL
    /// or a profile's `endpoint_url`); `None` = the regional AWS endpoint.
    pub endpoint: Option<String>,
    pub credentials_source: CredentialsSource,
    /// The SigV4 credentials provider the client uses (`None` with a Bedrock API key).
    pub(crate) credentials_provider: Option<SharedCredentialsProvider>,
}

impl ModelAws {
    /// The endpoint for messages: the override, else the regional default.
    pub fn endpoint_display(&self) -> String {
        match &self.endpoint {
            Some(url) => url.clone(),
            None => format!("https://bedrock-runtime.{}.amazonaws.com", self.region),
        }
    }
}

/// Where the AWS configuration is read from: the environment, the file system and, when set,
/// the shared config/credentials files to read instead of `~/.aws/*`. [`load`] uses the real
/// ones; the aws/ unit tests pass a fake environment and file system through this same code
/// path, so they never probe IMDS nor mutate the process environment. (`ConfigLoader::env`/`fs`
/// need aws-config's `test-util` feature, enabled for the product for exactly this.)
#[derive(Clone, Debug)]
pub(crate) struct Sources {
    pub(crate) env: Env,
    pub(crate) fs: Fs,
    #[allow(deprecated)]
    pub(crate) profile_files: Option<ProfileFiles>,
}

impl Sources {
    pub(crate) fn real() -> Self {
        Self {
            env: Env::real(),
            fs: Fs::real(),
            profile_files: None,
        }
    }

    fn apply_to_loader(&self, loader: ConfigLoader) -> ConfigLoader {
        let loader = loader.env(self.env.clone()).fs(self.fs.clone());
        match &self.profile_files {
            Some(files) => loader.profile_files(files.clone()),
            None => loader,
        }
    }

    fn apply_to_profile(
        &self,
        builder: aws_config::profile::credentials::Builder,
    ) -> aws_config::profile::credentials::Builder {
        match &self.profile_files {
            Some(files) => builder.profile_files(files.clone()),
            None => builder,
        }
    }
}

/// Builds the Bedrock Runtime client of one model from its `aws_*` params.
///
/// Credentials: explicit keys (+ session token) → static; else `aws_profile` → that profile
/// (which also supplies the region and other settings); else the SDK default chain (env, shared
/// files + AWS_PROFILE, SSO, web identity, ECS, IMDSv2) — or, when no param chose credentials
/// and `AWS_BEARER_TOKEN_BEDROCK` is set, the SDK's own Bedrock API key (bearer) support.
/// Region: param, else the chain, else [`DEFAULT_REGION`]. Endpoint: param, else what the SDK
/// reads itself (AWS_ENDPOINT_URL_BEDROCK_RUNTIME, AWS_ENDPOINT_URL, profile `endpoint_url`).
/// SDK retries are off: the host retries over its limiter.
///
/// Resolves no credentials (see [`super::check_credentials`]); with no `aws_region` it may ask
/// IMDS for the region, like every SDK.
pub async fn load(params: &AwsParams, options: &AwsOptions) -> Result<ModelAws, AwsError> {
    load_with(params, options, &Sources::real()).await
}

pub(crate) async fn load_with(
    params: &AwsParams,
    options: &AwsOptions,
    sources: &Sources,
) -> Result<ModelAws, AwsError> {
    let explicit = static_credentials(params)?;
    let region_param = params
        .region
        .as_deref()
        .map(str::trim)
        .filter(|r| !r.is_empty());

    let first = loader(params, options, sources, explicit.as_ref(), region_param)
        .load()
        .await;
    let (sdk, region_source) = match (region_param, first.region()) {
        (Some(_), _) => (first, RegionSource::Param),
        (None, Some(_)) => (first, RegionSource::Chain),
        // Load again so the credential providers (STS, SSO) see the region too.
        (None, None) => {
            let sdk = loader(
                params,
                options,
                sources,
                explicit.as_ref(),
                Some(DEFAULT_REGION),
            )
            .load()
            .await;
            (sdk, RegionSource::Default)
        }
    };
    let region = sdk
        .region()
        .map_or_else(|| DEFAULT_REGION.to_owned(), |r| r.to_string());

    let mut conf = aws_sdk_bedrockruntime::config::Builder::from(&sdk);
    let (credentials_source, credentials_provider) = if let Some(explicit) = explicit {
        let source = CredentialsKind::Params {
            origins: explicit.origins,
            session_token: explicit.session_token,
        };
        (source, sdk.credentials_provider())
    } else if let Some(name) = profile_param(params) {
        let provider_config =
            ProviderConfig::without_region().with_region(Some(Region::new(region.clone())));
        let builder = ProfileFileCredentialsProvider::builder()
            .profile_name(name)
            .configure(&provider_config);
        let provider = Primed::shared(SharedCredentialsProvider::new(
            sources.apply_to_profile(builder).build(),
        ));
        conf = conf.credentials_provider(provider.clone());
        (
            CredentialsKind::Profile {
                name: name.to_owned(),
            },
            Some(provider),
        )
    } else if let Some(env_var) = bearer_token_var(&sdk, &sources.env) {
        (CredentialsKind::BearerToken { env_var }, None)
    } else {
        let (profile, profile_from_env) = match sources.env.get("AWS_PROFILE") {
            Ok(p) if !p.trim().is_empty() => (p, true),
            _ => ("default".to_owned(), false),
        };
        // The chain may call STS, SSO, a container endpoint or IMDS: the start-up check's
        // answer serves the first request instead of a second round trip.
        let provider = sdk.credentials_provider().map(Primed::shared);
        if let Some(provider) = &provider {
            conf = conf.credentials_provider(provider.clone());
        }
        (
            CredentialsKind::DefaultChain {
                profile,
                profile_from_env,
            },
            provider,
        )
    };

    let endpoint = params
        .endpoint_url
        .clone()
        .or_else(|| service_endpoint(&sdk))
        .or_else(|| sdk.endpoint_url().map(str::to_owned));

    Ok(ModelAws {
        client: Client::from_conf(conf.build()),
        region,
        region_source,
        endpoint,
        credentials_source: CredentialsSource::new(credentials_source),
        credentials_provider,
    })
}

fn loader(
    params: &AwsParams,
    options: &AwsOptions,
    sources: &Sources,
    explicit: Option<&StaticKeys>,
    region: Option<&str>,
) -> ConfigLoader {
    let mut loader = aws_config::defaults(BehaviorVersion::latest())
        // Every attempt must pass the host's limiter: the host retries, the SDK does not.
        .retry_config(RetryConfig::disabled())
        .timeout_config(options.timeout_config())
        .http_client(options.http_client());
    if let Some(region) = region {
        loader = loader.region(Region::new(region.to_owned()));
    }
    if let Some(url) = &params.endpoint_url {
        loader = loader.endpoint_url(url.clone());
    }
    let profile = profile_param(params);
    if let Some(name) = profile {
        // Region, endpoint and other settings come from that profile too.
        loader = loader.profile_name(name);
    }
    if let Some(keys) = explicit {
        loader = loader.credentials_provider(keys.credentials.clone());
    } else if profile.is_some() {
        // The profile's provider is set on the client; skip building the default chain.
        loader = loader.no_credentials();
    }
    if explicit.is_some() || profile.is_some() {
        // Params beat the environment: with keys or a profile given, sign with SigV4 even when
        // AWS_BEARER_TOKEN_BEDROCK is set (the SDK prefers the bearer token unless the auth
        // scheme preference was set in code).
        loader = loader.auth_scheme_preference([AuthSchemeId::new("sigv4")]);
    }
    sources.apply_to_loader(loader)
}

fn profile_param(params: &AwsParams) -> Option<&str> {
    params
        .profile
        .as_deref()
        .map(str::trim)
        .filter(|p| !p.is_empty())
}

struct StaticKeys {
    credentials: Credentials,
    origins: String,
    session_token: bool,
}

fn static_credentials(params: &AwsParams) -> Result<Option<StaticKeys>, AwsError> {
    let (key, secret) = match (&params.access_key_id, &params.secret_access_key) {
        (Some(key), Some(secret)) => (key, secret),
        (None, None) if params.session_token.is_some() => {
            return Err(AwsError::IncompleteKeys(
                "aws_session_token is set without aws_access_key_id and aws_secret_access_key"
                    .to_owned(),
            ));
        }
        (None, None) => return Ok(None),
        (Some(key), None) => {
            return Err(AwsError::IncompleteKeys(format!(
                "aws_access_key_id is set ({}) but aws_secret_access_key is not",
                key.origin()
            )));
        }
        (None, Some(secret)) => {
            return Err(AwsError::IncompleteKeys(format!(
                "aws_secret_access_key is set ({}) but aws_access_key_id is not",
                secret.origin()
            )));
        }
    };
    let mut origins: Vec<&str> = vec![key.origin(), secret.origin()];
    if let Some(token) = &params.session_token {
        origins.push(token.origin());
    }
    origins.dedup();
    let credentials = Credentials::new(
        key.expose(),
        secret.expose(),
        params.session_token.as_ref().map(|t| t.expose().to_owned()),
        None,
        STATIC_PROVIDER_NAME,
    );
    Ok(Some(StaticKeys {
        credentials,
        origins: origins.join("; "),
        session_token: params.session_token.is_some(),
    }))
}

/// The env var a Bedrock API key would be read from, looked up exactly as the generated
/// `aws_sdk_bedrockruntime::config::Builder::from(&SdkConfig)` does (service config key
/// `bedrock` / `AWS_BEARER_TOKEN`: `AWS_BEARER_TOKEN_BEDROCK`, else `AWS_BEARER_TOKEN`).
fn bearer_token_var(sdk: &SdkConfig, env: &Env) -> Option<&'static str> {
    let key = ServiceConfigKey::builder()
        .service_id("bedrock")
        .env("AWS_BEARER_TOKEN")
        .profile("")
        .build()
        .ok()?;
    sdk.service_config()?.load_config(key)?;
    Some(if env.get(BEARER_TOKEN_ENV).is_ok() {
        BEARER_TOKEN_ENV
    } else {
        BEARER_TOKEN_ENV_GLOBAL
    })
}

/// The service-specific endpoint the generated client reads (AWS_ENDPOINT_URL_BEDROCK_RUNTIME or
/// a `[services]` section), for display only: the client resolves it by itself.
fn service_endpoint(sdk: &SdkConfig) -> Option<String> {
    let key = ServiceConfigKey::builder()
        .service_id("Bedrock Runtime")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .ok()?;
    sdk.service_config()?.load_config(key)
}
