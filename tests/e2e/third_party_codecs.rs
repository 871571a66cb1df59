//! Third-party codecs, loaded from the codecs directory (not built in), serving real requests
//! through the host's HTTP API and the aws-sdk against the emulator:
//! - `examples/codecs/nova-rust`: Rust, made from guests/template with `just new-codec`, for
//!   Amazon Nova 2 multimodal embeddings (text);
//! - `examples/codecs/python-cohere`: Python, built with componentize-py, for Cohere Embed v4
//!   (it claims `cohere.embed-v4`, longer than the built-in Cohere codec's `cohere.embed-`).
//!
//! And `params.codec`, which pins a model to a codec by name whatever the prefixes say.

use std::sync::{Arc, OnceLock};

use bedrock_embed::codec::{Catalog, RequestOptions};
use bedrock_embed_tests::codec_dir::{
    Served, embedder_over, install, nova_wasm, python_cohere_wasm, row, sandbox, shared_cache,
    vectors,
};
use bedrock_embed_tests::hosted::{emulator_secrets, entry, spicepod_text};
use serde_json::json;

const NOVA: &str = "amazon.nova-2-multimodal-embeddings-v1:0";
const COHERE_V4: &str = "cohere.embed-v4:0";

/// Both example codecs in a codecs directory, loaded once per test process.
async fn catalog_with_both() -> Arc<Catalog> {
    static CATALOG: OnceLock<Arc<Catalog>> = OnceLock::new();
    tokio::task::spawn_blocking(|| {
        CATALOG
            .get_or_init(|| {
                let dir = tempfile::tempdir().unwrap().keep();
                install(&dir, "nova.wasm", &nova_wasm());
                install(&dir, "cohere_v4_py.wasm", &python_cohere_wasm());
                // The Python component is ~18 MB: compiled once per machine, then from the
                // compiled-codec cache.
                let catalog =
                    Catalog::load(&sandbox(Some(&shared_cache())), Some(&dir)).expect("catalog");
                assert!(catalog.failures().is_empty(), "{:#?}", catalog.failures());
                Arc::new(catalog)
            })
            .clone()
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nova_and_python_codecs_serve_real_requests_through_the_host() {
    let emulator = bedrock_emulator::spawn(bedrock_emulator::Config::new())
        .await
        .expect("emulator");
    let catalog = catalog_with_both().await;

    let nova = row(&catalog, "nova.wasm").unwrap();
    assert_eq!(nova.name.as_deref(), Some("nova"));
    assert_eq!(nova.serves, ["amazon.nova-2-multimodal-embeddings-"]);
    assert_eq!(nova.interface_version.as_deref(), Some("0.2.0"));
    let python = row(&catalog, "cohere_v4_py.wasm").unwrap();
    assert_eq!(python.name.as_deref(), Some("cohere-v4-py"));
    assert_eq!(python.serves, ["cohere.embed-v4"]);

    let entries = [
        entry(
            "nova",
            NOVA,
            "      dimensions: 256\n      embedding_purpose: generic_retrieval\n",
        ),
        entry(
            "cohere-v4",
            COHERE_V4,
            "      dimensions: 512\n      input_type: search_query\n",
        ),
        // Pinned to the built-in codec by name: the Python codec's longer prefix does not apply.
        entry(
            "cohere-v4-builtin",
            COHERE_V4,
            "      dimensions: 512\n      input_type: search_query\n      codec: cohere\n",
        ),
        entry("cohere-v3", "cohere.embed-english-v3", ""),
    ]
    .concat();
    let text = spicepod_text(&emulator, &entries);
    let embedder = embedder_over(&catalog, &text, &emulator_secrets(&emulator))
        .await
        .expect("models build (the codecs' check accepts their params)");
    let registry = catalog.registry().load_full();
    for (model, pin, codec) in [
        (NOVA, None, "nova"),
        (COHERE_V4, None, "cohere-v4-py"),
        (COHERE_V4, Some("cohere"), "cohere"),
        ("us.cohere.embed-v4:0", None, "cohere-v4-py"),
        ("cohere.embed-english-v3", None, "cohere"),
    ] {
        assert_eq!(
            registry.route(model, pin).unwrap().codec.name(),
            codec,
            "{model} {pin:?}"
        );
    }
    let served = Served::start(Arc::new(embedder)).await;

    // Nova: one call per text, 256 dimensions as configured.
    let (status, body) = served
        .embed("nova", json!(["a red bicycle", "a blue car"]))
        .await;
    assert_eq!(status, 200, "{body}");
    let v = vectors(&body);
    assert_eq!((v.len(), v[0].len()), (2, 256));
    assert_eq!(
        body["usage"]["prompt_tokens"].as_u64(),
        Some(u64::from(
            bedrock_emulator::token_count("a red bicycle")
                + bedrock_emulator::token_count("a blue car")
        )),
        "{body}"
    );

    // Python Cohere v4: 100 texts in 2 calls (96 + 4), in order, 512 dimensions.
    let texts: Vec<String> = (0..100).map(|i| format!("document number {i}")).collect();
    let before = emulator.stats().model(COHERE_V4).map_or(0, |m| m.accepted);
    let (status, body) = served.embed("cohere-v4", json!(texts)).await;
    assert_eq!(status, 200, "{body}");
    let python_vectors = vectors(&body);
    assert_eq!((python_vectors.len(), python_vectors[0].len()), (100, 512));
    let calls = emulator.stats().model(COHERE_V4).map_or(0, |m| m.accepted) - before;
    assert_eq!(calls, 2, "the Python codec batches 96 texts per call");

    // The same model through the built-in codec: the same request bodies on the wire (equal
    // vectors alone would not show that the codecs send the same params) and the same vectors
    // back. A request's two calls run concurrently, so the emulator may record them in either
    // order: compare them as sets.
    let seen = emulator.requests().len();
    let (status, body) = served.embed("cohere-v4-builtin", json!(texts)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(vectors(&body), python_vectors);
    let requests = emulator.requests();
    let bodies: Vec<_> = requests.iter().map(|r| &r.body).collect();
    let (python_bodies, builtin_bodies) = (&bodies[seen - 2..seen], &bodies[seen..]);
    assert_eq!(builtin_bodies.len(), 2);
    let sorted = |calls: &[&serde_json::Value]| {
        let mut calls: Vec<String> = calls.iter().map(|b| b.to_string()).collect();
        calls.sort();
        calls
    };
    assert_eq!(sorted(python_bodies), sorted(builtin_bodies));
    assert!(
        python_bodies[0]["input_type"].is_string(),
        "{}",
        python_bodies[0]
    );

    // A request option reaches the Python codec, which refuses what the model does not take.
    let response = served
        .http
        .post(format!("{}/v1/embeddings", served.base))
        .json(&json!({"model": "cohere-v4", "input": "x", "dimensions": 300}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    let body: serde_json::Value = response.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("256, 512, 1024, 1536"), "{message}");

    // The built-in codec still serves the v3 models.
    let (status, body) = served.embed("cohere-v3", json!("still built in")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(vectors(&body)[0].len(), 1024);
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pinned_codec_serves_a_model_id_no_prefix_describes() {
    // An imported-model ARN names no base model, so only `params.codec` can route it. The
    // emulator does not serve imported models: this checks routing and the codec calls.
    let catalog = catalog_with_both().await;
    let arn = "arn:aws:bedrock:us-east-1:123456789012:imported-model/abc123xyz";
    let registry = catalog.registry().load_full();
    let err = registry.route(arn, None).unwrap_err();
    assert!(
        err.to_string().contains("pin a codec with `params.codec`"),
        "{err}"
    );
    assert!(
        err.to_string().contains("nova") && err.to_string().contains("cohere-v4-py"),
        "{err}"
    );

    let route = registry.route(arn, Some("nova")).unwrap();
    assert_eq!(route.codec.name(), "nova");
    assert_eq!(
        route.base_model_id, arn,
        "the codec sees the ARN as the model id"
    );
    let err = registry.route(arn, Some("nope")).unwrap_err();
    assert!(err.to_string().contains("no codec has that name"), "{err}");

    // The codec decides whether it can serve an id it does not know: the Nova example
    // refuses it by name, so a spicepod pinning it fails at load, not on a request.
    let err = route.codec.check(&route.base_model_id, &[]).unwrap_err();
    assert!(err.to_string().contains(arn), "{err}");
    let inputs = ["x".to_string()];
    assert!(
        route
            .codec
            .encode(
                &route.base_model_id,
                &[],
                RequestOptions {
                    dimensions: None,
                    embedding_type: None
                },
                &inputs
            )
            .is_err()
    );
}
