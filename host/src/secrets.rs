//! Secret values and `${ secrets:NAME }` / `${ env:NAME }` resolution.

use std::fmt;

/// A resolved secret. `Debug` never shows the value; `origin` says where it came from
/// (for error messages such as "the keys from param aws_access_key_id (secret AWS_KEY in .env)").
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    value: String,
    origin: String,
}

impl Secret {
    pub fn new(value: impl Into<String>, origin: impl Into<String>) -> Self {
        Self { value: value.into(), origin: origin.into() }
    }

    /// The secret value. Call only where it is handed to the AWS SDK.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// Where the value came from, safe to print.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<redacted>, from {})", self.origin)
    }
}
