//! The built-in codecs driven through the real host runtime (compiled components in the
//! sandbox, not the Rust cores), against the AWS documentation's request and response bodies.

use bedrock_embed::codec::{CodecError, RequestOptions, RouteError};
use bedrock_embed_tests::codecs::{loaded, no_options, params};
use serde_json::{Value, json};

fn encode(
    model_id: &str,
    p: &[(&str, &str)],
    options: RequestOptions,
    inputs: &[&str],
) -> Result<Vec<(Value, u32)>, CodecError> {
    let route = loaded().registry.route(model_id, None).expect("routed");
    let inputs: Vec<String> = inputs.iter().map(|s| s.to_string()).collect();
    let invocations = route
        .codec
        .encode(&route.base_model_id, &params(p), options, &inputs)?;
    Ok(invocations
        .into_iter()
        .map(|i| {
            (
                serde_json::from_slice(&i.body).expect("body is JSON"),
                i.input_count,
            )
        })
        .collect())
}

fn one_body(model_id: &str, p: &[(&str, &str)], options: RequestOptions) -> Value {
    let bodies = encode(model_id, p, options, &["Hello world"]).expect("encodes");
    assert_eq!(bodies.len(), 1);
    assert_eq!(bodies[0].1, 1);
    bodies[0].0.clone()
}

fn decode(
    model_id: &str,
    body: &Value,
    input_count: u32,
) -> Result<(Vec<Vec<f32>>, Option<u32>), CodecError> {
    let route = loaded().registry.route(model_id, None).expect("routed");
    let body = serde_json::to_vec(body).unwrap();
    let e = route.codec.decode(
        &route.base_model_id,
        &params(&[]),
        no_options(),
        &body,
        input_count,
    )?;
    Ok((e.vectors, e.input_tokens))
}

fn dims(d: u32) -> RequestOptions {
    RequestOptions {
        dimensions: Some(d),
        embedding_type: None,
    }
}

#[test]
fn built_ins_report_their_interface_and_prefixes() {
    let registry = &loaded().registry;
    let titan = registry.by_name("titan").expect("titan");
    let cohere = registry.by_name("cohere").expect("cohere");
    assert_eq!(titan.interface_version(), "0.2.0");
    assert_eq!(cohere.interface_version(), "0.2.0");
    assert!(
        titan
            .info()
            .model_prefixes
            .contains(&"amazon.titan-embed-".to_string())
    );
    assert!(
        cohere
            .info()
            .model_prefixes
            .contains(&"cohere.embed-".to_string())
    );
    assert_eq!(titan.sha256().len(), 64);
}

#[test]
fn titan_text_v1_sends_input_text_only_and_refuses_v2_params() {
    assert_eq!(
        one_body("amazon.titan-embed-text-v1", &[], no_options()),
        json!({"inputText": "Hello world"})
    );
    let titan = loaded().registry.by_name("titan").unwrap();
    for (key, value) in [("dimensions", "256"), ("normalize", "false")] {
        let err = titan
            .check("amazon.titan-embed-text-v1", &params(&[(key, value)]))
            .unwrap_err();
        assert!(matches!(err, CodecError::InvalidParam { .. }), "{err:?}");
        assert!(err.to_string().contains(key), "{err}");
    }
}

#[test]
fn titan_text_v2_bodies_follow_the_params_and_the_request() {
    let m = "amazon.titan-embed-text-v2:0";
    assert_eq!(
        one_body(m, &[], no_options()),
        json!({"inputText": "Hello world", "dimensions": 1024, "normalize": true})
    );
    assert_eq!(
        one_body(
            m,
            &[("dimensions", "256"), ("normalize", "false")],
            no_options()
        ),
        json!({"inputText": "Hello world", "dimensions": 256, "normalize": false})
    );
    // The request's `dimensions` overrides the param.
    assert_eq!(
        one_body(m, &[("dimensions", "256")], dims(512))["dimensions"],
        512
    );
    // One text per call, in order.
    let bodies = encode(m, &[], no_options(), &["a", "b", "c"]).unwrap();
    let texts: Vec<&str> = bodies
        .iter()
        .map(|(b, _)| b["inputText"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["a", "b", "c"]);
}

#[test]
fn titan_bad_values_name_the_key_the_value_and_the_allowed_values() {
    let titan = loaded().registry.by_name("titan").unwrap();
    let err = titan
        .check(
            "amazon.titan-embed-text-v2:0",
            &params(&[("dimensions", "300")]),
        )
        .unwrap_err();
    let msg = err.to_string();
    for needle in ["dimensions", "300", "1024", "512", "256"] {
        assert!(msg.contains(needle), "{needle} missing from {msg}");
    }
    let err = encode("amazon.titan-embed-text-v2:0", &[], dims(300), &["x"]).unwrap_err();
    assert!(matches!(err, CodecError::InvalidParam { .. }), "{err:?}");
    let err = titan
        .check(
            "amazon.titan-embed-text-v2:0",
            &params(&[("normalize", "maybe")]),
        )
        .unwrap_err();
    assert!(err.to_string().contains("maybe"), "{err}");
}

#[test]
fn empty_inputs_are_typed_errors() {
    for model in ["amazon.titan-embed-text-v2:0", "cohere.embed-english-v3"] {
        let err = encode(model, &[], no_options(), &[]).unwrap_err();
        assert!(
            matches!(err, CodecError::InvalidInput { .. }),
            "{model}: {err:?}"
        );
        let err = encode(model, &[], no_options(), &["ok", ""]).unwrap_err();
        assert!(
            matches!(err, CodecError::InvalidInput { .. }),
            "{model}: {err:?}"
        );
    }
}

#[test]
fn titan_image_v1_text_input_uses_embedding_config() {
    let m = "amazon.titan-embed-image-v1";
    assert_eq!(
        one_body(m, &[], no_options()),
        json!({"inputText": "Hello world", "embeddingConfig": {"outputEmbeddingLength": 1024}})
    );
    assert_eq!(
        one_body(m, &[("dimensions", "384")], no_options())["embeddingConfig"]["outputEmbeddingLength"],
        384
    );
    assert_eq!(
        one_body(m, &[], dims(256))["embeddingConfig"]["outputEmbeddingLength"],
        256
    );
}

/// A vector of `n` distinct, exactly representable floats.
fn vector(n: usize, seed: f32) -> Vec<f32> {
    (0..n).map(|i| seed + i as f32 / 1024.0).collect()
}

#[test]
fn titan_decodes_the_documented_response_and_tolerates_embeddings_by_type() {
    let v = vector(1024, 0.25);
    let body = json!({"embedding": v, "inputTextTokenCount": 4, "embeddingsByType": {"float": v, "binary": vec![1; 1024]}});
    assert_eq!(
        decode("amazon.titan-embed-text-v2:0", &body, 1).unwrap(),
        (vec![v.clone()], Some(4))
    );
    let v1 = vector(1536, -0.5);
    let body = json!({"embedding": v1, "inputTextTokenCount": 2});
    assert_eq!(
        decode("amazon.titan-embed-text-v1", &body, 1).unwrap(),
        (vec![v1], Some(2))
    );
    let image = json!({"embedding": v, "inputTextTokenCount": 2, "message": null});
    assert_eq!(
        decode("amazon.titan-embed-image-v1", &image, 1).unwrap().0,
        vec![v.clone()]
    );
    // A 256-d answer to a 1024-d request is Bedrock misbehaving, not something to pass on.
    let short = json!({"embedding": vector(256, 0.0), "inputTextTokenCount": 2});
    let err = decode("amazon.titan-embed-text-v2:0", &short, 1).unwrap_err();
    assert!(
        matches!(err, CodecError::BadResponse { .. }) && err.to_string().contains("1024"),
        "{err:?}"
    );
    let err = decode("amazon.titan-embed-text-v2:0", &json!({"nothing": 1}), 1).unwrap_err();
    assert!(matches!(err, CodecError::BadResponse { .. }), "{err:?}");
}

#[test]
fn cohere_v3_bodies_follow_the_params() {
    for m in ["cohere.embed-english-v3", "cohere.embed-multilingual-v3"] {
        assert_eq!(
            one_body(m, &[], no_options()),
            json!({"texts": ["Hello world"], "input_type": "search_document", "truncate": "NONE"})
        );
        let b = one_body(
            m,
            &[("input_type", "classification"), ("truncate", "END")],
            no_options(),
        );
        assert_eq!(
            b,
            json!({"texts": ["Hello world"], "input_type": "classification", "truncate": "END"})
        );
    }
    let cohere = loaded().registry.by_name("cohere").unwrap();
    let err = cohere
        .check(
            "cohere.embed-english-v3",
            &params(&[("truncate", "MIDDLE")]),
        )
        .unwrap_err();
    for needle in ["truncate", "MIDDLE", "NONE", "START", "END"] {
        assert!(
            err.to_string().contains(needle),
            "{needle} missing from {err}"
        );
    }
    let err = cohere
        .check(
            "cohere.embed-english-v3",
            &params(&[("input_type", "poetry")]),
        )
        .unwrap_err();
    for needle in [
        "input_type",
        "poetry",
        "search_document",
        "search_query",
        "classification",
        "clustering",
    ] {
        assert!(
            err.to_string().contains(needle),
            "{needle} missing from {err}"
        );
    }
}

#[test]
fn cohere_batches_96_texts_per_call_in_order() {
    for (n, expected) in [(97usize, vec![96u32, 1]), (200, vec![96, 96, 8])] {
        let texts: Vec<String> = (0..n).map(|i| format!("text number {i}")).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let bodies = encode("cohere.embed-english-v3", &[], no_options(), &refs).unwrap();
        let counts: Vec<u32> = bodies.iter().map(|(_, c)| *c).collect();
        assert_eq!(counts, expected, "{n} texts");
        let sent: Vec<String> = bodies
            .iter()
            .flat_map(|(b, _)| {
                b["texts"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_str().unwrap().to_string())
            })
            .collect();
        assert_eq!(sent, texts, "{n} texts keep their order");
    }
}

#[test]
fn cohere_v4_sends_output_dimension_and_its_own_truncate_values() {
    let m = "cohere.embed-v4:0";
    let b = one_body(m, &[], no_options());
    assert_eq!(b["output_dimension"], 1536);
    assert_eq!(b["input_type"], "search_document");
    let b = one_body(
        m,
        &[("output_dimension", "512"), ("truncate", "LEFT")],
        no_options(),
    );
    assert_eq!(
        (b["output_dimension"].clone(), b["truncate"].clone()),
        (json!(512), json!("LEFT"))
    );
    assert_eq!(one_body(m, &[], dims(256))["output_dimension"], 256);
    let cohere = loaded().registry.by_name("cohere").unwrap();
    let err = cohere
        .check(m, &params(&[("truncate", "START")]))
        .unwrap_err();
    for needle in ["START", "LEFT", "RIGHT"] {
        assert!(
            err.to_string().contains(needle),
            "{needle} missing from {err}"
        );
    }
    let err = cohere
        .check(m, &params(&[("output_dimension", "100")]))
        .unwrap_err();
    assert!(err.to_string().contains("1536"), "{err}");
}

#[test]
fn cohere_decodes_both_response_shapes() {
    let (a, b) = (vector(1024, 0.1), vector(1024, 0.2));
    let list = json!({"id": "x", "embeddings": [a, b], "response_type": "embeddings_floats", "texts": ["a", "b"]});
    assert_eq!(
        decode("cohere.embed-english-v3", &list, 2).unwrap(),
        (vec![a.clone(), b.clone()], None)
    );
    let (c, d) = (vector(1536, 0.3), vector(1536, 0.4));
    let by_type = json!({"id": "x", "embeddings": {"float": [c, d], "int8": [[1, 2], [3, 4]]}, "response_type": "embeddings_by_type"});
    assert_eq!(
        decode("cohere.embed-v4:0", &by_type, 2).unwrap().0,
        vec![c, d]
    );
    let by_type_v3 =
        json!({"id": "x", "embeddings": {"float": [a, b]}, "response_type": "embeddings_by_type"});
    assert_eq!(
        decode("cohere.embed-multilingual-v3", &by_type_v3, 2)
            .unwrap()
            .0,
        vec![a, b]
    );
    let err = decode("cohere.embed-english-v3", &list, 3).unwrap_err();
    assert!(matches!(err, CodecError::BadResponse { .. }), "{err:?}");
}

#[test]
fn routing_understands_profiles_and_arns_and_names_what_is_served() {
    let registry = &loaded().registry;
    for id in [
        "us.cohere.embed-v4:0",
        "global.cohere.embed-v4:0",
        "arn:aws:bedrock:us-east-1::foundation-model/cohere.embed-english-v3",
        "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.cohere.embed-v4:0",
    ] {
        assert_eq!(
            registry.route(id, None).unwrap().codec.name(),
            "cohere",
            "{id}"
        );
    }
    assert_eq!(
        registry
            .route("us.cohere.embed-v4:0", None)
            .unwrap()
            .base_model_id,
        "cohere.embed-v4:0"
    );
    let err = registry
        .route("meta.llama3-8b-instruct-v1:0", None)
        .unwrap_err();
    assert!(matches!(err, RouteError::NoCodec { .. }));
    let msg = err.to_string();
    assert!(
        msg.contains("amazon.titan-embed-") && msg.contains("cohere.embed-"),
        "{msg}"
    );
    let arn = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc";
    assert!(matches!(
        registry.route(arn, None),
        Err(RouteError::Opaque { .. })
    ));
    assert_eq!(
        registry.route(arn, Some("titan")).unwrap().codec.name(),
        "titan"
    );
}
