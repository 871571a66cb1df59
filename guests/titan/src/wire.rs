//! The Titan embedding models' InvokeModel wire format, in plain Rust (no bindings).
//!
//! From the AWS model-parameter pages (see shared BEDROCK-WIRE.md):
//! - `amazon.titan-embed-text-v1` (alias `amazon.titan-embed-g1-text-02`): `{"inputText"}` only;
//!   1,536 dimensions, fixed.
//! - `amazon.titan-embed-text-v2:0`: `{"inputText", "dimensions": 1024 | 512 | 256,
//!   "normalize": bool, "embeddingTypes": ["float"] | ["binary"]}`; one text per call, at most
//!   50,000 characters.
//! - `amazon.titan-embed-image-v1`, text input: `{"inputText", "embeddingConfig":
//!   {"outputEmbeddingLength": 256 | 384 | 1024}}`.
//!
//! Every model embeds one text per call, so `encode` returns one invocation per input.
//! Responses: `{"embedding": [floats], "inputTextTokenCount": n}`, plus `embeddingsByType`
//! (v2) or `message` (image). For float, `decode` hands the host the span of `embedding` (the
//! host parses the numbers); v2's copy of it in `embeddingsByType.float` is stepped over, and
//! read only when `embedding` is missing. For binary (v2), `embeddingsByType.binary` holds one 0
//! or 1 per dimension: `decode` reads them and packs them 8 per value, as the WIT's `binary` is.

use codec_kit::{
    CodecError, CodecInfo, EmbeddingType, Embeddings, Invocation, Origin, Param, ParamSpec,
    RequestOptions, Vectors, json,
};
use serde::Serialize;

pub const NAME: &str = "titan";
pub const MODEL_PREFIXES: &[&str] = &["amazon.titan-embed-"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    TextV1,
    TextV2,
    ImageV1,
}

/// The documented ids; each also matches its `:`-suffixed variants (see `codec_kit::find_model`).
const KNOWN: &[(&str, Model)] = &[
    ("amazon.titan-embed-text-v1", Model::TextV1),
    ("amazon.titan-embed-g1-text-02", Model::TextV1),
    ("amazon.titan-embed-text-v2:0", Model::TextV2),
    ("amazon.titan-embed-image-v1", Model::ImageV1),
];

pub const V1_DIMENSIONS: u32 = 1536;
/// In the order the AWS page lists them; 1024 is the default.
pub const V2_DIMENSIONS: &[u32] = &[1024, 512, 256];
pub const IMAGE_DIMENSIONS: &[u32] = &[256, 384, 1024];
pub const DEFAULT_DIMENSIONS: u32 = 1024;
/// Documented for v2 only ("8,192 tokens or 50,000 characters"). v1 (8,192 tokens) and the
/// image model (256 tokens) document token limits alone, which only Bedrock can count: their
/// texts go through and an over-long one comes back as Bedrock's ValidationException (a 400).
pub const V2_MAX_CHARS: usize = 50_000;

pub const PARAM_DIMENSIONS: &str = "dimensions";
pub const PARAM_NORMALIZE: &str = "normalize";
pub const PARAM_EMBEDDING_TYPE: &str = codec_kit::PARAM_EMBEDDING_TYPE;

/// The embedding types each model offers: v2 answers with bits too (`embeddingTypes:
/// ["binary"]`, one 0 or 1 per dimension, which `decode` packs 8 per value).
pub fn embedding_types(model: Model) -> &'static [EmbeddingType] {
    match model {
        Model::TextV2 => &[EmbeddingType::Float, EmbeddingType::Binary],
        Model::TextV1 | Model::ImageV1 => &[EmbeddingType::Float],
    }
}

pub fn info() -> CodecInfo {
    CodecInfo {
        name: NAME.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        model_prefixes: MODEL_PREFIXES.iter().map(|&p| p.to_owned()).collect(),
        params: vec![
            ParamSpec::new(
                PARAM_DIMENSIONS,
                "Size of the vectors. amazon.titan-embed-text-v2:0: 1024 (default), 512 or 256, \
                 sent as `dimensions`. amazon.titan-embed-image-v1: 256, 384 or 1024 (default), \
                 sent as `embeddingConfig.outputEmbeddingLength`. amazon.titan-embed-text-v1: \
                 fixed at 1536 (only 1536 is accepted). A request's `dimensions` overrides it.",
                Some("1024"),
                &["256", "384", "512", "1024", "1536"],
            ),
            ParamSpec::new(
                PARAM_NORMALIZE,
                "amazon.titan-embed-text-v2:0 only: whether the model normalizes the vectors \
                 (true or false, any case). Always sent explicitly.",
                Some("true"),
                &["true", "false"],
            ),
            ParamSpec::new(
                PARAM_EMBEDDING_TYPE,
                "The type of the vectors' values. amazon.titan-embed-text-v2:0: float \
                 (default) or binary (one bit per dimension, 8 per value, the first in the \
                 most significant bit: a 1024-dimension vector is 128 signed bytes), sent as \
                 `embeddingTypes: [\"binary\"]`. The other models: float only. Any case. A \
                 request's `embedding_type` overrides it.",
                Some("float"),
                &["float", "binary"],
            ),
        ],
    }
}

/// Everything a call needs, resolved from the model id, the params and the request options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config<'a> {
    pub model_id: &'a str,
    pub model: Model,
    pub dimensions: u32,
    /// `Some` for v2 only.
    pub normalize: Option<bool>,
    pub embedding_type: EmbeddingType,
}

impl<'a> Config<'a> {
    pub fn resolve(
        model_id: &'a str,
        params: &[Param],
        options: RequestOptions,
    ) -> Result<Self, CodecError> {
        let model = codec_kit::find_model(NAME, model_id, KNOWN)?;
        let dimensions = |origin, value: &str| match model {
            Model::TextV1 => {
                codec_kit::fixed_number(origin, PARAM_DIMENSIONS, value, model_id, V1_DIMENSIONS)
            }
            Model::TextV2 => {
                codec_kit::number_in(origin, PARAM_DIMENSIONS, value, model_id, V2_DIMENSIONS)
            }
            Model::ImageV1 => {
                codec_kit::number_in(origin, PARAM_DIMENSIONS, value, model_id, IMAGE_DIMENSIONS)
            }
        };
        let from_param = match codec_kit::param(params, PARAM_DIMENSIONS) {
            Some(value) => Some(dimensions(Origin::Param, value)?),
            None => None,
        };
        let from_request = match options.dimensions {
            Some(n) => Some(dimensions(Origin::RequestOption, &n.to_string())?),
            None => None,
        };
        let default = match model {
            Model::TextV1 => V1_DIMENSIONS,
            Model::TextV2 | Model::ImageV1 => DEFAULT_DIMENSIONS,
        };
        let normalize = match model {
            Model::TextV2 => Some(codec_kit::boolean(params, PARAM_NORMALIZE, model_id, true)?),
            Model::TextV1 | Model::ImageV1 => {
                if let Some(value) = codec_kit::param(params, PARAM_NORMALIZE) {
                    return Err(codec_kit::not_supported(
                        PARAM_NORMALIZE,
                        value,
                        model_id,
                        "its request body has no normalize field (only amazon.titan-embed-text-v2:0 takes it)",
                    ));
                }
                None
            }
        };
        let embedding_type =
            codec_kit::embedding_type(params, options, model_id, embedding_types(model))?;
        Ok(Self {
            model_id,
            model,
            dimensions: from_request.or(from_param).unwrap_or(default),
            normalize,
            embedding_type,
        })
    }

    /// The characters a text may have, where the model documents a limit.
    fn max_chars(&self) -> Option<usize> {
        (self.model == Model::TextV2).then_some(V2_MAX_CHARS)
    }

    /// The InvokeModel body for one text.
    pub fn body(&self, text: &str) -> Vec<u8> {
        let body = match self.model {
            Model::TextV1 => Body {
                input_text: text,
                dimensions: None,
                normalize: None,
                embedding_types: None,
                embedding_config: None,
            },
            Model::TextV2 => Body {
                input_text: text,
                dimensions: Some(self.dimensions),
                normalize: self.normalize,
                embedding_types: (self.embedding_type != EmbeddingType::Float)
                    .then_some([self.embedding_type.as_str()]),
                embedding_config: None,
            },
            Model::ImageV1 => Body {
                input_text: text,
                dimensions: None,
                normalize: None,
                embedding_types: None,
                embedding_config: Some(EmbeddingConfig {
                    output_embedding_length: self.dimensions,
                }),
            },
        };
        serde_json::to_vec(&body).expect("a struct of strings and numbers serializes")
    }
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    input_text: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    dimensions: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    normalize: Option<bool>,
    /// v2, for binary only: `["binary"]`. Left out for float on purpose: `embedding`, the field
    /// read back then, is documented as always float whatever `embeddingTypes` says, and its
    /// default, `["float"]`, is what we would send; leaving it out keeps the body to the fields
    /// that change the result.
    #[serde(skip_serializing_if = "Option::is_none")]
    embedding_types: Option<[&'static str; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    embedding_config: Option<EmbeddingConfig>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct EmbeddingConfig {
    output_embedding_length: u32,
}

pub fn check(model_id: &str, params: &[Param]) -> Result<(), CodecError> {
    Config::resolve(model_id, params, RequestOptions::default()).map(|_| ())
}

pub fn encode(
    model_id: &str,
    params: &[Param],
    options: RequestOptions,
    inputs: &[String],
) -> Result<Vec<Invocation>, CodecError> {
    let config = Config::resolve(model_id, params, options)?;
    codec_kit::check_inputs(model_id, inputs, config.max_chars())?;
    Ok(inputs
        .iter()
        .map(|text| Invocation {
            body: config.body(text),
            input_count: 1,
        })
        .collect())
}

pub fn decode(
    model_id: &str,
    params: &[Param],
    options: RequestOptions,
    body: &[u8],
    input_count: u32,
) -> Result<Embeddings, CodecError> {
    let config = Config::resolve(model_id, params, options)?;
    let dimensions = config.dimensions;
    let response = Response::read(body, config.embedding_type, dimensions as usize)
        .map_err(|e| codec_kit::unreadable(model_id, e, body))?;
    let vectors = match config.embedding_type {
        EmbeddingType::Binary => {
            let bits = response
                .bits
                .ok_or_else(|| no_embedding(model_id, "embeddingsByType.binary", body))?;
            let bits = vec![bits];
            codec_kit::check_vectors(model_id, &bits, input_count, dimensions)?;
            let packed = codec_kit::pack_bits(&bits[0]).ok_or_else(|| {
                CodecError::BadResponse(format!(
                    "the {model_id} response has a value other than 0 and 1 in \
                     \"embeddingsByType.binary\"; body starts: {}",
                    codec_kit::excerpt(body)
                ))
            })?;
            Vectors::Values(vec![packed])
        }
        _ => {
            let embedding = response
                .embedding
                .ok_or_else(|| no_embedding(model_id, "embedding", body))?;
            let spans = codec_kit::check_arrays(
                model_id,
                &[embedding],
                input_count,
                dimensions,
                EmbeddingType::Float,
            )?;
            Vectors::Spans(spans)
        }
    };
    Ok(Embeddings {
        vectors,
        embedding_type: config.embedding_type,
        input_tokens: response.input_text_token_count,
    })
}

/// What a response holds for us; every other member is stepped over (its structure checked).
#[derive(Debug, Default)]
struct Response {
    /// Float: where `embedding` is, or else `embeddingsByType.float`.
    embedding: Option<json::NumberArray>,
    /// Binary: the values of `embeddingsByType.binary`, one 0 or 1 per dimension.
    bits: Option<Vec<f32>>,
    input_text_token_count: Option<u32>,
}

impl Response {
    /// Reads `body` with [`codec_kit::json::Reader`]. For float it finds the vector without
    /// reading its numbers; v2 repeats the vector in `embeddingsByType.float`: that copy is
    /// stepped over (a scan to its `]`) and looked into only when `embedding` is missing or
    /// null. For binary it reads the bits (`dimensions` values, a hint) and steps over
    /// `embedding`.
    fn read(
        body: &[u8],
        embedding_type: EmbeddingType,
        dimensions: usize,
    ) -> Result<Self, json::Error> {
        let float = embedding_type == EmbeddingType::Float;
        let mut response = Self::default();
        let mut reader = json::Reader::new(body);
        let mut by_type = None;
        reader.object(|key, r| match key {
            "embedding" if float => r
                .option(json::Reader::numbers)
                .map(|v| response.embedding = v),
            "inputTextTokenCount" => r.value().map(|n| response.input_text_token_count = n),
            "embeddingsByType" if float => {
                by_type = Some(r.clone());
                r.skip()
            }
            "embeddingsByType" => r
                .option(|r| {
                    r.object(|key, r| match key {
                        "binary" => r
                            .option(|r| r.floats(dimensions))
                            .map(|v| response.bits = v),
                        _ => r.skip(),
                    })
                })
                .map(drop),
            _ => r.skip(),
        })?;
        reader.finish()?;
        if let (None, Some(mut r)) = (&response.embedding, by_type) {
            response.embedding = r
                .option(|r| {
                    let mut float = None;
                    r.object(|key, r| match key {
                        "float" => r.option(json::Reader::numbers).map(|v| float = v),
                        _ => r.skip(),
                    })?;
                    Ok(float)
                })
                .map_err(|e| e.within_key("embeddingsByType"))?
                .flatten();
        }
        Ok(response)
    }
}

fn no_embedding(model_id: &str, member: &str, body: &[u8]) -> CodecError {
    CodecError::BadResponse(format!(
        "the {model_id} response has no \"{member}\"; body starts: {}",
        codec_kit::excerpt(body)
    ))
}
#[cfg(test)]
mod tests;
