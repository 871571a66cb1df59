//! Errors a codec call can end in, as the host reports them.

use super::bindings::GuestError;
pub use super::sandbox::TrapKind;

/// A failed codec call. Every variant names the codec; the messages are meant for users.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CodecError {
    /// A param or request option the model does not accept (config error at load, 400 per request).
    #[error("{message}")]
    InvalidParam { codec: String, message: String },
    /// An input that cannot be sent (400).
    #[error("{message}")]
    InvalidInput { codec: String, message: String },
    /// A Bedrock response the codec could not read (502).
    #[error("codec {codec} could not read the Bedrock response: {message}")]
    BadResponse { codec: String, message: String },
    /// The codec does not serve this model id.
    #[error("codec {codec} does not serve this model: {message}")]
    UnsupportedModel { codec: String, message: String },
    /// The guest trapped: time or memory limit, panic, or any other fault. The instance is gone.
    #[error("codec {codec} ({source_desc}) failed in {func} for model {model_id}: {reason}")]
    Trap {
        codec: String,
        source_desc: String,
        func: &'static str,
        model_id: String,
        /// What the fault was, as a type (the reason is the same in words).
        kind: TrapKind,
        reason: String,
    },
    /// The guest returned something the contract forbids (wrong counts, non-finite floats, ...).
    #[error(
        "codec {codec} ({source_desc}) broke the codec contract in {func} for model {model_id}: {reason}"
    )]
    Contract {
        codec: String,
        source_desc: String,
        func: &'static str,
        model_id: String,
        reason: String,
    },
}

impl CodecError {
    pub(crate) fn from_guest(codec: &str, err: GuestError) -> Self {
        let codec = codec.to_string();
        match err {
            GuestError::InvalidParam(message) => Self::InvalidParam { codec, message },
            GuestError::InvalidInput(message) => Self::InvalidInput { codec, message },
            GuestError::BadResponse(message) => Self::BadResponse { codec, message },
            GuestError::UnsupportedModel(message) => Self::UnsupportedModel { codec, message },
        }
    }

    /// True when the client's input or options are at fault (HTTP 400).
    pub fn is_client_error(&self) -> bool {
        matches!(self, Self::InvalidParam { .. } | Self::InvalidInput { .. })
    }
}
