//! A `bedrock-embed:codec@0.2.0` codec that breaks the 0.2 rules on purpose, for the host's
//! contract tests only (never shipped). It serves `test.v2-`; `encode` sends each text as its
//! own body, and the base model id picks what `decode` answers:
//!
//! | model id                  | `decode` answers                                              |
//! |---------------------------|---------------------------------------------------------------|
//! | `test.v2-spans`           | one span per top-level `[...]` of the body (well behaved)     |
//! | `test.v2-span-outside`    | a span that ends past the body                                |
//! | `test.v2-span-not-array`  | a span over the whole body, whatever it holds                 |
//! | `test.v2-int8-range`      | int8 values with 300 among them                               |
//! | `test.v2-values`          | the values 1, 2, 3 as floats (well behaved)                   |
//!
//! Every answer has the type the request asked for (float when none), except
//! `test.v2-wrong-type`, which answers int8 whatever was asked.

wit_bindgen::generate!({
    path: "../../../wit/v0.2.0",
    world: "codec-guest",
});

use bedrock_embed::codec::types::{
    CodecError, CodecInfo, EmbeddingType, Embeddings, Invocation, Param, ParamSpec, RequestOptions,
    Span, Vectors,
};
use exports::bedrock_embed::codec::codec::Guest;

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Component;

#[cfg(target_arch = "wasm32")]
export!(Component);

impl Guest for Component {
    fn info() -> CodecInfo {
        CodecInfo {
            name: "test-bad-spans".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            model_prefixes: vec!["test.v2-".into()],
            // Free-form: `check` accepts any value, so the host's own reading of the param
            // is what a value it cannot write meets.
            params: vec![ParamSpec {
                name: "embedding_type".into(),
                description: "Any value (the host refuses one it cannot write).".into(),
                default_value: None,
                allowed: vec![],
            }],
        }
    }

    fn check(_model_id: String, _params: Vec<Param>) -> Result<(), CodecError> {
        Ok(())
    }

    fn encode(
        _model_id: String,
        _params: Vec<Param>,
        _options: RequestOptions,
        inputs: Vec<String>,
    ) -> Result<Vec<Invocation>, CodecError> {
        Ok(inputs
            .iter()
            .map(|t| Invocation {
                body: t.as_bytes().to_vec(),
                input_count: 1,
            })
            .collect())
    }

    fn decode(
        model_id: String,
        _params: Vec<Param>,
        options: RequestOptions,
        body: Vec<u8>,
        input_count: u32,
    ) -> Result<Embeddings, CodecError> {
        let asked = options.embedding_type.unwrap_or(EmbeddingType::Float);
        let whole = Span {
            start: 0,
            len: body.len() as u32,
        };
        let (vectors, embedding_type) = match model_id.as_str() {
            "test.v2-spans" => (Vectors::Spans(top_level_arrays(&body)), asked),
            "test.v2-span-outside" => (
                Vectors::Spans(vec![Span {
                    start: 1,
                    len: body.len() as u32,
                }]),
                asked,
            ),
            "test.v2-span-not-array" => (Vectors::Spans(vec![whole]), asked),
            "test.v2-int8-range" => (
                Vectors::Values(vec![vec![1.0, 300.0]; input_count as usize]),
                EmbeddingType::Int8,
            ),
            "test.v2-wrong-type" => (
                Vectors::Values(vec![vec![1.0, 2.0]; input_count as usize]),
                EmbeddingType::Int8,
            ),
            _ => (
                Vectors::Values(vec![vec![1.0, 2.0, 3.0]; input_count as usize]),
                asked,
            ),
        };
        Ok(Embeddings {
            vectors,
            embedding_type,
            input_tokens: None,
        })
    }
}

/// The `[...]` ranges at the top level of `body` (no nesting, no strings: test bodies only).
fn top_level_arrays(body: &[u8]) -> Vec<Span> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, b) in body.iter().enumerate() {
        match (b, start) {
            (b'[', None) => start = Some(i),
            (b']', Some(s)) => {
                spans.push(Span {
                    start: s as u32,
                    len: (i + 1 - s) as u32,
                });
                start = None;
            }
            _ => {}
        }
    }
    spans
}
