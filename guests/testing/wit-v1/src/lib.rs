//! A codec that exports `bedrock-embed:codec/codec@1.0.0`: a major version this host does not
//! support. The host must refuse it at load, naming both versions.

wit_bindgen::generate!({
    path: "wit",
    world: "codec-guest",
});

use bedrock_embed::codec::types::{
    CodecError, CodecInfo, Embeddings, Invocation, Param, RequestOptions,
};
use exports::bedrock_embed::codec::codec::Guest;

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Component;

#[cfg(target_arch = "wasm32")]
export!(Component);

impl Guest for Component {
    fn info() -> CodecInfo {
        CodecInfo {
            name: "test-wit-v1".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            model_prefixes: vec!["test.v1".into()],
            params: vec![],
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
            .into_iter()
            .map(|t| Invocation {
                body: t.into_bytes(),
                input_count: 1,
            })
            .collect())
    }

    fn decode(
        _model_id: String,
        _params: Vec<Param>,
        _options: RequestOptions,
        _body: Vec<u8>,
        input_count: u32,
    ) -> Result<Embeddings, CodecError> {
        Ok(Embeddings {
            vectors: vec![vec![1.0]; input_count as usize],
            input_tokens: None,
        })
    }
}
