//! The Cohere codec as a WASI p2 component (world `codec-guest` of `wit/codec.wit`).
//!
//! The wire logic lives in [`wire`], plain Rust tested natively; this file only converts
//! between the generated WIT types and `codec_kit`'s mirrors of them.

pub mod wire;

wit_bindgen::generate!({
    path: "../../wit",
    world: "codec-guest",
});

use bedrock_embed::codec::types as wit;
use exports::bedrock_embed::codec::codec::Guest;

/// The exported component. Native builds (the unit tests) compile the shell without exporting
/// it: the export symbol names contain `:` and `@`, which native linkers refuse.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Component;

#[cfg(target_arch = "wasm32")]
export!(Component);

impl Guest for Component {
    fn info() -> wit::CodecInfo {
        let info = wire::info();
        wit::CodecInfo {
            name: info.name,
            version: info.version,
            model_prefixes: info.model_prefixes,
            params: info
                .params
                .into_iter()
                .map(|p| wit::ParamSpec {
                    name: p.name,
                    description: p.description,
                    default_value: p.default_value,
                    allowed: p.allowed,
                })
                .collect(),
        }
    }

    fn check(model_id: String, params: Vec<wit::Param>) -> Result<(), wit::CodecError> {
        wire::check(&model_id, &params_in(params)).map_err(error_out)
    }

    fn encode(
        model_id: String,
        params: Vec<wit::Param>,
        options: wit::RequestOptions,
        inputs: Vec<String>,
    ) -> Result<Vec<wit::Invocation>, wit::CodecError> {
        let invocations = wire::encode(&model_id, &params_in(params), options_in(options), &inputs)
            .map_err(error_out)?;
        Ok(invocations
            .into_iter()
            .map(|i| wit::Invocation {
                body: i.body,
                input_count: i.input_count,
            })
            .collect())
    }

    fn decode(
        model_id: String,
        params: Vec<wit::Param>,
        options: wit::RequestOptions,
        body: Vec<u8>,
        input_count: u32,
    ) -> Result<wit::Embeddings, wit::CodecError> {
        let embeddings = wire::decode(
            &model_id,
            &params_in(params),
            options_in(options),
            &body,
            input_count,
        )
        .map_err(error_out)?;
        Ok(wit::Embeddings {
            vectors: embeddings.vectors,
            input_tokens: embeddings.input_tokens,
        })
    }
}

fn params_in(params: Vec<wit::Param>) -> Vec<codec_kit::Param> {
    params
        .into_iter()
        .map(|p| codec_kit::Param {
            name: p.name,
            value: p.value,
        })
        .collect()
}

fn options_in(options: wit::RequestOptions) -> codec_kit::RequestOptions {
    codec_kit::RequestOptions {
        dimensions: options.dimensions,
    }
}

fn error_out(error: codec_kit::CodecError) -> wit::CodecError {
    use codec_kit::CodecError as E;
    match error {
        E::InvalidParam(m) => wit::CodecError::InvalidParam(m),
        E::InvalidInput(m) => wit::CodecError::InvalidInput(m),
        E::BadResponse(m) => wit::CodecError::BadResponse(m),
        E::UnsupportedModel(m) => wit::CodecError::UnsupportedModel(m),
    }
}

#[cfg(test)]
mod tests {
    //! The shell through the generated types, natively.
    use super::*;

    #[test]
    fn info_and_a_round_trip_through_the_generated_types() {
        let info = Component::info();
        assert_eq!(info.name, "cohere");
        assert_eq!(info.model_prefixes, ["cohere.embed-"]);

        let model = "cohere.embed-v4:0".to_owned();
        let options = wit::RequestOptions {
            dimensions: Some(256),
        };
        let inputs: Vec<String> = (0..97).map(|i| format!("t{i}")).collect();
        let invocations = Component::encode(model.clone(), vec![], options, inputs).unwrap();
        let counts: Vec<u32> = invocations.iter().map(|i| i.input_count).collect();
        assert_eq!(counts, [96, 1]);

        let body = format!(r#"{{"embeddings": {{"float": [{:?}]}}}}"#, [0.5f32; 256]);
        let embeddings =
            Component::decode(model.clone(), vec![], options, body.into_bytes(), 1).unwrap();
        assert_eq!(embeddings.vectors[0].len(), 256);
        assert_eq!(embeddings.input_tokens, None);

        let err = Component::check("cohere.embed-v5:0".into(), vec![]).unwrap_err();
        assert!(
            matches!(err, wit::CodecError::UnsupportedModel(m) if m.contains("cohere.embed-v4:0"))
        );
    }
}
