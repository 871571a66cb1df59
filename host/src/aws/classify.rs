//! What an InvokeModel failure means: retry or not, and the message that names the fix.

use std::error::Error;
use std::fmt;

use aws_credential_types::provider::error::CredentialsError;
use aws_sdk_bedrockruntime::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::operation::RequestId;
use aws_sdk_bedrockruntime::operation::invoke_model::InvokeModelError;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use super::arn;
use super::source::{CredentialsKind, CredentialsSource};

/// The kind of an InvokeModel failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FailureKind {
    /// ThrottlingException, HTTP 429.
    Throttled,
    /// ModelNotReadyException (429): Bedrock is loading the model.
    ModelNotReady,
    /// InternalServerException, ServiceUnavailableException, 500/502/503/504, connection
    /// failures, unreadable responses.
    Transient,
    /// The attempt ran out of time on this side (the SDK's attempt or operation timeout, a
    /// connect or read timeout): no answer from Bedrock.
    Timeout,
    /// ValidationException (400).
    Validation,
    /// ServiceQuotaExceededException (400).
    ServiceQuota,
    /// AccessDeniedException (403): the identity lacks `bedrock:InvokeModel` or model access.
    AccessDenied,
    /// The keys were rejected: UnrecognizedClientException, InvalidSignatureException,
    /// ExpiredTokenException, IncompleteSignature, MissingAuthenticationToken.
    Auth,
    /// The SDK could not load credentials for the call.
    Credentials,
    /// ResourceNotFoundException (404).
    NotFound,
    /// ModelErrorException (424).
    ModelError,
    /// ModelTimeoutException (408).
    ModelTimeout,
    Other,
}

impl FailureKind {
    /// Whether trying again may succeed: throttling, a model still loading, transient server
    /// and connection failures, timeouts on either side (ModelTimeoutException's message says
    /// "Try your request again"). Never 400 (validation, quota), 401/403 (keys, access), 404 or
    /// 424 (the model itself failed).
    pub fn retryable(self) -> bool {
        matches!(
            self,
            Self::Throttled
                | Self::ModelNotReady
                | Self::Transient
                | Self::Timeout
                | Self::ModelTimeout
        )
    }

    /// Bedrock asked us to slow down (or wait for the model): counted as a throttle.
    pub fn is_throttle(self) -> bool {
        matches!(self, Self::Throttled | Self::ModelNotReady)
    }

    /// The failure is about what the request asked for (its inputs or options), not about this
    /// server, its credentials or Bedrock's health: another request may well succeed.
    pub fn is_input_fault(self) -> bool {
        matches!(self, Self::Validation)
    }
}

/// A classified InvokeModel failure. Holds no secret: codes, Bedrock's message, ids, status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvokeFailure {
    pub kind: FailureKind,
    /// Bedrock's error code (`x-amzn-ErrorType` without the namespace), e.g. `ThrottlingException`.
    pub code: Option<String>,
    /// Bedrock's message.
    pub message: Option<String>,
    pub request_id: Option<String>,
    pub status: Option<u16>,
    /// For failures without a Bedrock answer (timeouts, connection errors): what happened.
    pub detail: Option<String>,
    /// ModelErrorException's `originalStatusCode`.
    pub original_status_code: Option<i32>,
}

impl InvokeFailure {
    /// Whether the host may try again (after backoff, through the limiter, within the retry
    /// budget): see [`FailureKind::retryable`].
    pub fn retryable(&self) -> bool {
        self.kind.retryable()
    }

    fn code_is(&self, names: &[&str]) -> bool {
        self.code.as_deref().is_some_and(|c| names.contains(&c))
    }

    fn bedrock_says(&self) -> String {
        let mut what = String::new();
        if let Some(code) = &self.code {
            what.push_str(code);
        }
        if let Some(status) = self.status {
            if what.is_empty() {
                what = format!("HTTP {status}");
            } else {
                what.push_str(&format!(" (HTTP {status})"));
            }
        }
        match (&self.message, &self.detail) {
            (Some(m), _) if !m.is_empty() => {
                if what.is_empty() {
                    m.clone()
                } else {
                    format!("{what}: {m}")
                }
            }
            (_, Some(d)) if what.is_empty() => d.clone(),
            (_, Some(d)) => format!("{what}: {d}"),
            _ if what.is_empty() => "no details".to_owned(),
            _ => what,
        }
    }

    /// A message for the user that names the fix. `credentials` is where the model's keys come
    /// from (only its description is printed, never a secret).
    pub fn user_message(
        &self,
        model_name: &str,
        model_id: &str,
        region: &str,
        credentials: &CredentialsSource,
    ) -> String {
        let model = format!("model `{model_name}` (bedrock:{model_id})");
        let says = self.bedrock_says();
        let mut text = match self.kind {
            FailureKind::ModelNotReady => format!(
                "{model} is not ready yet in {region} ({says}); Bedrock is loading it, try again shortly"
            ),
            FailureKind::Throttled => format!(
                "Bedrock throttled {model} in {region} and the retries ran out ({says}). Lower \
                 requests_per_min_limit or max_concurrent_invocations for this model to stay under \
                 the account quota, or ask for a higher InvokeModel requests-per-minute quota for \
                 {model_id} in Service Quotas ({region})"
            ),
            FailureKind::Transient => format!(
                "Bedrock did not answer {model} at {region} and the retries ran out ({says})"
            ),
            FailureKind::Timeout => format!(
                "Bedrock did not answer {model} at {region} in time and the retries ran out ({says})"
            ),
            FailureKind::Validation => format!(
                "Bedrock rejected the request for {model} ({says}). Check the model id \
                 `{model_id}` and the model's params in spicepod.yaml (the codec builds the \
                 request body from them), and the size of the inputs"
            ),
            FailureKind::ServiceQuota => format!(
                "a Bedrock service quota was exceeded for {model} in {region} ({says}). Ask for \
                 an increase in Service Quotas, or lower requests_per_min_limit / \
                 max_concurrent_invocations"
            ),
            FailureKind::AccessDenied => {
                let account = self
                    .message
                    .as_deref()
                    .and_then(arn::account_in)
                    .or_else(|| credentials.account_id());
                let resources = arn::invoke_resources(model_id, region, account).join(" and ");
                format!(
                    "access denied to {model} in {region} for the credentials from {credentials} \
                     ({says}). The IAM identity needs `bedrock:InvokeModel` on {resources}; \
                     if it has it, check that access to {model_id} is enabled in the Bedrock \
                     console (Model access, {region})"
                )
            }
            FailureKind::Auth => self.auth_message(&model, credentials, &says),
            FailureKind::Credentials => format!(
                "could not load AWS credentials for {model} from {credentials} ({says}): {}",
                credentials.fix_hint()
            ),
            FailureKind::NotFound => {
                let profile_hint = if arn::is_plain_model_id(model_id) {
                    format!(
                        "; some models are only invoked through an inference profile id such as \
                         `us.{model_id}`"
                    )
                } else {
                    String::new()
                };
                format!(
                    "Bedrock does not know {model} in {region} ({says}). Check the id after \
                     `bedrock:` (`aws bedrock list-foundation-models --region {region}`) and the \
                     region{profile_hint}"
                )
            }
            FailureKind::ModelError => {
                let original = self
                    .original_status_code
                    .map(|s| format!(", the model answered HTTP {s}"))
                    .unwrap_or_default();
                format!("{model} failed inside Bedrock ({says}{original}); not retried")
            }
            FailureKind::ModelTimeout => format!(
                "{model} took too long to answer and the retries ran out ({says}); send fewer or \
                 shorter inputs per request"
            ),
            FailureKind::Other => format!("InvokeModel for {model} failed ({says})"),
        };
        if let Some(id) = &self.request_id {
            text.push_str(&format!(" [request id {id}]"));
        }
        text
    }

    fn auth_message(&self, model: &str, credentials: &CredentialsSource, says: &str) -> String {
        let hint = credentials.fix_hint();
        if let CredentialsKind::BearerToken { env_var } = credentials.kind() {
            return format!(
                "Bedrock rejected the API key in {env_var} for {model} ({says}): {hint}"
            );
        }
        if self.code_is(&[
            "ExpiredTokenException",
            "ExpiredToken",
            "TokenRefreshRequired",
        ]) {
            return format!(
                "the AWS credentials from {credentials} have expired ({says}); {model} needs \
                 fresh ones: {hint}"
            );
        }
        let why = if self.code_is(&["InvalidSignatureException", "SignatureDoesNotMatch"]) {
            " (the secret access key does not belong to the access key id, or this machine's \
             clock is off)"
        } else if self.code_is(&[
            "MissingAuthenticationToken",
            "MissingAuthenticationTokenException",
        ]) {
            " (the request carried no credentials)"
        } else {
            ""
        };
        format!(
            "the access key from {credentials} was rejected by Bedrock for {model} ({says}){why}: {hint}"
        )
    }
}

impl fmt::Display for InvokeFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}: {}", self.kind, self.bedrock_says())?;
        if let Some(id) = &self.request_id {
            write!(f, " [request id {id}]")?;
        }
        Ok(())
    }
}

/// Classifies an InvokeModel error from the SDK.
pub fn classify(err: &SdkError<InvokeModelError, HttpResponse>) -> InvokeFailure {
    let mut failure = InvokeFailure {
        kind: FailureKind::Other,
        code: None,
        message: None,
        request_id: err.request_id().map(str::to_owned),
        status: err.raw_response().map(|r| r.status().as_u16()),
        detail: None,
        original_status_code: None,
    };
    match err {
        SdkError::ServiceError(service) => {
            let e = service.err();
            failure.code = e.code().map(str::to_owned);
            failure.message = e.message().map(str::to_owned);
            if failure.request_id.is_none() {
                failure.request_id = e.request_id().map(str::to_owned);
            }
            if let InvokeModelError::ModelErrorException(m) = e {
                failure.original_status_code = m.original_status_code();
            }
            failure.kind = kind_of(failure.code.as_deref(), failure.status);
            // Bedrock answers an unknown or invalid model id with this ValidationException, not
            // a 404: the fix is the model id, as for ResourceNotFoundException.
            if failure.kind == FailureKind::Validation
                && failure.message.as_deref() == Some(INVALID_MODEL_IDENTIFIER)
            {
                failure.kind = FailureKind::NotFound;
            }
        }
        SdkError::ResponseError(_) => {
            // The answer could not be read (cut off, not JSON): transient unless the status says more.
            failure.kind = match kind_of(None, failure.status) {
                FailureKind::Other => FailureKind::Transient,
                kind => kind,
            };
            failure.detail = Some(format!("unreadable response: {}", error_chain(err)));
        }
        SdkError::TimeoutError(_) => {
            failure.kind = FailureKind::Timeout;
            failure.detail = Some("the attempt timed out".to_owned());
        }
        SdkError::DispatchFailure(dispatch) => {
            if let Some(cred) = find_in_chain::<CredentialsError>(err) {
                failure.kind = match cred {
                    CredentialsError::ProviderTimedOut(_) => FailureKind::Timeout,
                    _ => FailureKind::Credentials,
                };
                failure.detail = Some(error_chain(cred));
            } else {
                failure.kind = if dispatch.is_timeout() {
                    FailureKind::Timeout
                } else {
                    FailureKind::Transient
                };
                let what = if dispatch.is_timeout() {
                    "timed out"
                } else if dispatch.is_io() {
                    "connection failed"
                } else {
                    "connection error"
                };
                failure.detail = Some(format!("{what}: {}", error_chain(err)));
            }
        }
        SdkError::ConstructionFailure(_) => {
            failure.detail = Some(format!("request not built: {}", error_chain(err)));
        }
        _ => failure.detail = Some(error_chain(err)),
    }
    failure
}

/// Bedrock's ValidationException message for a model id it cannot invoke.
pub const INVALID_MODEL_IDENTIFIER: &str = "The provided model identifier is invalid.";

/// The kind for an error code (preferred) or, for unknown codes, the HTTP status.
pub(super) fn kind_of(code: Option<&str>, status: Option<u16>) -> FailureKind {
    match code.unwrap_or_default() {
        "ModelNotReadyException" => return FailureKind::ModelNotReady,
        "ThrottlingException" | "TooManyRequestsException" | "Throttling" => {
            return FailureKind::Throttled;
        }
        "InternalServerException"
        | "ServiceUnavailableException"
        | "InternalFailure"
        | "ServiceUnavailable"
        | "InternalServerError" => return FailureKind::Transient,
        "ValidationException" => return FailureKind::Validation,
        "ServiceQuotaExceededException" => return FailureKind::ServiceQuota,
        "AccessDeniedException" | "AccessDenied" => return FailureKind::AccessDenied,
        "UnrecognizedClientException"
        | "InvalidSignatureException"
        | "SignatureDoesNotMatch"
        | "ExpiredTokenException"
        | "ExpiredToken"
        | "TokenRefreshRequired"
        | "IncompleteSignature"
        | "IncompleteSignatureException"
        | "MissingAuthenticationToken"
        | "MissingAuthenticationTokenException"
        | "InvalidClientTokenId"
        | "UnauthorizedException" => return FailureKind::Auth,
        "ResourceNotFoundException" => return FailureKind::NotFound,
        "ModelErrorException" => return FailureKind::ModelError,
        "ModelTimeoutException" => return FailureKind::ModelTimeout,
        _ => {}
    }
    match status {
        Some(429) => FailureKind::Throttled,
        Some(500 | 502 | 503 | 504) => FailureKind::Transient,
        Some(400) => FailureKind::Validation,
        Some(401) => FailureKind::Auth,
        Some(403) => FailureKind::AccessDenied,
        Some(404) => FailureKind::NotFound,
        Some(408) => FailureKind::ModelTimeout,
        Some(424) => FailureKind::ModelError,
        _ => FailureKind::Other,
    }
}

fn find_in_chain<'a, T: Error + 'static>(err: &'a (dyn Error + 'static)) -> Option<&'a T> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<T>() {
            return Some(found);
        }
        current = e.source();
    }
    None
}

/// The messages of an error and its sources, `: `-joined (no Debug dumps: shorter, and nothing
/// but what each error chose to display).
pub(crate) fn error_chain(err: &(dyn Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut current = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        if !text.is_empty() && parts.last() != Some(&text) {
            parts.push(text);
        }
        current = e.source();
    }
    parts.join(": ")
}
