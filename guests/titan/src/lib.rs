//! The Titan codec as a WASI p2 component (world `codec-guest` of `wit/v0.2.0/codec.wit`).
//!
//! The wire logic lives in [`wire`], plain Rust tested natively; `codec_kit::export_codec!`
//! exports it through codec-kit's bindings, converting between them and codec-kit's types.

pub mod wire;

codec_kit::export_codec!(wire);

#[cfg(test)]
mod tests {
    //! The shell through the generated types, natively.
    use super::*;

    #[test]
    fn info_and_a_round_trip_through_the_generated_types() {
        let info = Component::info();
        assert_eq!(info.name, "titan");
        assert_eq!(info.params.len(), 3);

        let model = "amazon.titan-embed-text-v2:0".to_owned();
        let params = vec![wit::Param {
            name: "dimensions".into(),
            value: "256".into(),
        }];
        assert!(Component::check(model.clone(), params.clone()).is_ok());
        let options = wit::RequestOptions {
            dimensions: None,
            embedding_type: None,
        };
        let invocations =
            Component::encode(model.clone(), params.clone(), options, vec!["hi".into()]).unwrap();
        assert_eq!(invocations.len(), 1);
        assert_eq!(invocations[0].input_count, 1);

        let body = format!(
            r#"{{"embedding": {:?}, "inputTextTokenCount": 1}}"#,
            [0.5f32; 256]
        );
        let body = body.into_bytes();
        let embeddings =
            Component::decode(model.clone(), params, options, body.clone(), 1).unwrap();
        let wit::Vectors::Spans(spans) = &embeddings.vectors else {
            panic!("{:?}", embeddings.vectors)
        };
        let span = &spans[0];
        let array = &body[span.start as usize..(span.start + span.len) as usize];
        assert_eq!(
            serde_json::from_slice::<Vec<f32>>(array).unwrap(),
            [0.5; 256]
        );
        assert_eq!(embeddings.embedding_type, wit::EmbeddingType::Float);
        assert_eq!(embeddings.input_tokens, Some(1));

        let err = Component::check(
            model,
            vec![wit::Param {
                name: "dimensions".into(),
                value: "300".into(),
            }],
        )
        .unwrap_err();
        assert!(matches!(err, wit::CodecError::InvalidParam(m) if m.contains("300")));
    }
}
