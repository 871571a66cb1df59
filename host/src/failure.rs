//! What a failed embedding means, read from types only: one classification that the HTTP
//! error mapping ([`crate::server::error`]) and the bulk `embed` job ([`crate::bulk`]) share.
//! No layer looks at message text.

use crate::aws::FailureKind;
use crate::codec::{CodecError, TrapKind};
use crate::embedder::EmbedError;

/// The kind of an [`EmbedError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// The request named a model this server does not serve.
    UnknownModel,
    /// No codec serves the model's id (a codec file was removed, or a pin names a missing one).
    NoCodec,
    /// The codec refused a param or request option (e.g. `dimensions`).
    InvalidParam,
    /// The codec refused one of the inputs.
    InvalidInput,
    /// InvokeModel failed, after any retries.
    Bedrock(FailureKind),
    /// The limiter would have made the request wait past the model's `limiter_max_wait`.
    RateLimited,
    /// A call of the request needs more tokens (estimated) than a token limit allows at all.
    TooManyTokens,
    /// The codec could not read Bedrock's answer.
    BadResponse,
    /// The routed codec says it does not serve the model.
    UnsupportedModel,
    /// The codec trapped.
    CodecTrap(TrapKind),
    /// The codec broke the contract (wrong counts, non-finite floats, ...).
    CodecContract,
    Internal,
}

impl Failure {
    pub fn of(err: &EmbedError) -> Self {
        match err {
            EmbedError::UnknownModel { .. } => Self::UnknownModel,
            EmbedError::NoCodec { .. } => Self::NoCodec,
            EmbedError::Codec(codec) => Self::of_codec(codec),
            EmbedError::Bedrock { failure, .. } => Self::Bedrock(failure.kind),
            EmbedError::RateLimited { .. } => Self::RateLimited,
            EmbedError::TooManyTokens { .. } => Self::TooManyTokens,
            EmbedError::Internal(_) => Self::Internal,
        }
    }

    pub fn of_codec(err: &CodecError) -> Self {
        match err {
            CodecError::InvalidParam { .. } => Self::InvalidParam,
            CodecError::InvalidInput { .. } => Self::InvalidInput,
            CodecError::BadResponse { .. } => Self::BadResponse,
            CodecError::UnsupportedModel { .. } => Self::UnsupportedModel,
            CodecError::Trap { kind, .. } => Self::CodecTrap(*kind),
            CodecError::Contract { .. } => Self::CodecContract,
        }
    }

    /// The failure is about one text of the request (the codec or Bedrock refused an input),
    /// so the other texts can still be embedded: the bulk job rejects that line and goes on.
    /// An invalid param or option is the same for every line, so it is not one.
    pub fn is_input_fault(self) -> bool {
        match self {
            // Too long for the token budget: that text (or batch, which bulk splits) alone.
            Self::InvalidInput | Self::TooManyTokens => true,
            Self::Bedrock(kind) => kind.is_input_fault(),
            _ => false,
        }
    }

    /// Sending the same request again cannot succeed until someone changes the request or the
    /// server's configuration: HTTP answers carry `x-should-retry: false` so the OpenAI SDKs
    /// do not retry it. Throttling, timeouts, transient upstream failures, a model still
    /// loading, a missing codec (a hot-swap may bring it back), a codec over its CPU deadline
    /// (load-dependent) and internal errors stay retryable.
    pub fn is_permanent(self) -> bool {
        match self {
            Self::UnknownModel
            | Self::InvalidParam
            | Self::InvalidInput
            | Self::BadResponse
            | Self::UnsupportedModel
            | Self::TooManyTokens
            | Self::CodecContract => true,
            Self::CodecTrap(kind) => kind != TrapKind::TimeLimit,
            // A quota is a rate: it comes back (and answers 429).
            Self::Bedrock(kind) => !kind.retryable() && kind != FailureKind::ServiceQuota,
            Self::NoCodec | Self::RateLimited | Self::Internal => false,
        }
    }

    /// The client caused it (bad input, unknown model): its detail is safe to show in full.
    pub fn is_client_fault(self) -> bool {
        matches!(
            self,
            Self::UnknownModel | Self::InvalidParam | Self::InvalidInput
        ) || matches!(self, Self::Bedrock(FailureKind::Validation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_input_faults_are_per_line() {
        assert!(Failure::InvalidInput.is_input_fault());
        assert!(Failure::TooManyTokens.is_input_fault());
        assert!(Failure::Bedrock(FailureKind::Validation).is_input_fault());
        for f in [
            Failure::InvalidParam,
            Failure::Bedrock(FailureKind::AccessDenied),
            Failure::Bedrock(FailureKind::ModelTimeout),
            Failure::CodecTrap(TrapKind::MemoryLimit),
            Failure::NoCodec,
        ] {
            assert!(!f.is_input_fault(), "{f:?}");
        }
    }

    #[test]
    fn permanent_failures_are_the_ones_a_retry_cannot_fix() {
        for f in [
            Failure::Bedrock(FailureKind::AccessDenied),
            Failure::Bedrock(FailureKind::Auth),
            Failure::Bedrock(FailureKind::Credentials),
            Failure::Bedrock(FailureKind::NotFound),
            Failure::Bedrock(FailureKind::Validation),
            Failure::Bedrock(FailureKind::ModelError),
            Failure::CodecTrap(TrapKind::MemoryLimit),
            Failure::CodecTrap(TrapKind::Panic),
            Failure::InvalidInput,
            Failure::UnknownModel,
        ] {
            assert!(f.is_permanent(), "{f:?}");
        }
        for f in [
            Failure::Bedrock(FailureKind::Throttled),
            Failure::Bedrock(FailureKind::ModelNotReady),
            Failure::Bedrock(FailureKind::ModelTimeout),
            Failure::Bedrock(FailureKind::Timeout),
            Failure::Bedrock(FailureKind::Transient),
            Failure::CodecTrap(TrapKind::TimeLimit),
            Failure::NoCodec,
            Failure::RateLimited,
            Failure::Internal,
        ] {
            assert!(!f.is_permanent(), "{f:?}");
        }
    }
}
