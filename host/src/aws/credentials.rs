//! Resolving credentials once at start-up, so `check` and `run` fail early with the fix.

use std::time::SystemTime;

use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;
use aws_smithy_types::date_time::{DateTime, Format};

use super::classify::error_chain;
use super::client::ModelAws;
use super::source::{CredentialsKind, CredentialsSource};

/// The sources of the default chain, in the order the SDK tries them, for the no-credentials error.
pub const SOURCES_TRIED: &[&str] = &[
    "params aws_access_key_id/aws_secret_access_key (not set for this model)",
    "environment AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN)",
    "shared files ~/.aws/credentials and ~/.aws/config (AWS_SHARED_CREDENTIALS_FILE, \
     AWS_CONFIG_FILE), profile from AWS_PROFILE or `default`: static keys, role_arn + \
     source_profile, credential_process",
    "SSO (sso_session / sso_start_url in that profile; needs `aws sso login`)",
    "web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN)",
    "ECS / EKS container credentials (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI or _FULL_URI)",
    "EC2 instance metadata IMDSv2 (instance role; off when AWS_EC2_METADATA_DISABLED=true)",
];

const HOW_TO_PROVIDE: &str = "Provide keys with the model params \
    `aws_access_key_id: ${ secrets:AWS_ACCESS_KEY_ID }` and \
    `aws_secret_access_key: ${ secrets:AWS_SECRET_ACCESS_KEY }` (values in .env), or \
    `aws_profile: NAME`, or export AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, or run \
    `aws configure` / `aws sso login`; a Bedrock API key works too (AWS_BEARER_TOKEN_BEDROCK).";

/// Errors of loading AWS settings and credentials. Messages never contain a secret value.
#[derive(Debug, thiserror::Error)]
pub enum AwsError {
    /// Keys given as params only in part.
    #[error("{0}")]
    IncompleteKeys(String),

    /// The default chain found nothing.
    #[error("{}", no_credentials_message(detail))]
    NoCredentials { detail: String },

    /// The `aws_profile` param names a profile that gave no credentials.
    #[error(
        "profile `{profile}` (aws_profile param) gave no AWS credentials: {detail}. Check \
         [profile {profile}] in ~/.aws/config or [{profile}] in ~/.aws/credentials \
         (AWS_CONFIG_FILE / AWS_SHARED_CREDENTIALS_FILE move them), or run \
         `aws sso login --profile {profile}` for an SSO profile"
    )]
    ProfileCredentials { profile: String, detail: String },

    /// Credentials were found but are past their expiry.
    #[error("the AWS credentials from {from} expired at {expired_at}: {hint}")]
    Expired {
        from: String,
        expired_at: String,
        hint: String,
    },

    /// A provider failed (bad config, STS/SSO error, timeout).
    #[error("loading AWS credentials from {from} failed: {detail}")]
    CredentialsFailed { from: String, detail: String },
}

fn no_credentials_message(detail: &str) -> String {
    let mut text = String::from("no AWS credentials found. Sources tried, in order:");
    for (i, source) in SOURCES_TRIED.iter().enumerate() {
        text.push_str(&format!("\n  {}. {source}", i + 1));
    }
    text.push('\n');
    text.push_str(HOW_TO_PROVIDE);
    if !detail.is_empty() {
        text.push_str(&format!("\n(SDK: {detail})"));
    }
    text
}

/// Resolves the model's credentials once — no Bedrock call — so `check` and `run` fail before
/// the first request. Records which provider answered in `aws.credentials_source`.
///
/// With a Bedrock API key there is nothing to resolve (the key is only checked by Bedrock).
pub async fn check_credentials(aws: &ModelAws) -> Result<(), AwsError> {
    let source = &aws.credentials_source;
    let Some(provider) = &aws.credentials_provider else {
        return Ok(());
    };
    match provider.provide_credentials().await {
        Ok(credentials) => {
            source.record(&credentials);
            if let Some(expiry) = credentials.expiry()
                && expiry <= SystemTime::now()
            {
                return Err(AwsError::Expired {
                    from: source.to_string(),
                    expired_at: format_time(expiry),
                    hint: source.fix_hint(),
                });
            }
            Ok(())
        }
        Err(err) => Err(credentials_error(source, &err)),
    }
}

/// Maps a provider failure to the error that names the fix.
pub(crate) fn credentials_error(source: &CredentialsSource, err: &CredentialsError) -> AwsError {
    let detail = error_chain(err);
    match (err, source.kind()) {
        (CredentialsError::CredentialsNotLoaded(_), CredentialsKind::Profile { name }) => {
            AwsError::ProfileCredentials {
                profile: name.clone(),
                detail,
            }
        }
        (CredentialsError::CredentialsNotLoaded(_), _) => AwsError::NoCredentials { detail },
        _ => AwsError::CredentialsFailed {
            from: source.to_string(),
            detail,
        },
    }
}

fn format_time(t: SystemTime) -> String {
    DateTime::from(t)
        .fmt(Format::DateTime)
        .unwrap_or_else(|_| format!("{t:?}"))
}
