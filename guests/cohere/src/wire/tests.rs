//! The Cohere wire format against the AWS documentation's request and response examples (both
//! response shapes, 96-text batching), and every error path with its message.

use super::*;
use serde_json::{Value, json};

const EN: &str = "cohere.embed-english-v3";
const MULTI: &str = "cohere.embed-multilingual-v3";
const V4: &str = "cohere.embed-v4:0";

fn params(pairs: &[(&str, &str)]) -> Vec<Param> {
    pairs.iter().map(|&(n, v)| Param::new(n, v)).collect()
}

fn texts(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

fn numbered(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("text {i}")).collect()
}

fn dims(n: u32) -> RequestOptions {
    RequestOptions {
        dimensions: Some(n),
        embedding_type: None,
    }
}

const NONE: RequestOptions = RequestOptions {
    dimensions: None,
    embedding_type: None,
};

/// The vectors as the host reads them (the spans parsed), checking they are float spans.
fn values(got: &Embeddings, body: &[u8]) -> Vec<Vec<f32>> {
    assert_eq!(got.embedding_type, EmbeddingType::Float);
    assert!(matches!(got.vectors, Vectors::Spans(_)), "{got:?}");
    got.vectors.values(body).unwrap()
}

fn body(model: &str, p: &[(&str, &str)], o: RequestOptions, inputs: &[&str]) -> Value {
    let inv = encode(model, &params(p), o, &texts(inputs)).unwrap();
    assert_eq!(inv.len(), 1);
    assert_eq!(inv[0].input_count as usize, inputs.len());
    serde_json::from_slice(&inv[0].body).unwrap()
}

fn invalid_param(msg: &str) -> CodecError {
    CodecError::InvalidParam(msg.to_owned())
}

/// `n` vectors of `d` floats, vector `i` starting with `i`.
fn vectors_json(n: usize, d: usize) -> String {
    let v: Vec<Vec<f32>> = (0..n)
        .map(|i| {
            (0..d)
                .map(|j| if j == 0 { i as f32 } else { 0.015625 })
                .collect()
        })
        .collect();
    serde_json::to_string(&v).unwrap()
}

// ---- info

#[test]
fn info_names_the_codec_prefix_and_params() {
    let info = info();
    assert_eq!(info.name, "cohere");
    assert_eq!(info.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(info.model_prefixes, vec!["cohere.embed-".to_owned()]);
    let names: Vec<_> = info.params.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "input_type",
            "truncate",
            "output_dimension",
            "dimensions",
            "max_tokens",
            "embedding_type"
        ]
    );
    assert_eq!(
        info.params[0].default_value.as_deref(),
        Some("search_document")
    );
    assert_eq!(info.params[0].allowed, INPUT_TYPES);
    assert_eq!(info.params[1].default_value.as_deref(), Some("NONE"));
    assert_eq!(info.params[4].default_value, None);
    assert!(info.params[4].allowed.is_empty());
    assert_eq!(info.params[5].default_value.as_deref(), Some("float"));
    assert_eq!(
        info.params[5].allowed,
        ["float", "int8", "uint8", "binary", "ubinary"]
    );
    assert!(info.params.iter().all(|p| !p.description.is_empty()));
}

// ---- models

#[test]
fn known_models() {
    assert_eq!(Config::resolve(EN, &[], NONE).unwrap().model, Model::V3);
    assert_eq!(Config::resolve(MULTI, &[], NONE).unwrap().model, Model::V3);
    assert_eq!(Config::resolve(V4, &[], NONE).unwrap().model, Model::V4);
}

#[test]
fn unknown_model_names_the_known_ones() {
    assert_eq!(
        check("cohere.embed-english-v2", &[]),
        Err(CodecError::UnsupportedModel(
            "the cohere codec does not know model \"cohere.embed-english-v2\"; it serves \
             cohere.embed-english-v3, cohere.embed-multilingual-v3, cohere.embed-v4:0"
                .into()
        ))
    );
}

#[test]
fn plain_embed_v4_names_the_versioned_id() {
    let err = check("cohere.embed-v4", &[]).unwrap_err();
    assert!(matches!(err, CodecError::UnsupportedModel(_)));
    assert!(
        err.message().contains("did you mean cohere.embed-v4:0?"),
        "{err}"
    );
}

// ---- bodies (AWS doc request examples)

#[test]
fn v3_body_always_sends_input_type_and_truncate() {
    for model in [EN, MULTI] {
        assert_eq!(
            body(model, &[], NONE, &["Hello", "world"]),
            json!({"texts": ["Hello", "world"], "input_type": "search_document", "truncate": "NONE"})
        );
    }
}

#[test]
fn v3_body_for_every_input_type_and_truncate() {
    for input_type in INPUT_TYPES {
        for truncate in V3_TRUNCATE {
            assert_eq!(
                body(
                    EN,
                    &[("input_type", input_type), ("truncate", truncate)],
                    NONE,
                    &["x"]
                ),
                json!({"texts": ["x"], "input_type": input_type, "truncate": truncate})
            );
        }
    }
}

#[test]
fn values_are_matched_in_any_case_and_sent_canonically() {
    let b = body(
        MULTI,
        &[("input_type", "Search_Query"), ("truncate", "end")],
        NONE,
        &["x"],
    );
    assert_eq!(b["input_type"], "search_query");
    assert_eq!(b["truncate"], "END");
}

#[test]
fn v3_accepts_its_fixed_size_and_sends_no_dimension() {
    let b = body(EN, &[("output_dimension", "1024")], dims(1024), &["x"]);
    assert_eq!(
        b,
        json!({"texts": ["x"], "input_type": "search_document", "truncate": "NONE"})
    );
}

#[test]
fn v4_body_is_exactly_the_documented_fields_in_order() {
    let inv = encode(V4, &[], NONE, &texts(&["hi"])).unwrap();
    assert_eq!(
        std::str::from_utf8(&inv[0].body).unwrap(),
        r#"{"texts":["hi"],"input_type":"search_document","truncate":"NONE","output_dimension":1536,"embedding_types":["float"]}"#
    );
}

#[test]
fn v4_body_for_every_dimension_truncate_and_max_tokens() {
    for d in V4_DIMENSIONS {
        for truncate in V4_TRUNCATE {
            let d = d.to_string();
            assert_eq!(
                body(
                    V4,
                    &[
                        ("output_dimension", &d),
                        ("truncate", truncate),
                        ("input_type", "clustering")
                    ],
                    NONE,
                    &["x"]
                ),
                json!({"texts": ["x"], "input_type": "clustering", "truncate": truncate,
                       "output_dimension": d.parse::<u32>().unwrap(), "embedding_types": ["float"]})
            );
        }
    }
    assert_eq!(
        body(V4, &[("max_tokens", "512")], NONE, &["x"]),
        json!({"texts": ["x"], "input_type": "search_document", "truncate": "NONE",
               "output_dimension": 1536, "max_tokens": 512, "embedding_types": ["float"]})
    );
}

#[test]
fn dimensions_is_an_alias_of_output_dimension() {
    assert_eq!(
        body(V4, &[("dimensions", "256")], NONE, &["x"])["output_dimension"],
        256
    );
    assert_eq!(
        body(
            V4,
            &[("dimensions", "256"), ("output_dimension", "256")],
            NONE,
            &["x"]
        )["output_dimension"],
        256
    );
    assert_eq!(
        check(
            V4,
            &params(&[("output_dimension", "512"), ("dimensions", "256")])
        ),
        Err(invalid_param(
            "params \"output_dimension\" (512) and \"dimensions\" (256) of cohere.embed-v4:0 \
             disagree: \"dimensions\" is an alias of \"output_dimension\"; give one"
        ))
    );
}

#[test]
fn request_dimensions_override_the_params() {
    assert_eq!(
        body(V4, &[("output_dimension", "512")], dims(1024), &["x"])["output_dimension"],
        1024
    );
    assert_eq!(body(V4, &[], dims(256), &["x"])["output_dimension"], 256);
}

#[test]
fn batches_of_96_in_order() {
    for (n, sizes) in [
        (1, vec![1]),
        (96, vec![96]),
        (97, vec![96, 1]),
        (200, vec![96, 96, 8]),
    ] {
        let inputs = numbered(n);
        for model in [EN, V4] {
            let inv = encode(model, &[], NONE, &inputs).unwrap();
            let counts: Vec<usize> = inv.iter().map(|i| i.input_count as usize).collect();
            assert_eq!(counts, sizes, "{model}, {n} texts");
            let sent: Vec<String> = inv
                .iter()
                .flat_map(|i| {
                    let b: Value = serde_json::from_slice(&i.body).unwrap();
                    let texts = b["texts"].as_array().unwrap().clone();
                    assert_eq!(texts.len(), i.input_count as usize);
                    texts.into_iter().map(|t| t.as_str().unwrap().to_owned())
                })
                .collect();
            assert_eq!(sent, inputs, "{model}, {n} texts");
        }
    }
}

// ---- param errors

#[test]
fn bad_input_type() {
    assert_eq!(
        check(EN, &params(&[("input_type", "image")])),
        Err(invalid_param(
            "invalid value \"image\" for param \"input_type\" of cohere.embed-english-v3: \
             allowed values are search_document, search_query, classification, clustering"
        ))
    );
}

#[test]
fn truncate_values_are_per_version() {
    assert_eq!(
        check(EN, &params(&[("truncate", "LEFT")])),
        Err(invalid_param(
            "invalid value \"LEFT\" for param \"truncate\" of cohere.embed-english-v3: \
             allowed values are NONE, START, END"
        ))
    );
    assert_eq!(
        check(V4, &params(&[("truncate", "END")])),
        Err(invalid_param(
            "invalid value \"END\" for param \"truncate\" of cohere.embed-v4:0: allowed \
             values are NONE, LEFT, RIGHT"
        ))
    );
}

#[test]
fn bad_v4_dimensions() {
    assert_eq!(
        check(V4, &params(&[("output_dimension", "300")])),
        Err(invalid_param(
            "invalid value \"300\" for param \"output_dimension\" of cohere.embed-v4:0: \
             allowed values are 256, 512, 1024, 1536"
        ))
    );
    assert_eq!(
        check(V4, &params(&[("dimensions", "768")])),
        Err(invalid_param(
            "invalid value \"768\" for param \"dimensions\" of cohere.embed-v4:0: allowed \
             values are 256, 512, 1024, 1536"
        ))
    );
    assert_eq!(
        encode(V4, &[], dims(2048), &texts(&["x"])),
        Err(invalid_param(
            "invalid value \"2048\" for request option \"dimensions\" of cohere.embed-v4:0: \
             allowed values are 256, 512, 1024, 1536"
        ))
    );
}

#[test]
fn v3_size_is_fixed() {
    assert_eq!(
        check(MULTI, &params(&[("output_dimension", "512")])),
        Err(invalid_param(
            "invalid value \"512\" for param \"output_dimension\" of \
             cohere.embed-multilingual-v3: its vectors have a fixed size; allowed values are 1024"
        ))
    );
    assert_eq!(
        encode(EN, &[], dims(256), &texts(&["x"])),
        Err(invalid_param(
            "invalid value \"256\" for request option \"dimensions\" of \
             cohere.embed-english-v3: its vectors have a fixed size; allowed values are 1024"
        ))
    );
}

#[test]
fn max_tokens() {
    assert_eq!(check(V4, &params(&[("max_tokens", "128000")])), Ok(()));
    for bad in ["0", "128001", "-5", "many"] {
        assert_eq!(
            check(V4, &params(&[("max_tokens", bad)])),
            Err(invalid_param(&format!(
                "invalid value \"{bad}\" for param \"max_tokens\" of cohere.embed-v4:0: \
                 allowed values are whole numbers from 1 to 128000"
            )))
        );
    }
    assert_eq!(
        check(EN, &params(&[("max_tokens", "512")])),
        Err(invalid_param(
            "param \"max_tokens\" (value \"512\") is not supported by cohere.embed-english-v3: \
             only cohere.embed-v4:0 takes it (v3 texts are at most 2,048 characters); remove it"
        ))
    );
}

#[test]
fn unknown_params_are_left_to_the_host() {
    assert_eq!(
        check(
            V4,
            &params(&[("embedding_types", "int8"), ("inputType", "x")])
        ),
        Ok(())
    );
}

// ---- input errors

#[test]
fn empty_inputs_are_invalid() {
    assert_eq!(
        encode(V4, &[], NONE, &[]),
        Err(CodecError::InvalidInput(
            "no input: cohere.embed-v4:0 needs at least one text".into()
        ))
    );
    let mut inputs = numbered(150);
    inputs[120] = String::new();
    assert_eq!(
        encode(EN, &[], NONE, &inputs),
        Err(CodecError::InvalidInput(
            "input 120 is an empty string: cohere.embed-english-v3 needs non-empty text".into()
        ))
    );
}

#[test]
fn v3_texts_are_at_most_2048_characters_whatever_truncate_says() {
    let ok = "ü".repeat(V3_MAX_CHARS);
    let long = "a".repeat(V3_MAX_CHARS + 1);
    assert!(encode(EN, &[], NONE, &[ok]).is_ok());
    for truncate in V3_TRUNCATE {
        assert_eq!(
            encode(
                EN,
                &params(&[("truncate", truncate)]),
                NONE,
                &["a".into(), long.clone()]
            ),
            Err(CodecError::InvalidInput(
                "input 1 is 2049 characters long: cohere.embed-english-v3 accepts at most \
                 2048 characters per text"
                    .into()
            ))
        );
    }
    // v4 documents no character limit.
    assert!(encode(V4, &[], NONE, &[long]).is_ok());
}

// ---- decode (AWS doc response examples, both shapes)

#[test]
fn decodes_the_list_shape() {
    let body = format!(
        r#"{{"id": "3a5e2c1b", "embeddings": {}, "response_type": "embeddings_floats",
             "texts": ["hello", "world"]}}"#,
        vectors_json(2, 1024)
    );
    let got = decode(EN, &[], NONE, body.as_bytes(), 2).unwrap();
    let vectors = values(&got, body.as_bytes());
    assert_eq!(vectors.len(), 2);
    assert_eq!(vectors[1][0], 1.0);
    assert_eq!(vectors[1][1], 0.015625);
    assert_eq!(got.input_tokens, None);
}

#[test]
fn decodes_the_by_type_shape_taking_float() {
    let body = format!(
        r#"{{"id": "x", "embeddings": {{"int8": [[1, 2], [3, 4]], "float": {}, "ubinary": [[0]]}},
             "response_type": "embeddings_by_type", "texts": ["a", "b"]}}"#,
        vectors_json(2, 256)
    );
    let got = decode(V4, &[], dims(256), body.as_bytes(), 2).unwrap();
    let vectors = values(&got, body.as_bytes());
    assert_eq!(vectors.len(), 2);
    assert_eq!(vectors[0].len(), 256);
    assert_eq!(vectors[1][0], 1.0);
}

#[test]
fn v4_in_the_list_shape_as_the_docs_show() {
    let body = format!(r#"{{"embeddings": {}}}"#, vectors_json(3, 1536));
    assert_eq!(
        decode(V4, &[], NONE, body.as_bytes(), 3)
            .unwrap()
            .vectors
            .len(),
        3
    );
}

#[test]
fn a_full_96_by_1536_response_keeps_order() {
    let body = format!(
        r#"{{"embeddings": {{"float": {}}}, "texts": {}}}"#,
        vectors_json(96, 1536),
        serde_json::to_string(&numbered(96)).unwrap()
    );
    assert!(body.len() > 1_000_000);
    let got = decode(V4, &[], NONE, body.as_bytes(), 96).unwrap();
    let vectors = values(&got, body.as_bytes());
    assert_eq!(vectors.len(), 96);
    for (i, v) in vectors.iter().enumerate() {
        assert_eq!(v[0], i as f32);
        assert_eq!(v.len(), 1536);
    }
}

#[test]
fn by_type_without_float_is_a_bad_response() {
    let err = decode(V4, &[], NONE, br#"{"embeddings": {"int8": [[1]]}}"#, 1).unwrap_err();
    let CodecError::BadResponse(msg) = &err else {
        panic!("{err:?}")
    };
    assert!(
        msg.contains("the embeddings by type have no \"float\" list (types: int8)"),
        "{msg}"
    );
}

#[test]
fn a_vector_count_other_than_the_input_count_is_a_bad_response() {
    let body = format!(r#"{{"embeddings": {}}}"#, vectors_json(95, 1024));
    assert_eq!(
        decode(EN, &[], NONE, body.as_bytes(), 96),
        Err(CodecError::BadResponse(
            "cohere.embed-english-v3 returned 95 vectors for 96 inputs".into()
        ))
    );
}

#[test]
fn vectors_of_unequal_or_wrong_size_are_a_bad_response() {
    let body = br#"{"embeddings": {"float": [[0.1, 0.2], [0.1]]}}"#;
    let err = decode(V4, &[], dims(256), body, 2).unwrap_err();
    assert!(matches!(err, CodecError::BadResponse(_)), "{err:?}");
    let body = format!(r#"{{"embeddings": {}}}"#, vectors_json(1, 1536));
    assert_eq!(
        decode(V4, &[], dims(512), body.as_bytes(), 1),
        Err(CodecError::BadResponse(
            "cohere.embed-v4:0 returned a vector of 1536 dimensions at position 0; 512 were \
             asked for"
                .into()
        ))
    );
}

#[test]
fn non_numbers_are_a_bad_response() {
    for body in [
        &br#"{"embeddings": [[0.1, "0.2"]]}"#[..],
        br#"{"embeddings": [[0.1, [0.2]]]}"#,
        br#"{"embeddings": [[0.1, {}]]}"#,
        br#"{"embeddings": [0.1, 0.2]}"#,
        br#"{"embeddings": "float"}"#,
        br#"{"embeddings": null}"#,
    ] {
        let err = decode(EN, &[], NONE, body, 1).unwrap_err();
        assert!(
            matches!(&err, CodecError::BadResponse(m) if m.starts_with("cannot read the cohere.embed-english-v3 response: ")),
            "{err:?}"
        );
    }
    // The numbers themselves are the host's to check (it refuses `null`, `01` and 1e39, beyond
    // f32): the spans are returned as they are.
    let body = format!(
        r#"{{"embeddings": [[null, 01, 1e39{}]]}}"#,
        ", 0.5".repeat(1021)
    );
    let got = decode(EN, &[], NONE, body.as_bytes(), 1).unwrap();
    let Vectors::Spans(spans) = &got.vectors else {
        panic!("{got:?}")
    };
    assert!(body[spans[0].range()].starts_with("[null, 01, 1e39, 0.5"));
    assert!(got.vectors.values(body.as_bytes()).is_err());
}

#[test]
fn invalid_json_and_missing_embeddings_are_bad_responses_with_an_excerpt() {
    let body = format!("{{\"embeddings\": [[0.1, {}", "0.2, ".repeat(2000));
    let err = decode(EN, &[], NONE, body.as_bytes(), 1).unwrap_err();
    let CodecError::BadResponse(msg) = &err else {
        panic!("{err:?}")
    };
    let excerpt = msg.split("body starts: ").nth(1).unwrap();
    assert!(excerpt.starts_with("{\"embeddings\": [[0.1, 0.2"), "{msg}");
    assert!(excerpt.chars().count() <= codec_kit::EXCERPT_CHARS);

    let err = decode(
        EN,
        &[],
        NONE,
        br#"{"message": "Malformed input request"}"#,
        1,
    )
    .unwrap_err();
    assert_eq!(
        err,
        CodecError::BadResponse(
            "cannot read the cohere.embed-english-v3 response: missing field `embeddings` at \
             line 1 column 38; body starts: {\"message\": \"Malformed input request\"}"
                .into()
        )
    );
}

/// Both shapes as the emulator writes them (each f32 widened to f64), and as an encoder writing
/// shortest f32 texts would, pretty-printed too: the vectors are the ones serde_json reads, bit
/// for bit.
#[test]
fn decodes_realistic_bodies_exactly_as_serde_json_reads_them() {
    let vectors: Vec<Vec<f32>> = (0..96)
        .map(|i| {
            (0..1024)
                .map(|j| ((i * 1024 + j) as f32 * 0.7311).sin() / 29.0)
                .collect()
        })
        .collect();
    let widened: Vec<Vec<f64>> = vectors
        .iter()
        .map(|v| v.iter().map(|&x| f64::from(x)).collect())
        .collect();
    let texts = numbered(96);
    let list = json!({"embeddings": widened, "id": "a1", "response_type": "embeddings_floats",
                      "texts": texts});
    let by_type = json!({"embeddings": {"float": vectors, "int8": [[1, -2]]}, "id": "a1",
                         "response_type": "embeddings_by_type", "texts": texts});
    let bits = |vs: &[Vec<f32>]| {
        vs.iter()
            .map(|v| v.iter().map(|x| x.to_bits()).collect())
            .collect::<Vec<Vec<u32>>>()
    };
    for (model, body, serde_path) in [
        (EN, serde_json::to_vec(&list).unwrap(), "/embeddings"),
        (EN, serde_json::to_vec_pretty(&list).unwrap(), "/embeddings"),
        (
            V4,
            serde_json::to_vec(&by_type).unwrap(),
            "/embeddings/float",
        ),
        (
            V4,
            serde_json::to_vec_pretty(&by_type).unwrap(),
            "/embeddings/float",
        ),
    ] {
        let got = decode(model, &[], dims(1024), &body, 96).unwrap();
        let serde: Value = serde_json::from_slice(&body).unwrap();
        let want: Vec<Vec<f32>> =
            serde_json::from_value(serde.pointer(serde_path).unwrap().clone()).unwrap();
        let got = values(&got, &body);
        assert_eq!(bits(&got), bits(&want));
        assert_eq!(bits(&got), bits(&vectors));
    }
}

#[test]
fn empty_lists_decode_as_empty() {
    let got = decode(EN, &[], NONE, br#"{"embeddings": []}"#, 0);
    assert_eq!(got.unwrap().vectors, Vectors::Spans(vec![]));
    // An empty vector is read, then refused for its size.
    let err = decode(EN, &[], NONE, br#"{"embeddings": [[]]}"#, 1).unwrap_err();
    assert!(err.message().contains("a vector of 0 dimensions"), "{err}");
}

#[test]
fn non_numbers_are_named_with_their_vector_and_place() {
    let body = br#"{"embeddings": {"float": [[0.5, 0.25], [0.5, "0.25"]]}}"#;
    let err = decode(V4, &[], dims(256), body, 2).unwrap_err();
    assert!(
        err.message().starts_with(
            "cannot read the cohere.embed-v4:0 response: embeddings.float[1][1]: expected a \
             number, found `\"0.25\"` at line 1 column 46; "
        ),
        "{err}"
    );
    let err = decode(EN, &[], NONE, br#"{"embeddings": [0.1, 0.2]}"#, 1).unwrap_err();
    assert!(
        err.message().contains(
            "response: embeddings[0]: expected an array, found `0.1` at line 1 column 17"
        ),
        "{err}"
    );
}

#[test]
fn members_may_come_in_any_order_and_keys_only_once() {
    let v = vectors_json(2, 256);
    let body = format!(
        r#"{{"texts": ["a", "b"], "embeddings": {{"ubinary": [[0]], "float": {v}}}, "id": "x"}}"#
    );
    let got = decode(V4, &[], dims(256), body.as_bytes(), 2).unwrap();
    assert_eq!(
        values(&got, body.as_bytes()),
        serde_json::from_str::<Vec<Vec<f32>>>(&v).unwrap()
    );
    for body in [
        format!(r#"{{"embeddings": {v}, "embeddings": {v}}}"#),
        format!(r#"{{"embeddings": {{"float": {v}, "float": {v}}}}}"#),
    ] {
        let err = decode(V4, &[], dims(256), body.as_bytes(), 2).unwrap_err();
        assert!(err.message().contains("duplicate key"), "{err}");
    }
    let err = decode(V4, &[], NONE, br#"{"embeddings": {}}"#, 1).unwrap_err();
    assert!(
        err.message()
            .contains("embeddings: the embeddings by type have no \"float\" list (types: none)"),
        "{err}"
    );
}

// ---- embedding types

fn typed(t: EmbeddingType) -> RequestOptions {
    RequestOptions {
        embedding_type: Some(t),
        ..NONE
    }
}

fn raw_body(model: &str, p: &[(&str, &str)], o: RequestOptions) -> String {
    let inv = encode(model, &params(p), o, &texts(&["hi"])).unwrap();
    String::from_utf8(inv[0].body.clone()).unwrap()
}

#[test]
fn float_bodies_stay_as_they_were_and_other_types_are_asked_for() {
    let v3_float = r#"{"texts":["hi"],"input_type":"search_document","truncate":"NONE"}"#;
    let v4_float = r#"{"texts":["hi"],"input_type":"search_document","truncate":"NONE","output_dimension":1536,"embedding_types":["float"]}"#;
    for (p, o) in [
        (&[][..], NONE),
        (&[("embedding_type", "float")][..], NONE),
        (
            &[("embedding_type", "int8")][..],
            typed(EmbeddingType::Float),
        ),
    ] {
        assert_eq!(raw_body(EN, p, o), v3_float);
        assert_eq!(raw_body(MULTI, p, o), v3_float);
        assert_eq!(raw_body(V4, p, o), v4_float);
    }
    for t in &EmbeddingType::ALL[1..] {
        let name = t.as_str();
        let v3 = format!(
            r#"{{"texts":["hi"],"input_type":"search_document","truncate":"NONE","embedding_types":["{name}"]}}"#
        );
        let v4 = format!(
            r#"{{"texts":["hi"],"input_type":"search_document","truncate":"NONE","output_dimension":1536,"embedding_types":["{name}"]}}"#
        );
        assert_eq!(raw_body(EN, &[], typed(*t)), v3);
        assert_eq!(raw_body(V4, &[], typed(*t)), v4);
        let upper = name.to_uppercase();
        assert_eq!(raw_body(EN, &[("embedding_type", &upper)], NONE), v3);
        // The request option overrides the param.
        assert_eq!(raw_body(V4, &[("embedding_type", "uint8")], typed(*t)), v4);
    }
}

#[test]
fn an_unknown_embedding_type_names_the_allowed_ones() {
    for model in [EN, V4] {
        assert_eq!(
            check(model, &params(&[("embedding_type", "int4")])),
            Err(invalid_param(&format!(
                "invalid value \"int4\" for param \"embedding_type\" of {model}: allowed values \
                 are float, int8, uint8, binary, ubinary"
            )))
        );
        // Checked even when a request overrides it.
        assert!(
            encode(
                model,
                &params(&[("embedding_type", "bits")]),
                typed(EmbeddingType::Int8),
                &texts(&["x"])
            )
            .is_err()
        );
    }
    assert_eq!(
        check(MULTI, &params(&[("embedding_type", "UBinary")])),
        Ok(())
    );
}

/// A by-type body holding every type, as the emulator writes one: `n` vectors of `d` dimensions.
fn by_type_body(n: usize, d: usize) -> (String, Value) {
    let float: Vec<Vec<f32>> = (0..n)
        .map(|i| {
            (0..d)
                .map(|j| ((i * d + j) as f32 * 0.37).sin() / 7.0)
                .collect()
        })
        .collect();
    let int8: Vec<Vec<i32>> = (0..n)
        .map(|i| (0..d).map(|j| ((i + j) % 256) as i32 - 128).collect())
        .collect();
    let uint8: Vec<Vec<i32>> = (0..n)
        .map(|i| (0..d).map(|j| ((i * 3 + j) % 256) as i32).collect())
        .collect();
    let binary: Vec<Vec<i32>> = (0..n)
        .map(|i| {
            (0..d / 8)
                .map(|j| ((i + j * 5) % 256) as i32 - 128)
                .collect()
        })
        .collect();
    let ubinary: Vec<Vec<i32>> = (0..n)
        .map(|i| (0..d / 8).map(|j| ((i * 7 + j) % 256) as i32).collect())
        .collect();
    let embeddings =
        json!({"float": float, "int8": int8, "uint8": uint8, "binary": binary, "ubinary": ubinary});
    let body = json!({"id": "b]", "embeddings": embeddings, "response_type": "embeddings_by_type",
                      "texts": numbered(n)});
    (body.to_string(), embeddings)
}

#[test]
fn each_type_is_read_from_its_list_as_spans() {
    for (model, d) in [(EN, 1024), (V4, 256), (V4, 1536)] {
        let (body, embeddings) = by_type_body(3, d);
        for t in EmbeddingType::ALL {
            let o = RequestOptions {
                dimensions: (model == V4).then_some(d as u32),
                embedding_type: Some(t),
            };
            let got = decode(model, &[], o, body.as_bytes(), 3).unwrap();
            assert_eq!(got.embedding_type, t);
            let Vectors::Spans(spans) = &got.vectors else {
                panic!("{got:?}")
            };
            assert_eq!(spans.len(), 3);
            let want = &embeddings[t.as_str()];
            for (i, span) in spans.iter().enumerate() {
                // The very text of the array (as serde_json wrote the body).
                let text = want[i].to_string();
                assert!(&body[span.range()] == text.as_str(), "{model} {t} {i}");
            }
            let values = got.vectors.values(body.as_bytes()).unwrap();
            assert_eq!(values[0].len(), t.values_per_vector(d as u32) as usize);
        }
    }
}

#[test]
fn a_type_missing_from_the_response_is_a_bad_response() {
    let body = format!(
        r#"{{"embeddings": {{"float": {}}}}}"#,
        vectors_json(1, 1024)
    );
    let err = decode(EN, &[], typed(EmbeddingType::Int8), body.as_bytes(), 1).unwrap_err();
    assert!(
        err.message().contains(
            "response: embeddings: the embeddings by type have no \"int8\" list (types: float)"
        ),
        "{err}"
    );
    let body = format!(r#"{{"embeddings": {}}}"#, vectors_json(1, 1024));
    let err = decode(EN, &[], typed(EmbeddingType::Binary), body.as_bytes(), 1).unwrap_err();
    assert!(
        err.message().starts_with(
            "cannot read the cohere.embed-english-v3 response: embeddings: expected the \
             embeddings by type, with \"binary\" (a list holds floats only), found `[` at line 1 \
             column 16; body starts: "
        ),
        "{err}"
    );
}

#[test]
fn packed_vectors_of_the_wrong_size_are_a_bad_response() {
    let body = r#"{"embeddings": {"ubinary": [[1, 2, 3]]}}"#;
    assert_eq!(
        decode(
            V4,
            &[],
            RequestOptions {
                dimensions: Some(256),
                embedding_type: Some(EmbeddingType::Ubinary)
            },
            body.as_bytes(),
            1
        ),
        Err(CodecError::BadResponse(
            "cohere.embed-v4:0 returned a ubinary vector of 3 values at position 0; 256 \
             dimensions were asked for, 32 values of 8 bits"
                .into()
        ))
    );
    let (body, _) = by_type_body(2, 1024);
    assert_eq!(
        decode(EN, &[], typed(EmbeddingType::Int8), body.as_bytes(), 3),
        Err(CodecError::BadResponse(
            "cohere.embed-english-v3 returned 2 vectors for 3 inputs".into()
        ))
    );
}

// ---- spans on the documented bodies

/// The list and by-type shapes with the echoed texts holding brackets, quotes and escapes, and
/// `embeddings` keys inside other members: the spans are exactly the vectors' arrays.
#[test]
fn spans_are_not_fooled_by_strings_or_nested_keys() {
    let inputs = [
        "a]",
        "\"]",
        "[[1, 2]]",
        "\\",
        "\\\"]\\",
        "}{",
        "embeddings",
        "é \u{1F600} \u{7}",
    ];
    let texts = serde_json::to_string(&inputs).unwrap();
    let d = 1024;
    let vectors: Vec<Vec<f32>> = (0..inputs.len())
        .map(|i| {
            (0..d)
                .map(|j| ((i * d + j) as f32 * 0.11).cos() / 3.0)
                .collect()
        })
        .collect();
    let list = serde_json::to_string(&vectors).unwrap();
    let bodies = [
        format!(
            r#"{{"id": "x", "texts": {texts}, "meta": {{"embeddings": [[1]], "x": [{{"embeddings": {{"float": [[2]]}}}}]}},
                "embeddings": {list}, "response_type": "embeddings_floats"}}"#
        ),
        format!(
            r#"{{"texts": {texts}, "embeddings": {{"int8": [[1, -1]], "meta": {{"float": [[3]]}}, "float": {list}}},
                "response_type": "embeddings_by_type", "embeddings_by_type": {{"float": [[4]]}}}}"#
        ),
        serde_json::to_string_pretty(&json!({"texts": inputs, "embeddings": {"float": vectors}}))
            .unwrap(),
    ];
    for body in bodies {
        let got = decode(EN, &[], NONE, body.as_bytes(), inputs.len() as u32)
            .unwrap_or_else(|e| panic!("{body}: {e}"));
        let values = values(&got, body.as_bytes());
        assert_eq!(values, vectors, "{body}");
    }
}

#[test]
fn truncated_bodies_are_bad_responses() {
    let (body, _) = by_type_body(2, 256);
    let o = RequestOptions {
        dimensions: Some(256),
        embedding_type: Some(EmbeddingType::Int8),
    };
    assert!(decode(V4, &[], o, body.as_bytes(), 2).is_ok());
    for cut in (0..body.len()).step_by(5) {
        let err = decode(V4, &[], o, &body.as_bytes()[..cut], 2).unwrap_err();
        assert!(matches!(err, CodecError::BadResponse(_)), "{cut}: {err:?}");
    }
}
