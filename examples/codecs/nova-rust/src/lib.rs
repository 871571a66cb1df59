//! A bedrock-embed codec for Amazon Nova 2 multimodal embeddings
//! (`amazon.nova-2-multimodal-embeddings-v1:0`), text input: an example of a third-party codec,
//! made from `guests/template` with `just new-codec nova examples/codecs/nova-rust`, on
//! codec-kit (guests/codec-kit, the codec SDK: the bindings of `bedrock-embed:codec@0.2.0` and
//! their export).
//!
//! Wire format (synchronous InvokeModel, one text per call):
//!
//! - request `{"schemaVersion": "nova-multimodal-embed-v1", "taskType": "SINGLE_EMBEDDING",
//!   "singleEmbeddingParams": {"embeddingPurpose": "...", "embeddingDimension": 256 | 384 |
//!   1024 | 3072, "text": {"truncationMode": "START" | "END" | "NONE", "value": "..."}}}`;
//! - response `{"embeddings": [{"embeddingType": "TEXT", "embedding": [...],
//!   "truncatedCharLength"?: n}]}`; input tokens come in the
//!   `X-Amzn-Bedrock-Input-Token-Count` header (the host reads it) or `inputTokenCount`.
//!
//! Params: `dimensions` (3072 by default), `embedding_purpose` (GENERIC_INDEX by default),
//! `truncation_mode` (END by default).

codec_kit::export_codec!(self);

use codec_kit::{
    CodecError, CodecInfo, EmbeddingType, Embeddings, Invocation, Origin, Param, ParamSpec,
    RequestOptions, Vectors,
};
use serde::{Deserialize, Serialize};

const NAME: &str = "nova";
const PREFIXES: &[&str] = &["amazon.nova-2-multimodal-embeddings-"];
/// The documented model ids (a `:`-suffixed variant of one is the same model).
const MODELS: &[(&str, ())] = &[("amazon.nova-2-multimodal-embeddings-v1:0", ())];
const DIMENSIONS: &[u32] = &[256, 384, 1024, 3072];
const DEFAULT_DIMENSIONS: u32 = 3072;
const PURPOSES: &[&str] = &[
    "GENERIC_INDEX",
    "GENERIC_RETRIEVAL",
    "TEXT_RETRIEVAL",
    "IMAGE_RETRIEVAL",
    "VIDEO_RETRIEVAL",
    "DOCUMENT_RETRIEVAL",
    "AUDIO_RETRIEVAL",
    "CLASSIFICATION",
    "CLUSTERING",
];
const TRUNCATION: &[&str] = &["END", "START", "NONE"];

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    schema_version: &'static str,
    task_type: &'static str,
    single_embedding_params: SingleParams<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SingleParams<'a> {
    embedding_purpose: &'static str,
    embedding_dimension: u32,
    text: Text<'a>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Text<'a> {
    truncation_mode: &'static str,
    value: &'a str,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reply {
    embeddings: Vec<Entry>,
    input_token_count: Option<u32>,
}

#[derive(Deserialize)]
struct Entry {
    embedding: Vec<f32>,
}

/// Everything a call needs, from the params and the request options.
struct Config {
    dimensions: u32,
    purpose: &'static str,
    truncation: &'static str,
}

/// What the codec is and serves.
pub fn info() -> CodecInfo {
    let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
    let spec = |name: &str, description: &str, default: &str, allowed: Vec<String>| ParamSpec {
        name: name.into(),
        description: description.into(),
        default_value: Some(default.into()),
        allowed,
    };
    CodecInfo {
        name: NAME.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        model_prefixes: strings(PREFIXES),
        params: vec![
            spec(
                "dimensions",
                "Size of the vectors (embeddingDimension). A request's `dimensions` overrides it.",
                "3072",
                DIMENSIONS.iter().map(u32::to_string).collect(),
            ),
            spec(
                "embedding_purpose",
                "What the vectors are for (embeddingPurpose), e.g. GENERIC_INDEX for documents \
                 and GENERIC_RETRIEVAL or TEXT_RETRIEVAL for queries.",
                "GENERIC_INDEX",
                strings(PURPOSES),
            ),
            spec(
                "truncation_mode",
                "What Bedrock does with a text over 8,192 tokens: END drops the end, START \
                 the start, NONE refuses it.",
                "END",
                strings(TRUNCATION),
            ),
        ],
    }
}

/// Validates a model's params, at load.
pub fn check(model_id: &str, params: &[Param]) -> Result<(), CodecError> {
    config(model_id, params, RequestOptions::default()).map(|_| ())
}

/// One body per text: synchronous Nova calls embed one item each.
pub fn encode(
    model_id: &str,
    params: &[Param],
    options: RequestOptions,
    inputs: &[String],
) -> Result<Vec<Invocation>, CodecError> {
    let config = config(model_id, params, options)?;
    codec_kit::check_inputs(model_id, inputs, None)?;
    inputs
        .iter()
        .map(|value| {
            let body = Body {
                schema_version: "nova-multimodal-embed-v1",
                task_type: "SINGLE_EMBEDDING",
                single_embedding_params: SingleParams {
                    embedding_purpose: config.purpose,
                    embedding_dimension: config.dimensions,
                    text: Text {
                        truncation_mode: config.truncation,
                        value,
                    },
                },
            };
            let body =
                serde_json::to_vec(&body).map_err(|e| CodecError::InvalidInput(e.to_string()))?;
            Ok(Invocation {
                body,
                input_count: 1,
            })
        })
        .collect()
}

/// The vector of one answer, read here (the simple way: values, not spans).
pub fn decode(
    model_id: &str,
    params: &[Param],
    options: RequestOptions,
    body: &[u8],
    input_count: u32,
) -> Result<Embeddings, CodecError> {
    let config = config(model_id, params, options)?;
    let reply: Reply =
        serde_json::from_slice(body).map_err(|e| codec_kit::unreadable(model_id, e, body))?;
    let vectors: Vec<Vec<f32>> = reply.embeddings.into_iter().map(|e| e.embedding).collect();
    codec_kit::check_vectors(model_id, &vectors, input_count, config.dimensions)?;
    Ok(Embeddings {
        vectors: Vectors::Values(vectors),
        embedding_type: EmbeddingType::Float,
        input_tokens: reply.input_token_count,
    })
}

fn config(model_id: &str, params: &[Param], options: RequestOptions) -> Result<Config, CodecError> {
    codec_kit::find_model(NAME, model_id, MODELS)?;
    // Nova's synchronous text embeddings are floats only.
    codec_kit::embedding_type(params, options, model_id, &[EmbeddingType::Float])?;
    let from_param = match codec_kit::param(params, "dimensions") {
        Some(value) => {
            codec_kit::number_in(Origin::Param, "dimensions", value, model_id, DIMENSIONS)?
        }
        None => DEFAULT_DIMENSIONS,
    };
    let dimensions = match options.dimensions {
        Some(n) => codec_kit::number_in(
            Origin::RequestOption,
            "dimensions",
            &n.to_string(),
            model_id,
            DIMENSIONS,
        )?,
        None => from_param,
    };
    Ok(Config {
        dimensions,
        purpose: codec_kit::choice(params, "embedding_purpose", model_id, PURPOSES, PURPOSES[0])?,
        truncation: codec_kit::choice(
            params,
            "truncation_mode",
            model_id,
            TRUNCATION,
            TRUNCATION[0],
        )?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const MODEL: &str = "amazon.nova-2-multimodal-embeddings-v1:0";

    fn p(name: &str, value: &str) -> Param {
        Param::new(name, value)
    }

    #[test]
    fn one_documented_body_per_text() {
        let params = [
            p("dimensions", "1024"),
            p("embedding_purpose", "text_retrieval"),
        ];
        let options = RequestOptions {
            dimensions: Some(256),
            ..RequestOptions::default()
        };
        let calls = encode(MODEL, &params, options, &["a".into(), "b".into()]).unwrap();
        assert_eq!(calls.len(), 2);
        let body: Value = serde_json::from_slice(&calls[1].body).unwrap();
        assert_eq!(
            body,
            json!({
                "schemaVersion": "nova-multimodal-embed-v1",
                "taskType": "SINGLE_EMBEDDING",
                "singleEmbeddingParams": {
                    "embeddingPurpose": "TEXT_RETRIEVAL",
                    "embeddingDimension": 256,
                    "text": {"truncationMode": "END", "value": "b"}
                }
            })
        );
    }

    #[test]
    fn decodes_the_documented_response() {
        let reply =
            json!({"embeddings": [{"embeddingType": "TEXT", "embedding": vec![0.25; 256]}]});
        let out = decode(
            MODEL,
            &[p("dimensions", "256")],
            RequestOptions::default(),
            reply.to_string().as_bytes(),
            1,
        )
        .unwrap();
        assert_eq!(out.vectors, Vectors::Values(vec![vec![0.25; 256]]));
        let err = decode(MODEL, &[], RequestOptions::default(), b"{}", 1).unwrap_err();
        assert!(matches!(err, CodecError::BadResponse(_)));
    }

    #[test]
    fn bad_values_name_the_allowed_ones() {
        let err = check(MODEL, &[p("dimensions", "512")]).unwrap_err();
        assert!(
            matches!(&err, CodecError::InvalidParam(m) if m.contains("256, 384, 1024, 3072")),
            "{err:?}"
        );
        let err = check(MODEL, &[p("truncation_mode", "MIDDLE")]).unwrap_err();
        assert!(
            matches!(&err, CodecError::InvalidParam(m) if m.contains("END, START, NONE")),
            "{err:?}"
        );
        assert!(matches!(
            check("amazon.nova-2-multimodal-embeddings-v9", &[]),
            Err(CodecError::UnsupportedModel(_))
        ));
        let int8 = RequestOptions {
            embedding_type: Some(EmbeddingType::Int8),
            ..RequestOptions::default()
        };
        assert!(matches!(
            encode(MODEL, &[], int8, &["x".into()]),
            Err(CodecError::InvalidParam(m)) if m.contains("allowed values are float")
        ));
    }
}
