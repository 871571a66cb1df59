//! The export shell every codec built on codec-kit shares: a `Guest` impl over the bindings
//! of [`crate::bindings`] (`bedrock-embed:codec@0.2.0`) that converts between the generated
//! types and codec-kit's, calling the codec's wire functions.

/// Exports the component for a module that has `info()`, `check`, `encode` and `decode` over
/// codec-kit's types (see `guests/titan/src/wire.rs`, or `guests/template`, which keeps them
/// at the crate root):
///
/// ```ignore
/// pub mod wire;
/// codec_kit::export_codec!(wire);   // or `codec_kit::export_codec!(self);`
/// ```
///
/// It defines `Component` (the `Guest` impl, callable natively in tests) and `wit` (the
/// generated types). Native builds (unit tests) get the same `Component` without the export:
/// export symbol names contain `:` and `@`, which native linkers refuse.
#[macro_export]
macro_rules! export_codec {
    ($wire:ident) => {
        #[allow(unused_imports)]
        use $crate::bindings::bedrock_embed::codec::types as wit;
        use $crate::bindings::exports::bedrock_embed::codec::codec::Guest;

        /// The exported component.
        #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
        pub struct Component;

        #[cfg(target_arch = "wasm32")]
        $crate::bindings::export!(Component with_types_in $crate::bindings);

        impl Guest for Component {
            fn info() -> wit::CodecInfo {
                let info = $wire::info();
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
                $wire::check(&model_id, &shell::params_in(params)).map_err(shell::error_out)
            }

            fn encode(
                model_id: String,
                params: Vec<wit::Param>,
                options: wit::RequestOptions,
                inputs: Vec<String>,
            ) -> Result<Vec<wit::Invocation>, wit::CodecError> {
                let options = shell::options_in(options);
                let invocations =
                    $wire::encode(&model_id, &shell::params_in(params), options, &inputs)
                        .map_err(shell::error_out)?;
                Ok(invocations
                    .into_iter()
                    .map(|i| wit::Invocation { body: i.body, input_count: i.input_count })
                    .collect())
            }

            fn decode(
                model_id: String,
                params: Vec<wit::Param>,
                options: wit::RequestOptions,
                body: Vec<u8>,
                input_count: u32,
            ) -> Result<wit::Embeddings, wit::CodecError> {
                let options = shell::options_in(options);
                let embeddings = $wire::decode(
                    &model_id,
                    &shell::params_in(params),
                    options,
                    &body,
                    input_count,
                )
                .map_err(shell::error_out)?;
                Ok(wit::Embeddings {
                    vectors: match embeddings.vectors {
                        $crate::Vectors::Values(values) => wit::Vectors::Values(values),
                        $crate::Vectors::Spans(spans) => wit::Vectors::Spans(
                            spans
                                .into_iter()
                                .map(|s| wit::Span { start: s.start, len: s.len })
                                .collect(),
                        ),
                    },
                    embedding_type: shell::type_out(embeddings.embedding_type),
                    input_tokens: embeddings.input_tokens,
                })
            }
        }

        mod shell {
            use super::wit;

            pub fn params_in(params: Vec<wit::Param>) -> Vec<$crate::Param> {
                params
                    .into_iter()
                    .map(|p| $crate::Param { name: p.name, value: p.value })
                    .collect()
            }

            pub fn options_in(options: wit::RequestOptions) -> $crate::RequestOptions {
                $crate::RequestOptions {
                    dimensions: options.dimensions,
                    embedding_type: options.embedding_type.map(type_in),
                }
            }

            pub fn type_in(t: wit::EmbeddingType) -> $crate::EmbeddingType {
                use $crate::EmbeddingType as T;
                match t {
                    wit::EmbeddingType::Float => T::Float,
                    wit::EmbeddingType::Int8 => T::Int8,
                    wit::EmbeddingType::Uint8 => T::Uint8,
                    wit::EmbeddingType::Binary => T::Binary,
                    wit::EmbeddingType::Ubinary => T::Ubinary,
                }
            }

            pub fn type_out(t: $crate::EmbeddingType) -> wit::EmbeddingType {
                use $crate::EmbeddingType as T;
                match t {
                    T::Float => wit::EmbeddingType::Float,
                    T::Int8 => wit::EmbeddingType::Int8,
                    T::Uint8 => wit::EmbeddingType::Uint8,
                    T::Binary => wit::EmbeddingType::Binary,
                    T::Ubinary => wit::EmbeddingType::Ubinary,
                }
            }

            pub fn error_out(error: $crate::CodecError) -> wit::CodecError {
                use $crate::CodecError as E;
                match error {
                    E::InvalidParam(m) => wit::CodecError::InvalidParam(m),
                    E::InvalidInput(m) => wit::CodecError::InvalidInput(m),
                    E::BadResponse(m) => wit::CodecError::BadResponse(m),
                    E::UnsupportedModel(m) => wit::CodecError::UnsupportedModel(m),
                }
            }
        }
    };
}
