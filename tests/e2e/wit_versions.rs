//! Both WIT versions are served side by side, and the rules 0.2 adds are enforced by the host:
//! spans must lie in the body and hold JSON number arrays, values must fit their embedding
//! type, and the type must be the one asked for. A 0.1 codec refuses embedding types by name.
//! Guests: `test-bad-spans` (0.2, guests/testing/bad-spans) and `test-misbehave` (0.1).

use std::sync::{Arc, LazyLock};
use std::time::Duration;

use bedrock_embed::codec::{Catalog, CodecError, EmbeddingType, RequestOptions};
use bedrock_embed_tests::codec_dir::{embedder_over, guest_wasm, install, sandbox_with};
use bedrock_embed_tests::hosted::{emulator_secrets, entry, spicepod_text};

static BOTH: LazyLock<Arc<Catalog>> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap().keep();
    install(&dir, "bad-spans.wasm", &guest_wasm("test_bad_spans"));
    install(&dir, "misbehave.wasm", &guest_wasm("test_misbehave"));
    let sandbox = sandbox_with(Duration::from_millis(1500), None);
    let catalog = Catalog::load(&sandbox, Some(&dir)).expect("catalog");
    assert!(catalog.failures().is_empty(), "{:?}", catalog.failures());
    Arc::new(catalog)
});

fn asking(embedding_type: Option<EmbeddingType>) -> RequestOptions {
    RequestOptions {
        dimensions: None,
        embedding_type,
    }
}

fn decode(
    model: &str,
    body: &str,
    embedding_type: Option<EmbeddingType>,
) -> Result<(Vec<Vec<f32>>, EmbeddingType), CodecError> {
    let route = BOTH.registry().load().route(model, None).expect("routed");
    route
        .codec
        .decode(
            &route.base_model_id,
            &[],
            asking(embedding_type),
            body.as_bytes(),
            1,
        )
        .map(|e| (e.vectors, e.embedding_type))
}

fn contract_error(result: Result<(Vec<Vec<f32>>, EmbeddingType), CodecError>) -> String {
    match result {
        Err(e @ CodecError::Contract { .. }) => e.to_string(),
        other => panic!("expected a contract error, got {other:?}"),
    }
}

#[test]
fn a_catalog_serves_0_1_and_0_2_codecs_side_by_side() {
    let registry = BOTH.registry().load();
    let v2 = registry.route("test.v2-spans", None).unwrap().codec;
    let v1 = registry.route("test.bad-anything", None).unwrap().codec;
    assert_eq!(v2.interface_version(), "0.2.0");
    assert_eq!(v1.interface_version(), "0.1.0");
}

#[test]
fn spans_are_read_by_the_host_to_the_nearest_f32() {
    let (vectors, t) = decode(
        "test.v2-spans",
        r#"{"e": [0.1, -2.5e-3, 1.0000000596046448, 7]}"#,
        None,
    )
    .unwrap();
    assert_eq!(t, EmbeddingType::Float);
    assert_eq!(vectors, vec![vec![0.1f32, -2.5e-3, 1.000_000_1, 7.0]]);
    // Integers through a span, as int8.
    let (vectors, t) = decode(
        "test.v2-spans",
        r#"{"int8": [-128, 0, 127]}"#,
        Some(EmbeddingType::Int8),
    )
    .unwrap();
    assert_eq!(
        (vectors, t),
        (vec![vec![-128.0, 0.0, 127.0]], EmbeddingType::Int8)
    );
}

#[test]
fn a_span_outside_the_body_or_over_something_else_breaks_the_contract() {
    let body = r#"{"e": [1, 2]}"#;
    let message = contract_error(decode("test.v2-span-outside", body, None));
    assert!(
        message.contains("test-bad-spans")
            && message
                .contains("vector 0: its span [1, 1 + 13) lies outside the 13-byte response body"),
        "{message}"
    );
    let message = contract_error(decode("test.v2-span-not-array", body, None));
    assert!(
        message.contains("vector 0: its span is not a JSON array of numbers (at byte 0 of it"),
        "{message}"
    );
    let message = contract_error(decode("test.v2-spans", r#"{"e": [1, "2"]}"#, None));
    assert!(message.contains("not a JSON array of numbers"), "{message}");
    // A float that overflows f32 is an infinity, which float vectors may not hold.
    let message = contract_error(decode("test.v2-spans", r#"{"e": [1e39]}"#, None));
    assert!(
        message.contains("vector 0 holds NaN or infinity"),
        "{message}"
    );
}

#[test]
fn values_must_fit_the_type_and_the_type_must_be_the_one_asked_for() {
    let message = contract_error(decode(
        "test.v2-int8-range",
        "{}",
        Some(EmbeddingType::Int8),
    ));
    assert!(
        message.contains(
            "vector 0 holds 300, which is not an integer from -128 to 127 (int8 vectors)"
        ),
        "{message}"
    );
    let message = contract_error(decode(
        "test.v2-spans",
        r#"{"e": [0.5]}"#,
        Some(EmbeddingType::Uint8),
    ));
    assert!(
        message.contains("holds 0.5, which is not an integer from 0 to 255"),
        "{message}"
    );
    let message = contract_error(decode(
        "test.v2-wrong-type",
        "{}",
        Some(EmbeddingType::Float),
    ));
    assert!(
        message.contains("it returned int8 vectors where the request asked for float"),
        "{message}"
    );
    // The same answer is fine when int8 was asked for.
    let (vectors, _) = decode("test.v2-wrong-type", "{}", Some(EmbeddingType::Int8)).unwrap();
    assert_eq!(vectors, vec![vec![1.0, 2.0]]);
}

#[test]
fn a_0_1_codec_refuses_embedding_types_by_name_and_serves_float() {
    let registry = BOTH.registry().load();
    let route = registry.route("test.bad-ok", None).unwrap();
    let inputs = vec!["x".to_string()];
    let err = route
        .codec
        .encode(
            &route.base_model_id,
            &[],
            asking(Some(EmbeddingType::Binary)),
            &inputs,
        )
        .unwrap_err();
    assert!(
        matches!(&err, CodecError::InvalidParam { message, .. } if message
            == "embedding_type \"binary\" is not available: codec test-misbehave implements \
                bedrock-embed:codec/codec@0.1.0, which has float vectors only; use \"float\" or \
                a codec built against bedrock-embed:codec/codec@0.2.0"),
        "{err:?}"
    );
    let calls = route
        .codec
        .encode(
            &route.base_model_id,
            &[],
            asking(Some(EmbeddingType::Float)),
            &inputs,
        )
        .unwrap();
    assert_eq!(calls.len(), 1);
}

/// A codec may accept an `embedding_type` param the host cannot write: the model fails to
/// load, naming the param, the value and the types there are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_embedding_type_param_the_host_cannot_write_fails_the_load() {
    let emulator = bedrock_emulator::spawn(bedrock_emulator::Config::new())
        .await
        .expect("emulator");
    let catalog = tokio::task::spawn_blocking(|| BOTH.clone()).await.unwrap();
    let text = spicepod_text(
        &emulator,
        &entry("odd", "test.v2-spans", "      embedding_type: float16\n"),
    );
    let err = match embedder_over(&catalog, &text, &emulator_secrets(&emulator)).await {
        Ok(_) => panic!("a model with embedding_type float16 loaded"),
        Err(err) => err.to_string(),
    };
    assert!(
        err.contains(
            "param embedding_type: \"float16\" is not an embedding type; use one of float, \
             int8, uint8, binary, ubinary"
        ),
        "{err}"
    );
}
