//! Where a model's credentials come from, as printable text that never holds a secret.

use std::fmt;
use std::sync::{Arc, OnceLock};

use aws_credential_types::Credentials;
use aws_credential_types::credential_feature::AwsCredentialFeature;

/// What supplies a model's credentials, printable (never holds a secret value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CredentialsKind {
    /// `aws_access_key_id` / `aws_secret_access_key` (+ `aws_session_token`) params.
    Params {
        origins: String,
        session_token: bool,
    },
    /// The `aws_profile` param.
    Profile { name: String },
    /// The SDK default chain; `profile` is the one it reads (AWS_PROFILE, else `default`).
    DefaultChain {
        profile: String,
        profile_from_env: bool,
    },
    /// A Bedrock API key (`Authorization: Bearer`) from the environment.
    BearerToken { env_var: &'static str },
}

/// What the provider reported once credentials were resolved ([`super::check_credentials`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Resolved {
    /// e.g. "environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY".
    pub(crate) via: Option<String>,
    pub(crate) account_id: Option<String>,
}

/// A printable description of where a model's credentials come from. Clones share what
/// [`super::check_credentials`] learns (which provider of the chain answered, the account id).
#[derive(Debug, Clone)]
pub struct CredentialsSource {
    kind: CredentialsKind,
    resolved: Arc<OnceLock<Resolved>>,
}

impl CredentialsSource {
    pub fn new(kind: CredentialsKind) -> Self {
        Self {
            kind,
            resolved: Arc::default(),
        }
    }

    pub fn kind(&self) -> &CredentialsKind {
        &self.kind
    }

    /// Which provider of the chain supplied the credentials, once resolved.
    pub fn resolved_via(&self) -> Option<&str> {
        self.resolved.get().and_then(|r| r.via.as_deref())
    }

    /// The AWS account of the credentials, when the provider reported it.
    pub fn account_id(&self) -> Option<&str> {
        self.resolved.get().and_then(|r| r.account_id.as_deref())
    }

    pub(crate) fn record(&self, credentials: &Credentials) {
        let via = describe_features(credentials, self.profile_name());
        let account_id = credentials.account_id().map(|a| a.as_str().to_owned());
        // First resolution wins; later ones would say the same.
        let _ = self.resolved.set(Resolved { via, account_id });
    }

    fn profile_name(&self) -> &str {
        match &self.kind {
            CredentialsKind::Profile { name } => name,
            CredentialsKind::DefaultChain { profile, .. } => profile,
            _ => "default",
        }
    }

    /// What to check when the keys are rejected: names the param, profile or variable.
    pub fn fix_hint(&self) -> String {
        match &self.kind {
            // Every message with this hint already names where the keys came from.
            CredentialsKind::Params { .. } => {
                "check the aws_access_key_id/aws_secret_access_key params of the model".to_owned()
            }
            CredentialsKind::Profile { name } => format!(
                "check profile `{name}` (aws_profile param) in ~/.aws/credentials or ~/.aws/config, \
                 or refresh it (`aws sso login --profile {name}`, `aws configure --profile {name}`)"
            ),
            CredentialsKind::BearerToken { env_var } => format!(
                "check the Bedrock API key in {env_var} (short-term keys expire after at most 12 hours), \
                 or unset it to sign with AWS credentials"
            ),
            CredentialsKind::DefaultChain { profile, .. } => {
                let via = self.resolved_via().unwrap_or_default();
                if via.starts_with("environment") {
                    "check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) in the environment".to_owned()
                } else if via.contains("SSO") {
                    format!("run `aws sso login --profile {profile}`")
                } else if via.contains("instance metadata") {
                    "check the IAM role attached to this EC2 instance".to_owned()
                } else if via.contains("container") {
                    "check the task or pod role (AWS_CONTAINER_CREDENTIALS_*)".to_owned()
                } else if via.contains("web identity") {
                    "check AWS_ROLE_ARN and AWS_WEB_IDENTITY_TOKEN_FILE".to_owned()
                } else {
                    format!(
                        "check profile `{profile}` in ~/.aws/credentials or ~/.aws/config, \
                         or set the aws_access_key_id/aws_secret_access_key or aws_profile params"
                    )
                }
            }
        }
    }
}

impl PartialEq for CredentialsSource {
    fn eq(&self, other: &Self) -> bool {
        self.kind == other.kind
    }
}

impl fmt::Display for CredentialsSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            CredentialsKind::Params {
                origins,
                session_token,
            } => {
                let token = if *session_token {
                    "/aws_session_token"
                } else {
                    ""
                };
                write!(
                    f,
                    "params aws_access_key_id/aws_secret_access_key{token} ({origins})"
                )?;
            }
            CredentialsKind::Profile { name } => write!(f, "profile `{name}` (aws_profile param)")?,
            CredentialsKind::BearerToken { env_var } => {
                write!(f, "Bedrock API key in environment variable {env_var}")?
            }
            CredentialsKind::DefaultChain {
                profile,
                profile_from_env,
            } => {
                let which = if *profile_from_env {
                    " from AWS_PROFILE"
                } else {
                    ""
                };
                write!(
                    f,
                    "default chain (environment, shared config/credentials files with profile \
                     `{profile}`{which}, SSO, web identity, ECS, EC2 IMDSv2)"
                )?;
            }
        }
        if let Some(via) = self.resolved_via() {
            write!(f, ", supplied by {via}")?;
        }
        Ok(())
    }
}

/// Human names of the credential features the SDK providers tag their credentials with.
fn describe_features(credentials: &Credentials, profile: &str) -> Option<String> {
    let features = credentials.get_property::<Vec<AwsCredentialFeature>>()?;
    let mut parts: Vec<String> = Vec::new();
    for feature in features {
        let part = match feature {
            AwsCredentialFeature::CredentialsEnvVars => {
                "environment variables AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY".to_owned()
            }
            AwsCredentialFeature::CredentialsProfile => format!("keys of profile `{profile}`"),
            AwsCredentialFeature::CredentialsProfileSourceProfile => {
                format!("source_profile of profile `{profile}`")
            }
            AwsCredentialFeature::CredentialsStsAssumeRole => {
                "STS AssumeRole (role_arn)".to_owned()
            }
            AwsCredentialFeature::CredentialsProfileSso | AwsCredentialFeature::CredentialsSso => {
                format!("SSO session of profile `{profile}`")
            }
            AwsCredentialFeature::CredentialsProfileProcess
            | AwsCredentialFeature::CredentialsProcess => {
                format!("credential_process of profile `{profile}`")
            }
            AwsCredentialFeature::CredentialsEnvVarsStsWebIdToken
            | AwsCredentialFeature::CredentialsStsAssumeRoleWebId
            | AwsCredentialFeature::CredentialsProfileStsWebIdToken => {
                "web identity (AWS_WEB_IDENTITY_TOKEN_FILE + AWS_ROLE_ARN)".to_owned()
            }
            AwsCredentialFeature::CredentialsHttp => {
                "container credentials endpoint (ECS / EKS Pod Identity)".to_owned()
            }
            AwsCredentialFeature::CredentialsImds => "EC2 instance metadata (IMDSv2)".to_owned(),
            AwsCredentialFeature::CredentialsProfileLogin
            | AwsCredentialFeature::CredentialsLogin => {
                format!("`aws login` session of profile `{profile}`")
            }
            _ => continue,
        };
        if !parts.contains(&part) {
            parts.push(part);
        }
    }
    (!parts.is_empty()).then(|| parts.join(" via "))
}
