//! AWS for one model: the Bedrock Runtime client (credentials, region, endpoint, timeouts),
//! an early credentials check, InvokeModel error classification and retry timing.
//!
//! The SDK's own retries are off ([`aws_config::retry::RetryConfig::disabled`]): the embedder
//! retries [`InvokeFailure::retryable`] failures itself with [`RetryBudget`], over the limiter, so
//! `requests_per_min_limit` counts every attempt as the AWS quota does.
//!
//! Bedrock API keys: aws-sdk-bedrockruntime (1.153) reads `AWS_BEARER_TOKEN_BEDROCK` by itself
//! (in `config::Builder::from(&SdkConfig)`) and then prefers `Authorization: Bearer` over SigV4.
//! We leave that alone for the default chain and only pin SigV4 when the model's params name
//! keys or a profile (params beat the environment).

mod arn;
mod classify;
mod client;
mod credentials;
mod primed;
pub mod retry;
mod source;
#[cfg(test)]
mod tests;

pub use classify::{FailureKind, InvokeFailure, classify};
pub use client::{AwsOptions, BEARER_TOKEN_ENV, DEFAULT_REGION, ModelAws, RegionSource, load};
pub use credentials::{AwsError, SOURCES_TRIED, check_credentials};
pub use retry::{RetryBudget, backoff};
pub use source::{CredentialsKind, CredentialsSource};
