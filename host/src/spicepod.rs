//! The `spicepod.yaml` file model: loading, validation, errors with locations.

use std::path::PathBuf;

use crate::secrets::Secret;

/// AWS settings of one model (host-only: never sent to a codec).
#[derive(Debug, Clone, Default)]
pub struct AwsParams {
    pub region: Option<String>,
    pub profile: Option<String>,
    pub access_key_id: Option<Secret>,
    pub secret_access_key: Option<Secret>,
    pub session_token: Option<Secret>,
    /// `aws_endpoint_url` (VPC endpoints, the emulator).
    pub endpoint_url: Option<String>,
}

/// The limiter settings of one model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LimitParams {
    pub max_concurrent_invocations: u32,
    pub requests_per_min_limit: u32,
}

impl Default for LimitParams {
    fn default() -> Self {
        Self { max_concurrent_invocations: 40, requests_per_min_limit: 1500 }
    }
}

/// One `embeddings:` entry with `from: bedrock:<model-id>`.
#[derive(Debug, Clone)]
pub struct EmbeddingModel {
    /// The `name` clients use as `model`.
    pub name: String,
    /// The model id exactly as written after `bedrock:` (sent to Bedrock unchanged).
    pub model_id: String,
    pub aws: AwsParams,
    pub limits: LimitParams,
    /// `codec` param: pin this model to a codec by name.
    pub codec: Option<String>,
    /// The remaining params, for the codec, in file order, secrets resolved.
    pub params: Vec<(String, String)>,
    /// 1-based line of the entry in the file, for messages.
    pub line: usize,
}

#[derive(Debug, Clone)]
pub struct Spicepod {
    pub path: PathBuf,
    pub name: String,
    pub embeddings: Vec<EmbeddingModel>,
}
