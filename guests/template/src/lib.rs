//! A minimal bedrock-embed codec: the starting point for a new model family.
//!
//! It serves the made-up model family `example.echo-embed-` whose (imaginary) InvokeModel
//! wire format is:
//!
//! - request  `{"texts": ["...", ...], "dimensions": 256}`, at most 16 texts per call;
//! - response `{"embeddings": [[f32, ...], ...], "inputTokens": n}`.
//!
//! Replace the constants, [`Body`] and [`Reply`] with your model's format, and keep the rules
//! of the contract (docs/writing-a-codec.md, `wit/codec.wit` of `bedrock-embed:codec@0.2.0`):
//! - `info` must not fail; `check` validates params once at load; `encode` decides batching
//!   and its invocations' `input-count`s add up to the number of inputs; `decode` returns one
//!   vector per input of the invocation, of the embedding type asked for (this model offers
//!   float only);
//! - no state between calls, no I/O: the host gives a codec no files, network, environment or
//!   clock, a memory cap and a CPU deadline per call;
//! - errors are values (`codec-error`), never panics: a panic traps and fails the request.

wit_bindgen::generate!({
    path: "../../wit/v0.2.0",
    world: "codec-guest",
});

use bedrock_embed::codec::types::{
    CodecError, CodecInfo, EmbeddingType, Embeddings, Invocation, Param, ParamSpec, RequestOptions,
    Vectors,
};
use exports::bedrock_embed::codec::codec::Guest;
use serde::{Deserialize, Serialize};

/// The codec's name: what `params.codec` pins a model to and what listings show.
const NAME: &str = "template";
/// The base model ids this codec serves start with one of these (longest prefix wins).
const PREFIXES: &[&str] = &["example.echo-embed-"];
/// Texts per InvokeModel call.
const BATCH: usize = 16;
const DIMENSIONS: &[u32] = &[256, 512, 1024];
const DEFAULT_DIMENSIONS: u32 = 256;

/// The request body.
#[derive(Serialize)]
struct Body<'a> {
    texts: &'a [String],
    dimensions: u32,
}

/// The response body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Reply {
    embeddings: Vec<Vec<f32>>,
    input_tokens: Option<u32>,
}

/// The exported component. Native builds (`cargo test`) compile it without exporting it.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Component;

#[cfg(target_arch = "wasm32")]
export!(Component);

impl Guest for Component {
    fn info() -> CodecInfo {
        CodecInfo {
            name: NAME.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            model_prefixes: PREFIXES.iter().map(|p| p.to_string()).collect(),
            params: vec![ParamSpec {
                name: "dimensions".into(),
                description: "Size of the vectors. A request's `dimensions` overrides it.".into(),
                default_value: Some(DEFAULT_DIMENSIONS.to_string()),
                allowed: DIMENSIONS.iter().map(u32::to_string).collect(),
            }],
        }
    }

    fn check(model_id: String, params: Vec<Param>) -> Result<(), CodecError> {
        served(&model_id)?;
        let defaults = RequestOptions {
            dimensions: None,
            embedding_type: None,
        };
        dimensions(&model_id, &params, defaults).map(|_| ())
    }

    fn encode(
        model_id: String,
        params: Vec<Param>,
        options: RequestOptions,
        inputs: Vec<String>,
    ) -> Result<Vec<Invocation>, CodecError> {
        served(&model_id)?;
        let dimensions = dimensions(&model_id, &params, options)?;
        float_only(&model_id, options)?;
        if inputs.is_empty() {
            return Err(CodecError::InvalidInput(
                "no input: send at least one text".into(),
            ));
        }
        if let Some(i) = inputs.iter().position(String::is_empty) {
            return Err(CodecError::InvalidInput(format!(
                "input {i} is an empty string"
            )));
        }
        inputs
            .chunks(BATCH)
            .map(|texts| {
                let body = serde_json::to_vec(&Body { texts, dimensions })
                    .map_err(|e| CodecError::InvalidInput(e.to_string()))?;
                Ok(Invocation {
                    body,
                    input_count: texts.len() as u32,
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
        let dimensions = dimensions(&model_id, &params, options)?;
        float_only(&model_id, options)?;
        let reply: Reply = serde_json::from_slice(&body).map_err(|e| {
            CodecError::BadResponse(format!("cannot read the {model_id} response: {e}"))
        })?;
        if reply.embeddings.len() != input_count as usize {
            return Err(CodecError::BadResponse(format!(
                "{model_id} returned {} vectors for {input_count} inputs",
                reply.embeddings.len()
            )));
        }
        if reply
            .embeddings
            .iter()
            .any(|v| v.len() != dimensions as usize)
        {
            return Err(CodecError::BadResponse(format!(
                "{model_id} returned vectors that are not {dimensions} long"
            )));
        }
        // The simple way: the values read here, in the sandbox. The fast way, for large
        // responses: `Vectors::Spans`, the byte range of each vector's array in `body` (from its
        // `[` to its `]`), which the host parses natively, several times faster than code in the
        // sandbox can. Finding them needs no number parsing: guests/codec-kit's
        // `json::Reader::numbers` scans to each array's `]`; with serde_json, deserialize the
        // arrays as `&serde_json::value::RawValue` (feature "raw_value") and take their offsets
        // in `body`.
        Ok(Embeddings {
            vectors: Vectors::Values(reply.embeddings),
            embedding_type: EmbeddingType::Float,
            input_tokens: reply.input_tokens,
        })
    }
}

fn served(model_id: &str) -> Result<(), CodecError> {
    if PREFIXES.iter().any(|p| model_id.starts_with(p)) {
        Ok(())
    } else {
        Err(CodecError::UnsupportedModel(format!(
            "the {NAME} codec does not serve {model_id:?}; it serves {}",
            PREFIXES
                .iter()
                .map(|p| format!("{p}*"))
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }
}

/// This model's vectors are floats: a request for another embedding type is refused with the
/// allowed values named (a model offering more would also take an `embedding_type` param).
fn float_only(model_id: &str, options: RequestOptions) -> Result<(), CodecError> {
    match options.embedding_type {
        None | Some(EmbeddingType::Float) => Ok(()),
        Some(other) => Err(CodecError::InvalidParam(format!(
            "invalid value \"{}\" for request option \"embedding_type\" of {model_id}: allowed \
             values are float",
            type_name(other)
        ))),
    }
}

/// The WIT's name of an embedding type.
fn type_name(t: EmbeddingType) -> &'static str {
    match t {
        EmbeddingType::Float => "float",
        EmbeddingType::Int8 => "int8",
        EmbeddingType::Uint8 => "uint8",
        EmbeddingType::Binary => "binary",
        EmbeddingType::Ubinary => "ubinary",
    }
}

/// The request's `dimensions`, else the `dimensions` param, else the default; one of
/// [`DIMENSIONS`].
fn dimensions(
    model_id: &str,
    params: &[Param],
    options: RequestOptions,
) -> Result<u32, CodecError> {
    let (origin, value) = match (
        options.dimensions,
        params.iter().rfind(|p| p.name == "dimensions"),
    ) {
        (Some(n), _) => ("request option", n.to_string()),
        (None, Some(p)) => ("param", p.value.trim().to_string()),
        (None, None) => return Ok(DEFAULT_DIMENSIONS),
    };
    value
        .parse::<u32>()
        .ok()
        .filter(|n| DIMENSIONS.contains(n))
        .ok_or_else(|| {
            CodecError::InvalidParam(format!(
                "invalid value \"{value}\" for {origin} \"dimensions\" of {model_id}: allowed \
                 values are {}",
                DIMENSIONS
                    .iter()
                    .map(u32::to_string)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = "example.echo-embed-v1";
    const DEFAULTS: RequestOptions = RequestOptions {
        dimensions: None,
        embedding_type: None,
    };

    #[test]
    fn encode_batches_and_decode_reads_the_reply() {
        let inputs: Vec<String> = (0..20).map(|i| format!("text {i}")).collect();
        let calls = Component::encode(MODEL.into(), vec![], DEFAULTS, inputs).unwrap();
        assert_eq!(
            calls.iter().map(|c| c.input_count).collect::<Vec<_>>(),
            [16, 4]
        );
        let body: serde_json::Value = serde_json::from_slice(&calls[1].body).unwrap();
        assert_eq!(body["dimensions"], 256);
        assert_eq!(body["texts"][0], "text 16");

        let reply =
            serde_json::json!({"embeddings": [vec![0.5; 256], vec![0.25; 256]], "inputTokens": 4});
        let out = Component::decode(
            MODEL.into(),
            vec![],
            DEFAULTS,
            reply.to_string().into_bytes(),
            2,
        )
        .unwrap();
        let Vectors::Values(vectors) = &out.vectors else {
            panic!("{:?}", out.vectors)
        };
        assert_eq!(vectors.len(), 2);
        assert_eq!(vectors[1][0], 0.25);
        assert_eq!(out.embedding_type, EmbeddingType::Float);
        assert_eq!(out.input_tokens, Some(4));
    }

    #[test]
    fn bad_params_and_unknown_models_are_refused() {
        let params = vec![Param {
            name: "dimensions".into(),
            value: "300".into(),
        }];
        let err = Component::check(MODEL.into(), params).unwrap_err();
        assert!(matches!(err, CodecError::InvalidParam(m) if m.contains("256, 512, 1024")));
        assert!(matches!(
            Component::check("other.model".into(), vec![]),
            Err(CodecError::UnsupportedModel(_))
        ));
        let int8 = RequestOptions {
            embedding_type: Some(EmbeddingType::Int8),
            ..DEFAULTS
        };
        let err = Component::encode(MODEL.into(), vec![], int8, vec!["x".into()]).unwrap_err();
        assert!(
            matches!(&err, CodecError::InvalidParam(m) if m == "invalid value \"int8\" for request option \"embedding_type\" of example.echo-embed-v1: allowed values are float"),
            "{err:?}"
        );
    }
}
