//! Model families: request validation and response bodies per the AWS model-parameter pages.

mod cohere;
pub(crate) mod json;
mod nova;
mod titan;

use crate::error::ApiError;
use crate::model_id::ModelKind;
use serde_json::Value;

/// What a model answered.
#[derive(Clone, Debug, PartialEq)]
pub struct ModelOutput {
    /// The response body.
    pub body: Value,
    /// Input tokens (the `X-Amzn-Bedrock-Input-Token-Count` header).
    pub input_tokens: u32,
    /// How many texts/inputs were embedded.
    pub items: usize,
}

/// Validates `body` for model family `kind` and computes the answer.
/// `request_id` is used where the model echoes an id (Cohere's `id`).
pub fn invoke(kind: ModelKind, body: &[u8], request_id: &str) -> Result<ModelOutput, ApiError> {
    let obj = json::parse_object(body)?;
    match kind {
        ModelKind::TitanTextV1 => titan::text_v1(&obj),
        ModelKind::TitanTextV2 => titan::text_v2(&obj),
        ModelKind::TitanImageV1 => titan::image_v1(&obj),
        ModelKind::CohereEnglishV3 | ModelKind::CohereMultilingualV3 => {
            cohere::v3(&obj, request_id)
        }
        ModelKind::CohereV4 => cohere::v4(&obj, request_id),
        ModelKind::Nova2MultimodalV1 => nova::v2(&obj),
    }
}

/// A deterministic stand-in vector for an image: the embedding of a digest of its bytes.
pub(crate) fn image_vector(bytes: &[u8], dims: usize) -> Vec<f32> {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    crate::vectors::embed(&format!("image {}", hex::encode(digest)), dims, true)
}

/// Decodes base64 (standard alphabet, padding optional) or fails with a Bedrock-like message.
pub(crate) fn decode_base64(path: &str, s: &str) -> Result<Vec<u8>, ApiError> {
    use base64::Engine;
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let bytes = engine
        .decode(s.trim())
        .map_err(|e| ApiError::malformed(format!("{path}: invalid base64 image data ({e})")))?;
    if bytes.is_empty() {
        return Err(ApiError::malformed(format!("{path}: empty image")));
    }
    Ok(bytes)
}

/// Floats as JSON numbers, each printed as the shortest decimal that reads back as that f32
/// (`-0.015563965`), as Bedrock prints them.
pub(crate) fn floats(v: &[f32]) -> Value {
    Value::Array(
        v.iter()
            .map(|x| Value::from(crate::vectors::shortest_f32(*x)))
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn non_object_bodies_are_validation_errors() {
        for body in [&b""[..], b"not json", b"[]", b"null", b"\"x\""] {
            let e = invoke(ModelKind::TitanTextV2, body, "id").unwrap_err();
            assert_eq!(e.code, crate::error::ErrorCode::ValidationException);
        }
    }
}
