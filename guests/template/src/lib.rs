//! A minimal bedrock-embed codec: the starting point for a new model family.
//!
//! It serves the made-up model family `example.echo-embed-` whose (imaginary) InvokeModel
//! wire format is:
//!
//! - request  `{"texts": ["...", ...], "dimensions": 256}`, at most 16 texts per call;
//! - response `{"embeddings": [[f32, ...], ...], "inputTokens": n}`.
//!
//! It is built on codec-kit, the codec SDK (guests/codec-kit): codec-kit holds the bindings of
//! `bedrock-embed:codec@0.2.0` (wit/v0.2.0/codec.wit) and `export_codec!` exports the four
//! functions below, written against its plain-Rust types, so this crate needs no WIT file and
//! no wit-bindgen of its own, and its tests call the functions directly.
//!
//! Replace the constants, [`Body`] and [`Reply`] with your model's format, and keep the rules
//! of the contract (docs/writing-a-codec.md):
//! - `info` must not fail; `check` validates params once at load; `encode` decides batching
//!   and its invocations' `input-count`s add up to the number of inputs; `decode` returns one
//!   vector per input of the invocation, of the embedding type asked for (this model offers
//!   float only);
//! - no state between calls, no I/O: the host gives a codec no files, network, environment or
//!   clock, a memory cap and a CPU deadline per call;
//! - errors are values (`codec-error`), never panics: a panic traps and fails the request.

codec_kit::export_codec!(self);

use codec_kit::{
    CodecError, CodecInfo, EmbeddingType, Embeddings, Invocation, Origin, Param, ParamSpec,
    RequestOptions, Vectors,
};
use serde::{Deserialize, Serialize};

/// The codec's name: what `params.codec` pins a model to and what listings show.
const NAME: &str = "template";
/// The base model ids this codec serves start with one of these (longest prefix wins).
const PREFIXES: &[&str] = &["example.echo-embed-"];
/// Texts per InvokeModel call.
const BATCH: usize = 16;
const DIMENSIONS: &[u32] = &[256, 512, 1024];
const DEFAULT_DIMENSIONS: u32 = 256;
/// The embedding types this model offers (a request for another is refused).
const TYPES: &[EmbeddingType] = &[EmbeddingType::Float];

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

/// What the codec is and serves; called once at load, must not fail.
pub fn info() -> CodecInfo {
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

/// Validates a model's params, once at load (and when a swapped-in file takes the model over).
pub fn check(model_id: &str, params: &[Param]) -> Result<(), CodecError> {
    Config::resolve(model_id, params, RequestOptions::default()).map(|_| ())
}

/// The InvokeModel bodies for `inputs`, in order, each with how many inputs it covers.
pub fn encode(
    model_id: &str,
    params: &[Param],
    options: RequestOptions,
    inputs: &[String],
) -> Result<Vec<Invocation>, CodecError> {
    let config = Config::resolve(model_id, params, options)?;
    codec_kit::check_inputs(model_id, inputs, None)?;
    inputs
        .chunks(BATCH)
        .map(|texts| {
            let body = serde_json::to_vec(&Body {
                texts,
                dimensions: config.dimensions,
            })
            .map_err(|e| CodecError::InvalidInput(e.to_string()))?;
            Ok(Invocation {
                body,
                input_count: texts.len() as u32,
            })
        })
        .collect()
}

/// One vector per input of the invocation whose answer `body` is.
pub fn decode(
    model_id: &str,
    params: &[Param],
    options: RequestOptions,
    body: &[u8],
    input_count: u32,
) -> Result<Embeddings, CodecError> {
    let config = Config::resolve(model_id, params, options)?;
    let reply: Reply =
        serde_json::from_slice(body).map_err(|e| codec_kit::unreadable(model_id, e, body))?;
    codec_kit::check_vectors(model_id, &reply.embeddings, input_count, config.dimensions)?;
    // The simple way: the values read here, in the sandbox. The fast way, for large responses:
    // `Vectors::Spans`, the byte range of each vector's array in `body` (from its `[` to its
    // `]`), which the host parses natively, several times faster than code in the sandbox can.
    // Finding them needs no number parsing: `codec_kit::json::Reader` walks to the key and
    // `number_arrays` scans to each array's `]`; `codec_kit::check_arrays` then checks their
    // count and lengths and returns the spans (guests/cohere/src/wire.rs does this).
    Ok(Embeddings {
        vectors: Vectors::Values(reply.embeddings),
        embedding_type: config.embedding_type,
        input_tokens: reply.input_tokens,
    })
}

/// What one call's model, params and request options resolve to.
struct Config {
    dimensions: u32,
    embedding_type: EmbeddingType,
}

impl Config {
    /// Refuses a model this codec does not serve, and any param or option outside what the
    /// model allows, naming the allowed values.
    fn resolve(
        model_id: &str,
        params: &[Param],
        options: RequestOptions,
    ) -> Result<Self, CodecError> {
        served(model_id)?;
        // The request's `dimensions`, else the param, else the default.
        let dimensions = match (options.dimensions, codec_kit::param(params, "dimensions")) {
            (Some(n), _) => codec_kit::number_in(
                Origin::RequestOption,
                "dimensions",
                &n.to_string(),
                model_id,
                DIMENSIONS,
            )?,
            (None, Some(value)) => {
                codec_kit::number_in(Origin::Param, "dimensions", value, model_id, DIMENSIONS)?
            }
            (None, None) => DEFAULT_DIMENSIONS,
        };
        let embedding_type = codec_kit::embedding_type(params, options, model_id, TYPES)?;
        Ok(Self {
            dimensions,
            embedding_type,
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

#[cfg(test)]
mod tests {
    use super::*;

    const MODEL: &str = "example.echo-embed-v1";

    #[test]
    fn encode_batches_and_decode_reads_the_reply() {
        let inputs: Vec<String> = (0..20).map(|i| format!("text {i}")).collect();
        let calls = encode(MODEL, &[], RequestOptions::default(), &inputs).unwrap();
        assert_eq!(
            calls.iter().map(|c| c.input_count).collect::<Vec<_>>(),
            [16, 4]
        );
        let body: serde_json::Value = serde_json::from_slice(&calls[1].body).unwrap();
        assert_eq!(body["dimensions"], 256);
        assert_eq!(body["texts"][0], "text 16");

        let reply =
            serde_json::json!({"embeddings": [vec![0.5; 256], vec![0.25; 256]], "inputTokens": 4});
        let out = decode(
            MODEL,
            &[],
            RequestOptions::default(),
            reply.to_string().as_bytes(),
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
        let err = check(MODEL, &[Param::new("dimensions", "300")]).unwrap_err();
        assert!(matches!(err, CodecError::InvalidParam(m) if m.contains("256, 512, 1024")));
        assert!(matches!(
            check("other.model", &[]),
            Err(CodecError::UnsupportedModel(_))
        ));
        let int8 = RequestOptions {
            embedding_type: Some(EmbeddingType::Int8),
            ..RequestOptions::default()
        };
        let err = encode(MODEL, &[], int8, &["x".into()]).unwrap_err();
        assert_eq!(
            err,
            CodecError::InvalidParam(
                "invalid value \"int8\" for request option \"embedding_type\" of \
                 example.echo-embed-v1: allowed values are float"
                    .into()
            )
        );
    }

    #[test]
    fn the_component_answers_through_the_generated_types() {
        use crate::wit;
        let info = Component::info();
        assert_eq!(info.name, NAME);
        let options = wit::RequestOptions {
            dimensions: Some(512),
            embedding_type: None,
        };
        let calls = Component::encode(MODEL.into(), vec![], options, vec!["hi".into()]).unwrap();
        assert_eq!(calls.len(), 1);
        let err = Component::check(
            MODEL.into(),
            vec![wit::Param {
                name: "dimensions".into(),
                value: "7".into(),
            }],
        )
        .unwrap_err();
        assert!(matches!(err, wit::CodecError::InvalidParam(_)), "{err:?}");
    }
}
