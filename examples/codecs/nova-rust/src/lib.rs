//! A bedrock-embed codec for Amazon Nova 2 multimodal embeddings
//! (`amazon.nova-2-multimodal-embeddings-v1:0`), text input: an example of a third-party codec,
//! made from `guests/template` with `just new-codec nova examples/codecs/nova-rust`.
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

wit_bindgen::generate!({
    path: "wit",
    world: "codec-guest",
});

use bedrock_embed::codec::types::{
    CodecError, CodecInfo, Embeddings, Invocation, Param, ParamSpec, RequestOptions,
};
use exports::bedrock_embed::codec::codec::Guest;
use serde::{Deserialize, Serialize};

const NAME: &str = "nova";
const PREFIXES: &[&str] = &["amazon.nova-2-multimodal-embeddings-"];
/// The documented model ids (a `:`-suffixed variant of one is the same model).
const MODELS: &[&str] = &["amazon.nova-2-multimodal-embeddings-v1:0"];
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

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Component;

#[cfg(target_arch = "wasm32")]
export!(Component);

impl Guest for Component {
    fn info() -> CodecInfo {
        let spec = |name: &str, description: &str, default: &str, allowed: Vec<String>| ParamSpec {
            name: name.into(),
            description: description.into(),
            default_value: Some(default.into()),
            allowed,
        };
        let strings = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        CodecInfo {
            name: NAME.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            model_prefixes: PREFIXES.iter().map(|p| p.to_string()).collect(),
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

    fn check(model_id: String, params: Vec<Param>) -> Result<(), CodecError> {
        served(&model_id)?;
        config(&model_id, &params, RequestOptions { dimensions: None }).map(|_| ())
    }

    fn encode(
        model_id: String,
        params: Vec<Param>,
        options: RequestOptions,
        inputs: Vec<String>,
    ) -> Result<Vec<Invocation>, CodecError> {
        served(&model_id)?;
        let config = config(&model_id, &params, options)?;
        if inputs.is_empty() {
            return Err(CodecError::InvalidInput(format!(
                "no input: {model_id} needs at least one text"
            )));
        }
        if let Some(i) = inputs.iter().position(String::is_empty) {
            return Err(CodecError::InvalidInput(format!(
                "input {i} is an empty string: {model_id} needs non-empty text"
            )));
        }
        // Synchronous Nova calls embed one item each.
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
                let body = serde_json::to_vec(&body)
                    .map_err(|e| CodecError::InvalidInput(e.to_string()))?;
                Ok(Invocation {
                    body,
                    input_count: 1,
                })
            })
            .collect()
    }

    fn decode(
        model_id: String,
        params: Vec<Param>,
        options: RequestOptions,
        body: Vec<u8>,
        input_count: u32,
    ) -> Result<Embeddings, CodecError> {
        let config = config(&model_id, &params, options)?;
        let reply: Reply = serde_json::from_slice(&body).map_err(|e| {
            let start = String::from_utf8_lossy(&body[..body.len().min(200)]).into_owned();
            CodecError::BadResponse(format!(
                "cannot read the {model_id} response: {e}; body starts: {start}"
            ))
        })?;
        let vectors: Vec<Vec<f32>> = reply.embeddings.into_iter().map(|e| e.embedding).collect();
        if vectors.len() != input_count as usize {
            return Err(CodecError::BadResponse(format!(
                "{model_id} returned {} vectors for {input_count} inputs",
                vectors.len()
            )));
        }
        if let Some(v) = vectors
            .iter()
            .find(|v| v.len() != config.dimensions as usize)
        {
            return Err(CodecError::BadResponse(format!(
                "{model_id} returned a vector of {} dimensions; {} were asked for",
                v.len(),
                config.dimensions
            )));
        }
        Ok(Embeddings {
            vectors,
            input_tokens: reply.input_token_count,
        })
    }
}

fn served(model_id: &str) -> Result<(), CodecError> {
    let known = MODELS.iter().any(|m| {
        model_id == *m
            || model_id
                .strip_prefix(m)
                .is_some_and(|rest| rest.starts_with(':'))
    });
    if known {
        Ok(())
    } else {
        Err(CodecError::UnsupportedModel(format!(
            "the {NAME} codec does not know model {model_id:?}; it serves {}",
            MODELS.join(", ")
        )))
    }
}

fn param<'a>(params: &'a [Param], name: &str) -> Option<&'a str> {
    params
        .iter()
        .rfind(|p| p.name == name)
        .map(|p| p.value.trim())
}

fn invalid(
    origin: &str,
    name: &str,
    value: &str,
    model_id: &str,
    allowed: &[String],
) -> CodecError {
    CodecError::InvalidParam(format!(
        "invalid value \"{value}\" for {origin} \"{name}\" of {model_id}: allowed values are {}",
        allowed.join(", ")
    ))
}

fn choice(
    params: &[Param],
    name: &str,
    model_id: &str,
    allowed: &[&'static str],
) -> Result<&'static str, CodecError> {
    match param(params, name) {
        None => Ok(allowed[0]),
        Some(value) => allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(value))
            .copied()
            .ok_or_else(|| {
                invalid(
                    "param",
                    name,
                    value,
                    model_id,
                    &allowed.iter().map(|s| s.to_string()).collect::<Vec<_>>(),
                )
            }),
    }
}

fn config(model_id: &str, params: &[Param], options: RequestOptions) -> Result<Config, CodecError> {
    let allowed: Vec<String> = DIMENSIONS.iter().map(u32::to_string).collect();
    let dimension = |origin: &str, value: &str| {
        value
            .parse::<u32>()
            .ok()
            .filter(|n| DIMENSIONS.contains(n))
            .ok_or_else(|| invalid(origin, "dimensions", value, model_id, &allowed))
    };
    let from_param = match param(params, "dimensions") {
        Some(value) => dimension("param", value)?,
        None => DEFAULT_DIMENSIONS,
    };
    let dimensions = match options.dimensions {
        Some(n) => dimension("request option", &n.to_string())?,
        None => from_param,
    };
    Ok(Config {
        dimensions,
        purpose: choice(params, "embedding_purpose", model_id, PURPOSES)?,
        truncation: choice(params, "truncation_mode", model_id, TRUNCATION)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    const MODEL: &str = "amazon.nova-2-multimodal-embeddings-v1:0";

    fn p(name: &str, value: &str) -> Param {
        Param {
            name: name.into(),
            value: value.into(),
        }
    }

    #[test]
    fn one_documented_body_per_text() {
        let params = vec![
            p("dimensions", "1024"),
            p("embedding_purpose", "text_retrieval"),
        ];
        let calls = Component::encode(
            MODEL.into(),
            params,
            RequestOptions {
                dimensions: Some(256),
            },
            vec!["a".into(), "b".into()],
        )
        .unwrap();
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
        let out = Component::decode(
            MODEL.into(),
            vec![p("dimensions", "256")],
            RequestOptions { dimensions: None },
            reply.to_string().into_bytes(),
            1,
        )
        .unwrap();
        assert_eq!(out.vectors[0].len(), 256);
        let err = Component::decode(
            MODEL.into(),
            vec![],
            RequestOptions { dimensions: None },
            b"{}".to_vec(),
            1,
        )
        .unwrap_err();
        assert!(matches!(err, CodecError::BadResponse(_)));
    }

    #[test]
    fn bad_values_name_the_allowed_ones() {
        let err = Component::check(MODEL.into(), vec![p("dimensions", "512")]).unwrap_err();
        assert!(
            matches!(&err, CodecError::InvalidParam(m) if m.contains("256, 384, 1024, 3072")),
            "{err:?}"
        );
        let err = Component::check(MODEL.into(), vec![p("truncation_mode", "MIDDLE")]).unwrap_err();
        assert!(
            matches!(&err, CodecError::InvalidParam(m) if m.contains("END, START, NONE")),
            "{err:?}"
        );
        assert!(matches!(
            Component::check("amazon.nova-2-multimodal-embeddings-v9".into(), vec![]),
            Err(CodecError::UnsupportedModel(_))
        ));
    }
}
