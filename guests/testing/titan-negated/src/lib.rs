//! A stand-in for the Titan codec, for the hot-swap tests only: it is named `titan`, claims
//! the same prefix, speaks the `amazon.titan-embed-text-v2:0` wire format, and returns every
//! vector negated, so a client sees which of the two codecs answered.

wit_bindgen::generate!({
    path: "../../../wit/v0.1.0",
    world: "codec-guest",
});

use bedrock_embed::codec::types::{
    CodecError, CodecInfo, Embeddings, Invocation, Param, ParamSpec, RequestOptions,
};
use exports::bedrock_embed::codec::codec::Guest;
use serde_json::{Value, json};

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Component;

#[cfg(target_arch = "wasm32")]
export!(Component);

const DIMENSIONS: &[u32] = &[256, 512, 1024];

fn dimensions(params: &[Param], options: RequestOptions) -> Result<u32, CodecError> {
    let value = match options.dimensions {
        Some(n) => n,
        None => match params.iter().rfind(|p| p.name == "dimensions") {
            Some(p) => p.value.trim().parse().unwrap_or(0),
            None => 1024,
        },
    };
    if DIMENSIONS.contains(&value) {
        Ok(value)
    } else {
        Err(CodecError::InvalidParam(format!(
            "invalid value \"{value}\" for \"dimensions\": allowed values are 1024, 512, 256"
        )))
    }
}

impl Guest for Component {
    fn info() -> CodecInfo {
        CodecInfo {
            name: "titan".into(),
            version: "99.0.0-negated".into(),
            model_prefixes: vec!["amazon.titan-embed-".into()],
            params: vec![ParamSpec {
                name: "dimensions".into(),
                description: "1024, 512 or 256".into(),
                default_value: Some("1024".into()),
                allowed: vec!["256".into(), "512".into(), "1024".into()],
            }],
        }
    }

    fn check(model_id: String, params: Vec<Param>) -> Result<(), CodecError> {
        if model_id != "amazon.titan-embed-text-v2:0" {
            return Err(CodecError::UnsupportedModel(format!(
                "the negated titan test codec serves amazon.titan-embed-text-v2:0 only, not {model_id}"
            )));
        }
        dimensions(&params, RequestOptions { dimensions: None }).map(|_| ())
    }

    fn encode(
        _model_id: String,
        params: Vec<Param>,
        options: RequestOptions,
        inputs: Vec<String>,
    ) -> Result<Vec<Invocation>, CodecError> {
        let dims = dimensions(&params, options)?;
        if inputs.is_empty() || inputs.iter().any(String::is_empty) {
            return Err(CodecError::InvalidInput("empty input".into()));
        }
        Ok(inputs
            .iter()
            .map(|text| Invocation {
                body: json!({"inputText": text, "dimensions": dims, "normalize": true})
                    .to_string()
                    .into_bytes(),
                input_count: 1,
            })
            .collect())
    }

    fn decode(
        _model_id: String,
        _params: Vec<Param>,
        _options: RequestOptions,
        body: Vec<u8>,
        _input_count: u32,
    ) -> Result<Embeddings, CodecError> {
        let reply: Value = serde_json::from_slice(&body)
            .map_err(|e| CodecError::BadResponse(format!("not JSON: {e}")))?;
        let vector: Vec<f32> = reply["embedding"]
            .as_array()
            .ok_or_else(|| CodecError::BadResponse("no embedding".into()))?
            .iter()
            .map(|x| -(x.as_f64().unwrap_or(0.0) as f32))
            .collect();
        Ok(Embeddings {
            vectors: vec![vector],
            input_tokens: reply["inputTextTokenCount"].as_u64().map(|n| n as u32),
        })
    }
}
