//! The Cohere Embed models' InvokeModel wire format, in plain Rust (no bindings).
//!
//! From the AWS model-parameter pages (see shared BEDROCK-WIRE.md):
//! - `cohere.embed-english-v3`, `cohere.embed-multilingual-v3`: `{"texts": [at most 96, each at
//!   most 2,048 characters], "input_type", "truncate": "NONE" | "START" | "END",
//!   "embedding_types"?: [type]}`; 1,024 dimensions, fixed.
//! - `cohere.embed-v4:0`: `{"texts", "input_type", "truncate": "NONE" | "LEFT" | "RIGHT",
//!   "output_dimension": 256 | 512 | 1024 | 1536, "max_tokens"?, "embedding_types": [type]}`;
//!   96 texts per call.
//!
//! Both offer every embedding type: float, int8, uint8, binary and ubinary (packed bits, 8
//! dimensions per value, as the WIT's types are). One is asked for per request.
//!
//! `truncate` is always sent: its documented default differs between versions of the page
//! (NONE in older ones, END in the current English one). Ours is NONE: a text too long for the
//! model fails loudly instead of being embedded cut short without anyone knowing.
//!
//! Responses come in two shapes, `"embeddings": [[floats], ...]` (v3 without
//! `embedding_types`) and `"embeddings": {"float": [[floats], ...], "int8": ...}` (by type: v4
//! always, whatever the docs show; v3 with `embedding_types`). A 96 x 1536 response is over 1 MB of JSON, nearly all numbers:
//! `decode` finds each vector's array with [`codec_kit::json::Reader::numbers`] without reading
//! the numbers and returns the spans, which the host parses natively. The token count is only in
//! the `X-Amzn-Bedrock-Input-Token-Count` header, which the host reads.

use codec_kit::{
    CodecError, CodecInfo, EmbeddingType, Embeddings, Invocation, Origin, Param, ParamSpec,
    RequestOptions, Vectors, json,
};
use serde::Serialize;

pub const NAME: &str = "cohere";
pub const MODEL_PREFIXES: &[&str] = &["cohere.embed-"];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Model {
    /// embed-english-v3 and embed-multilingual-v3: same wire format.
    V3,
    V4,
}

/// The documented ids; each also matches its `:`-suffixed variants (see `codec_kit::find_model`).
/// Plain `cohere.embed-v4` (the id the AWS page names) is refused by Bedrock: `find_model`
/// answers it with "did you mean cohere.embed-v4:0?".
const KNOWN: &[(&str, Model)] = &[
    ("cohere.embed-english-v3", Model::V3),
    ("cohere.embed-multilingual-v3", Model::V3),
    ("cohere.embed-v4:0", Model::V4),
];

/// Texts per InvokeModel call, both versions.
pub const MAX_TEXTS_PER_CALL: usize = 96;
/// v3 only. Bedrock checks it on the request's schema (`#/texts/0: expected maxLength: 2048`)
/// before the model sees the text, so it holds whatever `truncate` says; v4 documents no
/// character limit (its context is ~128k tokens).
pub const V3_MAX_CHARS: usize = 2048;
pub const V3_DIMENSIONS: u32 = 1024;
pub const V4_DIMENSIONS: &[u32] = &[256, 512, 1024, 1536];
pub const V4_DEFAULT_DIMENSIONS: u32 = 1536;
pub const V4_MAX_TOKENS: u32 = 128_000;
pub const INPUT_TYPES: &[&str] = &[
    "search_document",
    "search_query",
    "classification",
    "clustering",
];
pub const DEFAULT_INPUT_TYPE: &str = "search_document";
pub const V3_TRUNCATE: &[&str] = &["NONE", "START", "END"];
pub const V4_TRUNCATE: &[&str] = &["NONE", "LEFT", "RIGHT"];
pub const DEFAULT_TRUNCATE: &str = "NONE";

pub const PARAM_INPUT_TYPE: &str = "input_type";
pub const PARAM_TRUNCATE: &str = "truncate";
pub const PARAM_OUTPUT_DIMENSION: &str = "output_dimension";
/// Accepted as an alias of `output_dimension`: the Titan codec and OpenAI call it that.
pub const PARAM_DIMENSIONS: &str = "dimensions";
pub const PARAM_MAX_TOKENS: &str = "max_tokens";
pub const PARAM_EMBEDDING_TYPE: &str = codec_kit::PARAM_EMBEDDING_TYPE;

/// The embedding types each model offers: all of them, on both versions.
pub fn embedding_types(_model: Model) -> &'static [EmbeddingType] {
    &EmbeddingType::ALL
}

pub fn info() -> CodecInfo {
    CodecInfo {
        name: NAME.to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        model_prefixes: MODEL_PREFIXES.iter().map(|&p| p.to_owned()).collect(),
        params: vec![
            ParamSpec::new(
                PARAM_INPUT_TYPE,
                "What the texts are for: search_document (stored in a vector database), \
                 search_query, classification or clustering. Any case.",
                Some(DEFAULT_INPUT_TYPE),
                INPUT_TYPES,
            ),
            ParamSpec::new(
                PARAM_TRUNCATE,
                "What the model does with a text over its token limit. v3 models: NONE (fail), \
                 START or END (drop that end). cohere.embed-v4:0: NONE, LEFT or RIGHT. Any case; \
                 always sent. v3 texts over 2,048 characters are refused whatever this says \
                 (Bedrock does too).",
                Some(DEFAULT_TRUNCATE),
                &["NONE", "START", "END", "LEFT", "RIGHT"],
            ),
            ParamSpec::new(
                PARAM_OUTPUT_DIMENSION,
                "Size of the vectors. cohere.embed-v4:0: 256, 512, 1024 or 1536 (default). v3 \
                 models: fixed at 1024 (only 1024 is accepted). A request's `dimensions` \
                 overrides it.",
                Some("1536"),
                &["256", "512", "1024", "1536"],
            ),
            ParamSpec::new(
                PARAM_DIMENSIONS,
                "Alias of output_dimension (giving both with different values is an error).",
                Some("1536"),
                &["256", "512", "1024", "1536"],
            ),
            ParamSpec::new(
                PARAM_MAX_TOKENS,
                "cohere.embed-v4:0 only: the most tokens per text the model reads, 1 to 128000. \
                 Sent only when given.",
                None,
                &[],
            ),
            ParamSpec::new(
                PARAM_EMBEDDING_TYPE,
                "The type of the vectors' values, every model: float (default), int8, uint8, \
                 binary or ubinary (binary types: 8 dimensions per value, the first in the most \
                 significant bit). Any case; sent as `embedding_types`. A request's \
                 `embedding_type` overrides it.",
                Some("float"),
                &["float", "int8", "uint8", "binary", "ubinary"],
            ),
        ],
    }
}

/// Everything a call needs, resolved from the model id, the params and the request options.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Config<'a> {
    pub model_id: &'a str,
    pub model: Model,
    pub input_type: &'static str,
    pub truncate: &'static str,
    pub dimensions: u32,
    /// v4 only.
    pub max_tokens: Option<u32>,
    pub embedding_type: EmbeddingType,
}

impl<'a> Config<'a> {
    pub fn resolve(
        model_id: &'a str,
        params: &[Param],
        options: RequestOptions,
    ) -> Result<Self, CodecError> {
        let model = codec_kit::find_model(NAME, model_id, KNOWN)?;
        let input_type = codec_kit::choice(
            params,
            PARAM_INPUT_TYPE,
            model_id,
            INPUT_TYPES,
            DEFAULT_INPUT_TYPE,
        )?;
        let truncate_values = match model {
            Model::V3 => V3_TRUNCATE,
            Model::V4 => V4_TRUNCATE,
        };
        let truncate = codec_kit::choice(
            params,
            PARAM_TRUNCATE,
            model_id,
            truncate_values,
            DEFAULT_TRUNCATE,
        )?;

        let dimensions = |origin, name: &str, value: &str| match model {
            Model::V3 => codec_kit::fixed_number(origin, name, value, model_id, V3_DIMENSIONS),
            Model::V4 => codec_kit::number_in(origin, name, value, model_id, V4_DIMENSIONS),
        };
        let mut from_params = None;
        for name in [PARAM_OUTPUT_DIMENSION, PARAM_DIMENSIONS] {
            if let Some(value) = codec_kit::param(params, name) {
                let n = dimensions(Origin::Param, name, value)?;
                match from_params {
                    Some((first, m)) if m != n => {
                        return Err(CodecError::InvalidParam(format!(
                            "params \"{first}\" ({m}) and \"{name}\" ({n}) of {model_id} \
                             disagree: \"{name}\" is an alias of \"{first}\"; give one"
                        )));
                    }
                    _ => from_params = Some((name, n)),
                }
            }
        }
        let from_request = match options.dimensions {
            Some(n) => Some(dimensions(
                Origin::RequestOption,
                "dimensions",
                &n.to_string(),
            )?),
            None => None,
        };
        let default = match model {
            Model::V3 => V3_DIMENSIONS,
            Model::V4 => V4_DEFAULT_DIMENSIONS,
        };

        let max_tokens = match (model, codec_kit::param(params, PARAM_MAX_TOKENS)) {
            (_, None) => None,
            (Model::V3, Some(value)) => {
                return Err(codec_kit::not_supported(
                    PARAM_MAX_TOKENS,
                    value,
                    model_id,
                    "only cohere.embed-v4:0 takes it (v3 texts are at most 2,048 characters)",
                ));
            }
            (Model::V4, Some(value)) => Some(
                value
                    .parse::<u32>()
                    .ok()
                    .filter(|n| (1..=V4_MAX_TOKENS).contains(n))
                    .ok_or_else(|| {
                        CodecError::InvalidParam(format!(
                            "invalid value \"{value}\" for param \"{PARAM_MAX_TOKENS}\" of \
                             {model_id}: allowed values are whole numbers from 1 to {V4_MAX_TOKENS}"
                        ))
                    })?,
            ),
        };

        let embedding_type =
            codec_kit::embedding_type(params, options, model_id, embedding_types(model))?;

        Ok(Self {
            model_id,
            model,
            input_type,
            truncate,
            dimensions: from_request
                .or(from_params.map(|(_, n)| n))
                .unwrap_or(default),
            max_tokens,
            embedding_type,
        })
    }

    fn max_chars(&self) -> Option<usize> {
        (self.model == Model::V3).then_some(V3_MAX_CHARS)
    }

    /// The InvokeModel body for one batch of at most [`MAX_TEXTS_PER_CALL`] texts.
    pub fn body(&self, texts: &[String]) -> Vec<u8> {
        let v4 = self.model == Model::V4;
        let body = Body {
            texts,
            input_type: self.input_type,
            truncate: self.truncate,
            output_dimension: v4.then_some(self.dimensions),
            max_tokens: self.max_tokens,
            // v3 keeps its basic request for float (no `embedding_types`: it answers with a
            // list); v4 answers by type anyway, so it is told the one type read back.
            embedding_types: (v4 || self.embedding_type != EmbeddingType::Float)
                .then_some([self.embedding_type.as_str()]),
        };
        serde_json::to_vec(&body).expect("a struct of strings and numbers serializes")
    }
}

#[derive(Serialize)]
struct Body<'a> {
    texts: &'a [String],
    input_type: &'static str,
    truncate: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    output_dimension: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_tokens: Option<u32>,
    /// The one type read back. Left out for v3 float, as the AWS page's basic request has none
    /// (it then answers with a list).
    #[serde(skip_serializing_if = "Option::is_none")]
    embedding_types: Option<[&'static str; 1]>,
}

pub fn check(model_id: &str, params: &[Param]) -> Result<(), CodecError> {
    Config::resolve(model_id, params, RequestOptions::default()).map(|_| ())
}

/// Batches of [`MAX_TEXTS_PER_CALL`] texts, in order: 200 texts make calls of 96, 96 and 8.
pub fn encode(
    model_id: &str,
    params: &[Param],
    options: RequestOptions,
    inputs: &[String],
) -> Result<Vec<Invocation>, CodecError> {
    let config = Config::resolve(model_id, params, options)?;
    codec_kit::check_inputs(model_id, inputs, config.max_chars())?;
    Ok(inputs
        .chunks(MAX_TEXTS_PER_CALL)
        .map(|texts| Invocation {
            body: config.body(texts),
            input_count: texts.len() as u32,
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
    let count = (input_count as usize).min(MAX_TEXTS_PER_CALL);
    let arrays = read_vectors(body, count, config.embedding_type)
        .map_err(|e| codec_kit::unreadable(model_id, e, body))?;
    let spans = codec_kit::check_arrays(
        model_id,
        &arrays,
        input_count,
        config.dimensions,
        config.embedding_type,
    )?;
    Ok(Embeddings {
        vectors: Vectors::Spans(spans),
        embedding_type: config.embedding_type,
        input_tokens: None,
    })
}

/// Where the vectors of `embedding_type` are in either response shape; `count` is the number
/// expected (a hint). Only `embeddings` is looked into; `id`, `response_type`, `texts` (an echo
/// of the inputs) and the rest are stepped over (their structure checked).
fn read_vectors(
    body: &[u8],
    count: usize,
    embedding_type: EmbeddingType,
) -> Result<Vec<json::NumberArray>, json::Error> {
    let mut reader = json::Reader::new(body);
    let mut vectors = None;
    reader.object(|key, r| match key {
        "embeddings" => read_embeddings(r, count, embedding_type).map(|v| vectors = Some(v)),
        _ => r.skip(),
    })?;
    let vectors = vectors.ok_or_else(|| reader.error("missing field `embeddings`"))?;
    reader.finish()?;
    Ok(vectors)
}

/// `"embeddings": [[...], ...]` (float only) or `"embeddings": {"float": [[...], ...], "int8":
/// ...}`: one array per vector. The types not asked for are stepped over.
fn read_embeddings(
    r: &mut json::Reader<'_>,
    count: usize,
    embedding_type: EmbeddingType,
) -> Result<Vec<json::NumberArray>, json::Error> {
    let name = embedding_type.as_str();
    if r.peek() != Some(b'{') {
        if embedding_type != EmbeddingType::Float && r.peek() == Some(b'[') {
            return Err(r.unexpected(&format!(
                "the embeddings by type, with \"{name}\" (a list holds floats only)"
            )));
        }
        return r.number_arrays(count);
    }
    let mut wanted = None;
    let mut others = Vec::new();
    r.object(|key, r| {
        if key == name {
            r.number_arrays(count).map(|v| wanted = Some(v))
        } else {
            others.push(key.to_owned());
            r.skip()
        }
    })?;
    wanted.ok_or_else(|| {
        r.error(format!(
            "the embeddings by type have no \"{name}\" list (types: {})",
            if others.is_empty() {
                "none".to_owned()
            } else {
                others.join(", ")
            }
        ))
    })
}

#[cfg(test)]
mod tests;
