//! Bedrock Runtime errors as they travel on the wire: an HTTP status, the
//! `x-amzn-ErrorType` header and a `{"message": ...}` body.

use axum::http::{HeaderValue, StatusCode};
use serde::{Deserialize, Serialize};

/// Namespace suffix Bedrock's service errors carry in `x-amzn-ErrorType`.
pub const BEDROCK_ERROR_NAMESPACE: &str = "http://internal.amazon.com/coral/com.amazon.bedrock/";
/// Namespace suffix of the errors raised by the AWS front door (authentication) before the service.
pub const CORAL_ERROR_NAMESPACE: &str =
    "http://internal.amazon.com/coral/com.amazon.coral.service/";

/// Every error code the emulator can answer with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum ErrorCode {
    ValidationException,
    ServiceQuotaExceededException,
    AccessDeniedException,
    ResourceNotFoundException,
    ModelTimeoutException,
    ModelErrorException,
    ThrottlingException,
    ModelNotReadyException,
    InternalServerException,
    ServiceUnavailableException,
    UnrecognizedClientException,
    InvalidSignatureException,
    ExpiredTokenException,
    IncompleteSignatureException,
    MissingAuthenticationTokenException,
    UnknownOperationException,
}

impl ErrorCode {
    /// All codes, for help texts and parsing.
    pub const ALL: [ErrorCode; 16] = [
        ErrorCode::ValidationException,
        ErrorCode::ServiceQuotaExceededException,
        ErrorCode::AccessDeniedException,
        ErrorCode::ResourceNotFoundException,
        ErrorCode::ModelTimeoutException,
        ErrorCode::ModelErrorException,
        ErrorCode::ThrottlingException,
        ErrorCode::ModelNotReadyException,
        ErrorCode::InternalServerException,
        ErrorCode::ServiceUnavailableException,
        ErrorCode::UnrecognizedClientException,
        ErrorCode::InvalidSignatureException,
        ErrorCode::ExpiredTokenException,
        ErrorCode::IncompleteSignatureException,
        ErrorCode::MissingAuthenticationTokenException,
        ErrorCode::UnknownOperationException,
    ];

    /// The code as it appears on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::ValidationException => "ValidationException",
            ErrorCode::ServiceQuotaExceededException => "ServiceQuotaExceededException",
            ErrorCode::AccessDeniedException => "AccessDeniedException",
            ErrorCode::ResourceNotFoundException => "ResourceNotFoundException",
            ErrorCode::ModelTimeoutException => "ModelTimeoutException",
            ErrorCode::ModelErrorException => "ModelErrorException",
            ErrorCode::ThrottlingException => "ThrottlingException",
            ErrorCode::ModelNotReadyException => "ModelNotReadyException",
            ErrorCode::InternalServerException => "InternalServerException",
            ErrorCode::ServiceUnavailableException => "ServiceUnavailableException",
            ErrorCode::UnrecognizedClientException => "UnrecognizedClientException",
            ErrorCode::InvalidSignatureException => "InvalidSignatureException",
            ErrorCode::ExpiredTokenException => "ExpiredTokenException",
            ErrorCode::IncompleteSignatureException => "IncompleteSignatureException",
            ErrorCode::MissingAuthenticationTokenException => "MissingAuthenticationTokenException",
            ErrorCode::UnknownOperationException => "UnknownOperationException",
        }
    }

    /// HTTP status per the Bedrock Runtime model (see docs/BEDROCK-WIRE.md).
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::ValidationException | ErrorCode::ServiceQuotaExceededException => {
                StatusCode::BAD_REQUEST
            }
            ErrorCode::AccessDeniedException
            | ErrorCode::UnrecognizedClientException
            | ErrorCode::InvalidSignatureException
            | ErrorCode::ExpiredTokenException
            | ErrorCode::IncompleteSignatureException
            | ErrorCode::MissingAuthenticationTokenException => StatusCode::FORBIDDEN,
            ErrorCode::ResourceNotFoundException | ErrorCode::UnknownOperationException => {
                StatusCode::NOT_FOUND
            }
            ErrorCode::ModelTimeoutException => StatusCode::REQUEST_TIMEOUT,
            ErrorCode::ModelErrorException => StatusCode::FAILED_DEPENDENCY,
            ErrorCode::ThrottlingException | ErrorCode::ModelNotReadyException => {
                StatusCode::TOO_MANY_REQUESTS
            }
            ErrorCode::InternalServerException => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::ServiceUnavailableException => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// True for the errors the AWS front door raises (authentication), false for Bedrock's own.
    pub fn is_front_door(self) -> bool {
        matches!(
            self,
            ErrorCode::UnrecognizedClientException
                | ErrorCode::InvalidSignatureException
                | ErrorCode::ExpiredTokenException
                | ErrorCode::IncompleteSignatureException
                | ErrorCode::MissingAuthenticationTokenException
                | ErrorCode::UnknownOperationException
        )
    }

    /// The `x-amzn-ErrorType` header value.
    pub fn error_type_header(self) -> String {
        let ns = if self.is_front_door() {
            CORAL_ERROR_NAMESPACE
        } else {
            BEDROCK_ERROR_NAMESPACE
        };
        format!("{}:{}", self.as_str(), ns)
    }

    /// A generic message for injected faults and forced errors.
    pub fn default_message(self) -> &'static str {
        match self {
            ErrorCode::ValidationException => {
                "Malformed input request, please reformat your input and try again."
            }
            ErrorCode::ServiceQuotaExceededException => {
                "Your request exceeds the service quota for your account."
            }
            ErrorCode::AccessDeniedException => {
                "You don't have access to the model with the specified model ID."
            }
            ErrorCode::ResourceNotFoundException => {
                "Could not resolve the foundation model from the provided model identifier."
            }
            ErrorCode::ModelTimeoutException => {
                "Model has timed out in processing the request. Try your request again."
            }
            ErrorCode::ModelErrorException => {
                "The model returned an error while processing the request."
            }
            ErrorCode::ThrottlingException => "Too many requests, please wait before trying again.",
            ErrorCode::ModelNotReadyException => {
                "Model is not ready to serve inference requests. The AWS SDK will automatically retry the operation."
            }
            ErrorCode::InternalServerException => {
                "The server encountered an internal error while processing the request."
            }
            ErrorCode::ServiceUnavailableException => "Bedrock is unable to process your request.",
            ErrorCode::UnrecognizedClientException => {
                "The security token included in the request is invalid."
            }
            ErrorCode::InvalidSignatureException => {
                "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
            }
            ErrorCode::ExpiredTokenException => {
                "The security token included in the request is expired"
            }
            ErrorCode::IncompleteSignatureException => {
                "Authorization header requires 'Credential' parameter."
            }
            ErrorCode::MissingAuthenticationTokenException => "Missing Authentication Token",
            ErrorCode::UnknownOperationException => "Unknown operation",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Error parsing an [`ErrorCode`] from text.
#[derive(Debug, thiserror::Error)]
#[error(
    "unknown error code {0:?}; expected one of the Bedrock error names, e.g. ThrottlingException"
)]
pub struct UnknownErrorCode(pub String);

impl std::str::FromStr for ErrorCode {
    type Err = UnknownErrorCode;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        ErrorCode::ALL
            .iter()
            .copied()
            .find(|c| {
                c.as_str().eq_ignore_ascii_case(t)
                    || c.as_str()
                        .trim_end_matches("Exception")
                        .eq_ignore_ascii_case(t)
            })
            .ok_or_else(|| UnknownErrorCode(s.to_string()))
    }
}

/// An error answer: code, message and the optional extra fields `ModelErrorException` carries.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// `originalStatusCode` of a ModelErrorException.
    pub original_status_code: Option<u16>,
    /// `resourceName` of a ModelErrorException.
    pub resource_name: Option<String>,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            original_status_code: None,
            resource_name: None,
        }
    }

    /// The code with its default message.
    pub fn of(code: ErrorCode) -> Self {
        let mut e = Self::new(code, code.default_message());
        if code == ErrorCode::ModelErrorException {
            e.original_status_code = Some(500);
        }
        e
    }

    /// A `ValidationException` in Bedrock's schema-validation phrasing.
    pub fn malformed(detail: impl std::fmt::Display) -> Self {
        Self::new(
            ErrorCode::ValidationException,
            format!("Malformed input request: {detail}, please reformat your input and try again."),
        )
    }

    /// A plain `ValidationException`.
    pub fn validation(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ValidationException, message)
    }

    /// The JSON body.
    pub fn body(&self) -> serde_json::Value {
        let mut body = serde_json::json!({ "message": self.message });
        if let Some(s) = self.original_status_code {
            body["originalStatusCode"] = s.into();
        }
        if let Some(r) = &self.resource_name {
            body["resourceName"] = r.clone().into();
        }
        body
    }

    /// Status, headers (`x-amzn-ErrorType`, content type) and body as a response.
    pub fn into_response_parts(&self) -> (StatusCode, Vec<(&'static str, HeaderValue)>, Vec<u8>) {
        let header = HeaderValue::from_str(&self.code.error_type_header())
            .unwrap_or_else(|_| HeaderValue::from_static("InternalServerException"));
        (
            self.code.status(),
            vec![
                ("x-amzn-ErrorType", header),
                ("content-type", HeaderValue::from_static("application/json")),
            ],
            serde_json::to_vec(&self.body()).unwrap_or_default(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_match_the_wire_table() {
        assert_eq!(ErrorCode::ValidationException.status().as_u16(), 400);
        assert_eq!(
            ErrorCode::ServiceQuotaExceededException.status().as_u16(),
            400
        );
        assert_eq!(ErrorCode::AccessDeniedException.status().as_u16(), 403);
        assert_eq!(ErrorCode::ResourceNotFoundException.status().as_u16(), 404);
        assert_eq!(ErrorCode::ModelTimeoutException.status().as_u16(), 408);
        assert_eq!(ErrorCode::ModelErrorException.status().as_u16(), 424);
        assert_eq!(ErrorCode::ThrottlingException.status().as_u16(), 429);
        assert_eq!(ErrorCode::ModelNotReadyException.status().as_u16(), 429);
        assert_eq!(ErrorCode::InternalServerException.status().as_u16(), 500);
        assert_eq!(
            ErrorCode::ServiceUnavailableException.status().as_u16(),
            503
        );
        assert_eq!(ErrorCode::ExpiredTokenException.status().as_u16(), 403);
    }

    #[test]
    fn header_and_body() {
        let e = ApiError::malformed("#: required key [inputText] not found");
        let (status, headers, body) = e.into_response_parts();
        assert_eq!(status.as_u16(), 400);
        assert_eq!(
            headers[0].1.to_str().unwrap(),
            "ValidationException:http://internal.amazon.com/coral/com.amazon.bedrock/"
        );
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .starts_with("Malformed input request: #")
        );
    }

    #[test]
    fn parse_codes() {
        assert_eq!(
            "throttling".parse::<ErrorCode>().unwrap(),
            ErrorCode::ThrottlingException
        );
        assert_eq!(
            "AccessDeniedException".parse::<ErrorCode>().unwrap(),
            ErrorCode::AccessDeniedException
        );
        assert!("nope".parse::<ErrorCode>().is_err());
        for c in ErrorCode::ALL {
            assert_eq!(c.as_str().parse::<ErrorCode>().unwrap(), c);
        }
    }
}
