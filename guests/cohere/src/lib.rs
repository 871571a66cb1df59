//! The Cohere codec as a WASI p2 component (world `codec-guest` of `wit/v0.2.0/codec.wit`).
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
        assert_eq!(info.name, "cohere");
        assert_eq!(info.model_prefixes, ["cohere.embed-"]);

        let model = "cohere.embed-v4:0".to_owned();
        let options = wit::RequestOptions {
            dimensions: Some(256),
            embedding_type: None,
        };
        let inputs: Vec<String> = (0..97).map(|i| format!("t{i}")).collect();
        let invocations = Component::encode(model.clone(), vec![], options, inputs).unwrap();
        let counts: Vec<u32> = invocations.iter().map(|i| i.input_count).collect();
        assert_eq!(counts, [96, 1]);

        let body = format!(r#"{{"embeddings": {{"float": [{:?}]}}}}"#, [0.5f32; 256]);
        let body = body.into_bytes();
        let embeddings =
            Component::decode(model.clone(), vec![], options, body.clone(), 1).unwrap();
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
        assert_eq!(embeddings.input_tokens, None);

        let err = Component::check("cohere.embed-v5:0".into(), vec![]).unwrap_err();
        assert!(
            matches!(err, wit::CodecError::UnsupportedModel(m) if m.contains("cohere.embed-v4:0"))
        );
    }
}
