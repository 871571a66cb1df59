//! `encode` spins forever: the host must stop it at its CPU deadline.
//! A codec for the host's sandbox tests only: never shipped, never routed to by default.
//! `info` and `check` behave; `decode` returns an error.

wit_bindgen::generate!({
    path: "../../../wit/v0.1.0",
    world: "codec-guest",
});

use bedrock_embed::codec::types::{
    CodecError, CodecInfo, Embeddings, Invocation, Param, ParamSpec, RequestOptions,
};
use exports::bedrock_embed::codec::codec::Guest;

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Component;

#[cfg(target_arch = "wasm32")]
export!(Component);

impl Guest for Component {
    fn info() -> CodecInfo {
        CodecInfo {
            name: "test-loop".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            model_prefixes: vec!["test.loop".into()],
            params: vec![ParamSpec {
                name: "dimensions".into(),
                description: "Accepted and ignored.".into(),
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
        _inputs: Vec<String>,
    ) -> Result<Vec<Invocation>, CodecError> {
        // Spins until the host's CPU deadline (epoch interruption) traps it.
        let mut n: u64 = 0;
        loop {
            n = std::hint::black_box(n.wrapping_add(1));
        }
    }

    fn decode(
        _model_id: String,
        _params: Vec<Param>,
        _options: RequestOptions,
        _body: Vec<u8>,
        _input_count: u32,
    ) -> Result<Embeddings, CodecError> {
        Err(CodecError::BadResponse(
            "the test-loop codec decodes nothing".into(),
        ))
    }
}
