//! The Titan wire format against the AWS documentation's request and response examples, and
//! every error path with its message.

use super::*;
use serde_json::{Value, json};

const V1: &str = "amazon.titan-embed-text-v1";
const G1: &str = "amazon.titan-embed-g1-text-02";
const V2: &str = "amazon.titan-embed-text-v2:0";
const IMAGE: &str = "amazon.titan-embed-image-v1";

fn params(pairs: &[(&str, &str)]) -> Vec<Param> {
    pairs.iter().map(|&(n, v)| Param::new(n, v)).collect()
}

fn texts(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn dims(n: u32) -> RequestOptions {
    RequestOptions {
        dimensions: Some(n),
        ..RequestOptions::default()
    }
}

/// The vectors as the host reads them (the spans parsed), checking they are float.
fn values(got: &Embeddings, body: &[u8]) -> Vec<Vec<f32>> {
    assert_eq!(got.embedding_type, EmbeddingType::Float);
    assert!(matches!(got.vectors, Vectors::Spans(_)), "{got:?}");
    got.vectors.values(body).unwrap()
}

fn bodies(model: &str, p: &[(&str, &str)], o: RequestOptions, inputs: &[&str]) -> Vec<Value> {
    encode(model, &params(p), o, &texts(inputs))
        .unwrap()
        .into_iter()
        .map(|inv| {
            assert_eq!(inv.input_count, 1);
            serde_json::from_slice(&inv.body).unwrap()
        })
        .collect()
}

fn body(model: &str, p: &[(&str, &str)], o: RequestOptions) -> Value {
    bodies(model, p, o, &["Hello world"]).remove(0)
}

fn invalid_param(msg: &str) -> CodecError {
    CodecError::InvalidParam(msg.to_owned())
}

fn vector_json(n: usize) -> String {
    let v: Vec<f32> = (0..n).map(|i| i as f32 / n as f32 - 0.5).collect();
    serde_json::to_string(&v).unwrap()
}

// ---- info

#[test]
fn info_names_the_codec_prefix_and_params() {
    let info = info();
    assert_eq!(info.name, "titan");
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(info.model_prefixes, vec!["amazon.titan-embed-".to_owned()]);
    let names: Vec<_> = info.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["dimensions", "normalize", "embedding_type"]);
    assert_eq!(info.params[0].default_value.as_deref(), Some("1024"));
    assert_eq!(info.params[1].default_value.as_deref(), Some("true"));
    assert_eq!(info.params[1].allowed, ["true", "false"]);
    assert_eq!(info.params[2].default_value.as_deref(), Some("float"));
    assert_eq!(info.params[2].allowed, ["float", "binary"]);
    assert!(info.params.iter().all(|p| !p.description.is_empty()));
}

// ---- models

#[test]
fn known_models_and_their_variants() {
    for (id, model) in [
        (V1, Model::TextV1),
        (G1, Model::TextV1),
        ("amazon.titan-embed-text-v1:2:8k", Model::TextV1),
        (V2, Model::TextV2),
        ("amazon.titan-embed-text-v2:0:8k", Model::TextV2),
        (IMAGE, Model::ImageV1),
        ("amazon.titan-embed-image-v1:0", Model::ImageV1),
    ] {
        let config = Config::resolve(id, &[], RequestOptions::default()).unwrap();
        assert_eq!(config.model, model, "{id}");
    }
}

#[test]
fn unknown_model_names_the_known_ones() {
    let err = check("amazon.titan-embed-text-v3:0", &[]).unwrap_err();
    assert_eq!(
        err,
        CodecError::UnsupportedModel(
            "the titan codec does not know model \"amazon.titan-embed-text-v3:0\"; it serves \
             amazon.titan-embed-text-v1, amazon.titan-embed-g1-text-02, \
             amazon.titan-embed-text-v2:0, amazon.titan-embed-image-v1"
                .into()
        )
    );
}

#[test]
fn unversioned_v2_names_the_versioned_id() {
    let err = check("amazon.titan-embed-text-v2", &[]).unwrap_err();
    assert!(matches!(err, CodecError::UnsupportedModel(_)));
    assert!(
        err.message()
            .contains("did you mean amazon.titan-embed-text-v2:0?"),
        "{err}"
    );
}

// ---- bodies (AWS doc request examples)

#[test]
fn v1_body_is_input_text_only() {
    assert_eq!(
        body(V1, &[], RequestOptions::default()),
        json!({"inputText": "Hello world"})
    );
    assert_eq!(
        body(G1, &[], RequestOptions::default()),
        json!({"inputText": "Hello world"})
    );
    // The fixed size may be asked for explicitly; it changes nothing on the wire.
    assert_eq!(
        body(V1, &[("dimensions", "1536")], dims(1536)),
        json!({"inputText": "Hello world"})
    );
}

#[test]
fn v2_body_sends_dimensions_and_normalize_explicitly() {
    assert_eq!(
        body(V2, &[], RequestOptions::default()),
        json!({"inputText": "Hello world", "dimensions": 1024, "normalize": true})
    );
    for d in V2_DIMENSIONS {
        for (given, sent) in [
            ("true", true),
            ("FALSE", false),
            ("True", true),
            ("false", false),
        ] {
            let p = [
                ("dimensions", d.to_string()),
                ("normalize", given.to_owned()),
            ];
            let p: Vec<(&str, &str)> = p.iter().map(|(n, v)| (*n, v.as_str())).collect();
            assert_eq!(
                body(V2, &p, RequestOptions::default()),
                json!({"inputText": "Hello world", "dimensions": d, "normalize": sent})
            );
        }
    }
}

#[test]
fn v2_body_is_exactly_the_documented_fields_in_order() {
    let inv = encode(
        V2,
        &params(&[("dimensions", "256")]),
        RequestOptions::default(),
        &texts(&["hi"]),
    )
    .unwrap();
    assert_eq!(
        std::str::from_utf8(&inv[0].body).unwrap(),
        r#"{"inputText":"hi","dimensions":256,"normalize":true}"#
    );
}

#[test]
fn image_body_uses_embedding_config() {
    assert_eq!(
        body(IMAGE, &[], RequestOptions::default()),
        json!({"inputText": "Hello world", "embeddingConfig": {"outputEmbeddingLength": 1024}})
    );
    for d in IMAGE_DIMENSIONS {
        assert_eq!(
            body(
                IMAGE,
                &[("dimensions", &d.to_string())],
                RequestOptions::default()
            ),
            json!({"inputText": "Hello world", "embeddingConfig": {"outputEmbeddingLength": d}})
        );
    }
}

#[test]
fn request_dimensions_override_the_param() {
    assert_eq!(
        body(V2, &[("dimensions", "512")], dims(256))["dimensions"],
        256
    );
    assert_eq!(body(V2, &[], dims(512))["dimensions"], 512);
    assert_eq!(
        body(IMAGE, &[("dimensions", "1024")], dims(384))["embeddingConfig"]["outputEmbeddingLength"],
        384
    );
}

#[test]
fn one_invocation_per_text_in_order() {
    let got = bodies(V2, &[], RequestOptions::default(), &["a", "b", "c"]);
    let sent: Vec<_> = got
        .iter()
        .map(|b| b["inputText"].as_str().unwrap())
        .collect();
    assert_eq!(sent, ["a", "b", "c"]);
}

#[test]
fn texts_are_json_escaped() {
    let got = bodies(
        V1,
        &[],
        RequestOptions::default(),
        &["quote \" backslash \\ newline \n é"],
    );
    assert_eq!(got[0]["inputText"], "quote \" backslash \\ newline \n é");
}

// ---- param errors

#[test]
fn bad_v2_dimensions_name_key_value_and_allowed_values() {
    assert_eq!(
        check(V2, &params(&[("dimensions", "300")])),
        Err(invalid_param(
            "invalid value \"300\" for param \"dimensions\" of amazon.titan-embed-text-v2:0: \
             allowed values are 1024, 512, 256"
        ))
    );
    assert!(check(V2, &params(&[("dimensions", "abc")])).is_err());
    assert!(check(V2, &params(&[("dimensions", "384")])).is_err());
}

#[test]
fn bad_request_dimensions_are_named_as_a_request_option() {
    assert_eq!(
        encode(V2, &[], dims(300), &texts(&["x"])),
        Err(invalid_param(
            "invalid value \"300\" for request option \"dimensions\" of \
             amazon.titan-embed-text-v2:0: allowed values are 1024, 512, 256"
        ))
    );
    assert_eq!(
        encode(IMAGE, &[], dims(512), &texts(&["x"])),
        Err(invalid_param(
            "invalid value \"512\" for request option \"dimensions\" of \
             amazon.titan-embed-image-v1: allowed values are 256, 384, 1024"
        ))
    );
}

#[test]
fn bad_image_dimensions() {
    assert_eq!(
        check(IMAGE, &params(&[("dimensions", "512")])),
        Err(invalid_param(
            "invalid value \"512\" for param \"dimensions\" of amazon.titan-embed-image-v1: \
             allowed values are 256, 384, 1024"
        ))
    );
}

#[test]
fn v1_size_is_fixed() {
    assert_eq!(
        check(V1, &params(&[("dimensions", "1024")])),
        Err(invalid_param(
            "invalid value \"1024\" for param \"dimensions\" of amazon.titan-embed-text-v1: \
             its vectors have a fixed size; allowed values are 1536"
        ))
    );
    assert_eq!(
        encode(G1, &[], dims(512), &texts(&["x"])),
        Err(invalid_param(
            "invalid value \"512\" for request option \"dimensions\" of \
             amazon.titan-embed-g1-text-02: its vectors have a fixed size; allowed values are 1536"
        ))
    );
    assert_eq!(check(V1, &params(&[("dimensions", "1536")])), Ok(()));
}

#[test]
fn normalize_is_for_v2_only() {
    assert_eq!(
        check(V1, &params(&[("normalize", "true")])),
        Err(invalid_param(
            "param \"normalize\" (value \"true\") is not supported by amazon.titan-embed-text-v1: \
             its request body has no normalize field (only amazon.titan-embed-text-v2:0 takes \
             it); remove it"
        ))
    );
    assert!(check(IMAGE, &params(&[("normalize", "false")])).is_err());
}

#[test]
fn bad_normalize() {
    assert_eq!(
        check(V2, &params(&[("normalize", "yes")])),
        Err(invalid_param(
            "invalid value \"yes\" for param \"normalize\" of amazon.titan-embed-text-v2:0: \
             allowed values are true, false"
        ))
    );
}

#[test]
fn unknown_params_are_left_to_the_host() {
    assert_eq!(
        check(V2, &params(&[("dimension", "300"), ("temperature", "1")])),
        Ok(())
    );
}

// ---- input errors

#[test]
fn empty_inputs_are_invalid() {
    assert_eq!(
        encode(V2, &[], RequestOptions::default(), &[]),
        Err(CodecError::InvalidInput(
            "no input: amazon.titan-embed-text-v2:0 needs at least one text".into()
        ))
    );
    assert_eq!(
        encode(V1, &[], RequestOptions::default(), &texts(&["a", "b", ""])),
        Err(CodecError::InvalidInput(
            "input 2 is an empty string: amazon.titan-embed-text-v1 needs non-empty text".into()
        ))
    );
}

#[test]
fn v2_texts_are_at_most_50000_characters() {
    let ok = "é".repeat(V2_MAX_CHARS);
    let long = "a".repeat(V2_MAX_CHARS + 1);
    assert!(encode(V2, &[], RequestOptions::default(), &[ok]).is_ok());
    assert_eq!(
        encode(
            V2,
            &[],
            RequestOptions::default(),
            &["x".to_owned(), long.clone()]
        ),
        Err(CodecError::InvalidInput(
            "input 1 is 50001 characters long: amazon.titan-embed-text-v2:0 accepts at most \
             50000 characters per text"
                .into()
        ))
    );
    // v1 documents a token limit only: Bedrock judges.
    assert!(encode(V1, &[], RequestOptions::default(), &[long]).is_ok());
}

// ---- decode (AWS doc response examples)

#[test]
fn decodes_a_v1_response() {
    let body = format!(
        r#"{{"embedding": {}, "inputTextTokenCount": 3}}"#,
        vector_json(1536)
    );
    let got = decode(V1, &[], RequestOptions::default(), body.as_bytes(), 1).unwrap();
    let vectors = values(&got, body.as_bytes());
    assert_eq!(vectors.len(), 1);
    assert_eq!(vectors[0].len(), 1536);
    assert_eq!(vectors[0][0], -0.5);
    assert_eq!(got.input_tokens, Some(3));
}

#[test]
fn decodes_a_v2_response_with_embeddings_by_type() {
    let body = r#"{"embedding": [0.25, -0.5, 0.125], "inputTextTokenCount": 4,
                   "embeddingsByType": {"float": [0.25, -0.5, 0.125], "binary": [1, 0, 1]}}"#;
    // Three dimensions are not a v2 size; check the parse with a size check the test controls.
    let response = Response::read(body.as_bytes(), EmbeddingType::Float, 3).unwrap();
    let embedding = response.embedding.unwrap();
    assert_eq!(&body[embedding.span.range()], "[0.25, -0.5, 0.125]");
    assert_eq!(body.find("[0.25"), Some(embedding.span.start as usize));
    assert_eq!(embedding.count, 3);
    assert_eq!(response.input_text_token_count, Some(4));

    let v = vector_json(256);
    let body = format!(
        r#"{{"embedding": {v}, "inputTextTokenCount": 4, "embeddingsByType": {{"float": {v}}}}}"#
    );
    let got = decode(
        V2,
        &params(&[("dimensions", "256")]),
        RequestOptions::default(),
        body.as_bytes(),
        1,
    )
    .unwrap();
    assert_eq!(values(&got, body.as_bytes())[0].len(), 256);
    assert_eq!(got.input_tokens, Some(4));
}

#[test]
fn falls_back_to_embeddings_by_type_float() {
    let body = format!(
        r#"{{"inputTextTokenCount": 2, "embeddingsByType": {{"binary": [1], "float": {}}}}}"#,
        vector_json(512)
    );
    let got = decode(V2, &[], dims(512), body.as_bytes(), 1).unwrap();
    assert_eq!(values(&got, body.as_bytes())[0].len(), 512);
}

#[test]
fn decodes_an_image_model_response_with_message() {
    let body = format!(
        r#"{{"embedding": {}, "inputTextTokenCount": 5, "message": null}}"#,
        vector_json(384)
    );
    let got = decode(
        IMAGE,
        &params(&[("dimensions", "384")]),
        RequestOptions::default(),
        body.as_bytes(),
        1,
    )
    .unwrap();
    assert_eq!(values(&got, body.as_bytes())[0].len(), 384);
    assert_eq!(got.input_tokens, Some(5));
}

#[test]
fn a_missing_token_count_is_none() {
    let body = format!(r#"{{"embedding": {}}}"#, vector_json(1024));
    let got = decode(V2, &[], RequestOptions::default(), body.as_bytes(), 1).unwrap();
    assert_eq!(got.input_tokens, None);
}

#[test]
fn invalid_json_is_a_bad_response_with_a_short_excerpt() {
    let body = format!("<html>{}</html>", "x".repeat(5000));
    let err = decode(V2, &[], RequestOptions::default(), body.as_bytes(), 1).unwrap_err();
    let CodecError::BadResponse(msg) = &err else {
        panic!("{err:?}")
    };
    assert!(
        msg.starts_with("cannot read the amazon.titan-embed-text-v2:0 response: "),
        "{msg}"
    );
    let excerpt = msg.split("body starts: ").nth(1).unwrap();
    assert!(excerpt.starts_with("<html>xxx"));
    assert!(excerpt.chars().count() <= codec_kit::EXCERPT_CHARS);
}

#[test]
fn a_response_without_embedding_is_a_bad_response() {
    let err = decode(
        V2,
        &[],
        RequestOptions::default(),
        br#"{"message": "oops"}"#,
        1,
    )
    .unwrap_err();
    assert_eq!(
        err,
        CodecError::BadResponse(
            "the amazon.titan-embed-text-v2:0 response has no \"embedding\"; body starts: \
             {\"message\": \"oops\"}"
                .into()
        )
    );
}

#[test]
fn non_numbers_are_a_bad_response() {
    let err = decode(V2, &[], dims(256), br#"{"embedding": [0.1, "x"]}"#, 1).unwrap_err();
    assert!(matches!(err, CodecError::BadResponse(_)), "{err:?}");
    let err = decode(V2, &[], dims(256), br#"{"embedding": [0.1, {}]}"#, 1).unwrap_err();
    assert!(matches!(err, CodecError::BadResponse(_)), "{err:?}");
    // The numbers themselves are the host's to check (it refuses `null` and 1e39, beyond f32):
    // the span is returned as it is.
    let body = format!(r#"{{"embedding": [1e39, null{}]}}"#, ", 0.0".repeat(254));
    let got = decode(V2, &[], dims(256), body.as_bytes(), 1).unwrap();
    let Vectors::Spans(spans) = &got.vectors else {
        panic!("{got:?}")
    };
    assert!(body[spans[0].range()].starts_with("[1e39, null, 0.0"));
    assert!(got.vectors.values(body.as_bytes()).is_err());
}

#[test]
fn a_vector_count_other_than_the_input_count_is_a_bad_response() {
    let body = format!(r#"{{"embedding": {}}}"#, vector_json(1024));
    assert_eq!(
        decode(V2, &[], RequestOptions::default(), body.as_bytes(), 2),
        Err(CodecError::BadResponse(
            "amazon.titan-embed-text-v2:0 returned 1 vectors for 2 inputs".into()
        ))
    );
}

#[test]
fn a_vector_of_the_wrong_size_is_a_bad_response() {
    let body = format!(r#"{{"embedding": {}}}"#, vector_json(1024));
    assert_eq!(
        decode(
            V2,
            &[("dimensions", "512")].map(|(n, v)| Param::new(n, v)),
            RequestOptions::default(),
            body.as_bytes(),
            1
        ),
        Err(CodecError::BadResponse(
            "amazon.titan-embed-text-v2:0 returned a vector of 1024 dimensions at position 0; \
             512 were asked for"
                .into()
        ))
    );
}

/// A v2 vector as the emulator writes it (each f32 widened to f64, keys in alphabetical order)
/// and as an encoder writing shortest f32 texts would, pretty-printed too: the decoded vector is
/// the one serde_json reads, bit for bit.
#[test]
fn decodes_realistic_bodies_exactly_as_serde_json_reads_them() {
    let v: Vec<f32> = (0..1024)
        .map(|i| (i as f32 * 0.7311).sin() / 23.0 - 1e-7 * i as f32)
        .collect();
    let widened: Vec<f64> = v.iter().map(|&x| f64::from(x)).collect();
    let emulator = json!({"embedding": widened, "inputTextTokenCount": 7,
                          "embeddingsByType": {"float": widened}});
    let shortest = json!({"embedding": v, "inputTextTokenCount": 7});
    for body in [
        serde_json::to_vec(&emulator).unwrap(),
        serde_json::to_vec_pretty(&emulator).unwrap(),
        serde_json::to_vec(&shortest).unwrap(),
    ] {
        let got = decode(V2, &[], RequestOptions::default(), &body, 1).unwrap();
        let vectors = values(&got, &body);
        let serde: Value = serde_json::from_slice(&body).unwrap();
        let want: Vec<f32> = serde_json::from_value(serde["embedding"].clone()).unwrap();
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&vectors[0]), bits(&want));
        assert_eq!(bits(&vectors[0]), bits(&v));
        assert_eq!(got.input_tokens, Some(7));
    }
}

#[test]
fn a_null_embedding_falls_back_to_embeddings_by_type() {
    let v = vector_json(256);
    let body = format!(r#"{{"embedding": null, "embeddingsByType": {{"float": {v}}}}}"#);
    let got = decode(V2, &[], dims(256), body.as_bytes(), 1).unwrap();
    assert_eq!(
        values(&got, body.as_bytes())[0],
        serde_json::from_str::<Vec<f32>>(&v).unwrap()
    );
}

#[test]
fn non_numbers_are_named_with_their_place() {
    let err = decode(V2, &[], dims(256), br#"{"embedding": [0.1, "x"]}"#, 1).unwrap_err();
    assert_eq!(
        err,
        CodecError::BadResponse(
            "cannot read the amazon.titan-embed-text-v2:0 response: embedding[1]: expected a \
             number, found `\"x\"` at line 1 column 21; body starts: {\"embedding\": [0.1, \"x\"]}"
                .into()
        )
    );
    let body = br#"{"embeddingsByType": {"float": [0.5, [1]]}}"#;
    let err = decode(V2, &[], dims(256), body, 1).unwrap_err();
    assert!(
        err.message().contains(
            "response: embeddingsByType.float[1]: expected a number, found `[` at line 1 column 38"
        ),
        "{err}"
    );
    let err = decode(V2, &[], dims(256), br#"{"embedding": {"float": []}}"#, 1).unwrap_err();
    assert!(
        err.message()
            .contains("response: embedding: expected an array, found `{` at line 1 column 15"),
        "{err}"
    );
}

#[test]
fn members_may_come_in_any_order() {
    let v = vector_json(256);
    let body = format!(
        r#"{{"embeddingsByType": {{"float": [9]}}, "inputTextTokenCount": 4, "embedding": {v}}}"#
    );
    let got = decode(V2, &[], dims(256), body.as_bytes(), 1).unwrap();
    assert_eq!(
        values(&got, body.as_bytes())[0],
        serde_json::from_str::<Vec<f32>>(&v).unwrap()
    );
    assert_eq!(got.input_tokens, Some(4));
    let body =
        format!(r#"{{"embeddingsByType": {{"binary": [1], "float": {v}}}, "message": null}}"#);
    let got = decode(V2, &[], dims(256), body.as_bytes(), 1).unwrap();
    assert_eq!(values(&got, body.as_bytes())[0].len(), 256);
    assert_eq!(got.input_tokens, None);
}

#[test]
fn null_or_missing_members_and_repeated_keys() {
    for body in [
        &br#"{"embeddingsByType": null}"#[..],
        br#"{"embeddingsByType": {"float": null}}"#,
        br#"{"embeddingsByType": {}, "inputTextTokenCount": null}"#,
    ] {
        let err = decode(V2, &[], dims(256), body, 1).unwrap_err();
        assert!(err.message().contains("has no \"embedding\""), "{err}");
    }
    let v = vector_json(256);
    let body = format!(r#"{{"embedding": {v}, "embedding": {v}}}"#);
    let err = decode(V2, &[], dims(256), body.as_bytes(), 1).unwrap_err();
    assert!(err.message().contains("duplicate key `embedding`"), "{err}");
    let body = format!(r#"{{"embedding": {v}}} trailing"#);
    let err = decode(V2, &[], dims(256), body.as_bytes(), 1).unwrap_err();
    assert!(
        err.message().contains("expected the end of the text"),
        "{err}"
    );
}

// ---- embedding types

fn typed(t: EmbeddingType) -> RequestOptions {
    RequestOptions {
        embedding_type: Some(t),
        ..RequestOptions::default()
    }
}

fn raw_body(model: &str, p: &[(&str, &str)], o: RequestOptions) -> String {
    let inv = encode(model, &params(p), o, &texts(&["hi"])).unwrap();
    String::from_utf8(inv[0].body.clone()).unwrap()
}

#[test]
fn v2_binary_asks_for_binary_and_float_bodies_stay_as_they_were() {
    let float = r#"{"inputText":"hi","dimensions":1024,"normalize":true}"#;
    let binary =
        r#"{"inputText":"hi","dimensions":1024,"normalize":true,"embeddingTypes":["binary"]}"#;
    assert_eq!(raw_body(V2, &[], RequestOptions::default()), float);
    assert_eq!(
        raw_body(
            V2,
            &[("embedding_type", "float")],
            RequestOptions::default()
        ),
        float
    );
    assert_eq!(raw_body(V2, &[], typed(EmbeddingType::Float)), float);
    assert_eq!(
        raw_body(
            V2,
            &[("embedding_type", "BINARY")],
            RequestOptions::default()
        ),
        binary
    );
    assert_eq!(raw_body(V2, &[], typed(EmbeddingType::Binary)), binary);
    // The request option overrides the param, both ways.
    assert_eq!(
        raw_body(
            V2,
            &[("embedding_type", "binary")],
            typed(EmbeddingType::Float)
        ),
        float
    );
    assert_eq!(
        raw_body(
            V2,
            &[("embedding_type", "float")],
            typed(EmbeddingType::Binary)
        ),
        binary
    );
    for model in [V1, IMAGE] {
        assert!(
            !raw_body(
                model,
                &[("embedding_type", "float")],
                typed(EmbeddingType::Float)
            )
            .contains("embeddingTypes")
        );
    }
}

#[test]
fn embedding_types_a_model_does_not_offer_are_refused_by_name() {
    assert_eq!(
        check(V2, &params(&[("embedding_type", "int8")])),
        Err(invalid_param(
            "invalid value \"int8\" for param \"embedding_type\" of amazon.titan-embed-text-v2:0: \
             allowed values are float, binary"
        ))
    );
    assert_eq!(
        check(V2, &params(&[("embedding_type", "bits")])),
        Err(invalid_param(
            "invalid value \"bits\" for param \"embedding_type\" of amazon.titan-embed-text-v2:0: \
             allowed values are float, binary"
        ))
    );
    assert_eq!(
        check(V1, &params(&[("embedding_type", "binary")])),
        Err(invalid_param(
            "invalid value \"binary\" for param \"embedding_type\" of amazon.titan-embed-text-v1: \
             allowed values are float"
        ))
    );
    for t in [
        EmbeddingType::Int8,
        EmbeddingType::Uint8,
        EmbeddingType::Ubinary,
    ] {
        assert_eq!(
            encode(V2, &[], typed(t), &texts(&["x"])),
            Err(invalid_param(&format!(
                "invalid value \"{t}\" for request option \"embedding_type\" of \
                 amazon.titan-embed-text-v2:0: allowed values are float, binary"
            )))
        );
    }
    assert_eq!(
        encode(IMAGE, &[], typed(EmbeddingType::Binary), &texts(&["x"])),
        Err(invalid_param(
            "invalid value \"binary\" for request option \"embedding_type\" of \
             amazon.titan-embed-image-v1: allowed values are float"
        ))
    );
    assert_eq!(
        decode(G1, &[], typed(EmbeddingType::Binary), b"{}", 1),
        Err(invalid_param(
            "invalid value \"binary\" for request option \"embedding_type\" of \
             amazon.titan-embed-g1-text-02: allowed values are float"
        ))
    );
    assert_eq!(check(V2, &params(&[("embedding_type", "Binary")])), Ok(()));
    assert_eq!(
        check(IMAGE, &params(&[("embedding_type", "float")])),
        Ok(())
    );
}

/// `n` bits of a known pattern: bytes 0x81, 0x7F, 0x00, 0xFF, then 0xA5 repeated.
fn bit_pattern(n: usize) -> (Vec<u8>, Vec<f32>) {
    let bytes: Vec<u8> = (0..n / 8)
        .map(|i| [0x81, 0x7F, 0x00, 0xFF].get(i).copied().unwrap_or(0xA5))
        .collect();
    let bits = bytes
        .iter()
        .flat_map(|b| (0..8).rev().map(move |i| (b >> i) & 1))
        .collect();
    (bits, bytes.iter().map(|&b| f32::from(b as i8)).collect())
}

#[test]
fn v2_binary_bits_are_packed_most_significant_first_as_signed_bytes() {
    let (bits, packed) = bit_pattern(256);
    assert_eq!(
        &packed[..5],
        [-127.0, 127.0, 0.0, -1.0, f32::from(0xA5u8 as i8)]
    );
    let floats = vector_json(256);
    let bits_json = serde_json::to_string(&bits).unwrap();
    // As the emulator and the AWS page write it: `embedding` (float) is there too.
    let body = format!(
        r#"{{"embedding": {floats}, "embeddingsByType": {{"binary": {bits_json}}}, "inputTextTokenCount": 2}}"#
    );
    for (p, o) in [
        (
            &[("embedding_type", "binary"), ("dimensions", "256")][..],
            RequestOptions::default(),
        ),
        (
            &[][..],
            RequestOptions {
                dimensions: Some(256),
                embedding_type: Some(EmbeddingType::Binary),
            },
        ),
    ] {
        let got = decode(V2, &params(p), o, body.as_bytes(), 1).unwrap();
        assert_eq!(got.embedding_type, EmbeddingType::Binary);
        assert_eq!(got.vectors, Vectors::Values(vec![packed.clone()]));
        assert_eq!(got.input_tokens, Some(2));
    }
    // Both types in the body, float asked for: the float `embedding`, as spans.
    let got = decode(V2, &[], dims(256), body.as_bytes(), 1).unwrap();
    assert_eq!(
        values(&got, body.as_bytes())[0],
        serde_json::from_str::<Vec<f32>>(&floats).unwrap()
    );
    // 1024 dimensions are 128 values; members in any order, a float copy by type too.
    let (bits, packed) = bit_pattern(1024);
    let body = json!({"embeddingsByType": {"float": vec![0.5; 1024], "binary": bits}, "inputTextTokenCount": 9})
        .to_string();
    let got = decode(V2, &[], typed(EmbeddingType::Binary), body.as_bytes(), 1).unwrap();
    assert_eq!(got.vectors, Vectors::Values(vec![packed]));
}

#[test]
fn v2_binary_responses_that_do_not_fit_are_bad_responses() {
    let bin = typed(EmbeddingType::Binary);
    let v = vector_json(1024);
    let err = decode(
        V2,
        &[],
        bin,
        format!(r#"{{"embedding": {v}}}"#).as_bytes(),
        1,
    )
    .unwrap_err();
    assert!(
        err.message().starts_with(
            "the amazon.titan-embed-text-v2:0 response has no \"embeddingsByType.binary\"; body \
             starts: {\"embedding\": [-0.5,"
        ),
        "{err}"
    );
    let body = format!(r#"{{"embeddingsByType": {{"float": {v}}}}}"#);
    let err = decode(V2, &[], bin, body.as_bytes(), 1).unwrap_err();
    assert!(
        err.message().contains("has no \"embeddingsByType.binary\""),
        "{err}"
    );

    let mut bits = bit_pattern(1024).0;
    bits[3] = 2;
    let body = json!({"embeddingsByType": {"binary": bits}}).to_string();
    let err = decode(V2, &[], bin, body.as_bytes(), 1).unwrap_err();
    assert!(
        err.message().starts_with(
            "the amazon.titan-embed-text-v2:0 response has a value other than 0 and 1 in \
             \"embeddingsByType.binary\"; body starts: "
        ),
        "{err}"
    );

    let body = json!({"embeddingsByType": {"binary": bit_pattern(512).0}}).to_string();
    assert_eq!(
        decode(V2, &[], bin, body.as_bytes(), 1),
        Err(CodecError::BadResponse(
            "amazon.titan-embed-text-v2:0 returned a vector of 512 dimensions at position 0; \
             1024 were asked for"
                .into()
        ))
    );
    let body = json!({"embeddingsByType": {"binary": bit_pattern(1024).0}}).to_string();
    assert_eq!(
        decode(V2, &[], bin, body.as_bytes(), 2),
        Err(CodecError::BadResponse(
            "amazon.titan-embed-text-v2:0 returned 1 vectors for 2 inputs".into()
        ))
    );
    let err = decode(
        V2,
        &[],
        bin,
        br#"{"embeddingsByType": {"binary": [1, "0"]}}"#,
        1,
    )
    .unwrap_err();
    assert!(
        err.message().contains(
            "response: embeddingsByType.binary[1]: expected a number, found `\"0\"` at line 1 \
             column 37"
        ),
        "{err}"
    );
}

// ---- spans on the documented bodies

/// The AWS pages' example responses of each model, with strings and nested members that could
/// fool a careless scanner: the span is exactly the `embedding` array.
#[test]
fn spans_of_v1_v2_and_image_bodies() {
    let v = vector_json(256);
    let cases = [
        (
            V1,
            format!(
                r#"{{"embedding": {}, "inputTextTokenCount": 7}}"#,
                vector_json(1536)
            ),
            None,
        ),
        (
            V2,
            format!(
                r#"{{"embeddingsByType": {{"float": [9, 9], "binary": [1, 0]}}, "embedding": {v},
                    "inputTextTokenCount": 7}}"#
            ),
            Some(256),
        ),
        (
            IMAGE,
            format!(
                r#"{{"message": "no \"embedding\": [1] here ]", "embedding": {v}, "inputTextTokenCount": 7}}"#
            ),
            Some(256),
        ),
        (
            V2,
            format!(r#"{{"meta": {{"embedding": [1, 2]}}, "note": "\\\"]}}", "embedding": {v}}}"#),
            Some(256),
        ),
    ];
    for (model, body, d) in cases {
        let o = RequestOptions {
            dimensions: d,
            ..RequestOptions::default()
        };
        let got =
            decode(model, &[], o, body.as_bytes(), 1).unwrap_or_else(|e| panic!("{body}: {e}"));
        let Vectors::Spans(spans) = &got.vectors else {
            panic!("{got:?}")
        };
        let at = body.rfind(r#""embedding": "#).unwrap() + r#""embedding": "#.len();
        assert_eq!(spans[0].start as usize, at, "{body}");
        assert_eq!(
            &body[spans[0].range()],
            if model == V1 {
                vector_json(1536)
            } else {
                v.clone()
            }
        );
    }
}

#[test]
fn truncated_bodies_are_bad_responses() {
    let body = json!({"embedding": vec![0.25; 256], "embeddingsByType": {"float": vec![0.25; 256]},
                      "inputTextTokenCount": 3})
    .to_string();
    assert!(decode(V2, &[], dims(256), body.as_bytes(), 1).is_ok());
    for cut in (0..body.len()).step_by(7) {
        let err = decode(V2, &[], dims(256), &body.as_bytes()[..cut], 1).unwrap_err();
        assert!(matches!(err, CodecError::BadResponse(_)), "{cut}: {err:?}");
    }
}
