//! Hostile guests dropped into the codecs directory are contained: each fails with a clear
//! error naming its file or codec, grants nothing, and the host keeps serving the others.
//!
//! Refused at load (never serve): a guest that loops forever, one that allocates past the
//! memory cap, one that panics (all three caught by the smoke call), a corrupt, a truncated and
//! an empty file, a component of another world, and one built against WIT 1.0.0.
//! Loaded, then contained per call (`test-misbehave`, guests/testing/misbehave): a trap, a body
//! larger than Bedrock accepts, a flood of output, wrong invocation and vector counts, NaN and
//! infinity in vectors, and tries at the filesystem, the environment, DNS and a TCP socket.

use std::io::ErrorKind;
use std::net::TcpListener;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use bedrock_embed::codec::{Catalog, CodecError, RequestOptions};
use bedrock_embed::server::{ErrorDetail, HttpConfig};
use bedrock_embed_tests::codec_dir::{
    Served, builtin_wasm, embedder_over, guest_wasm, install, sandbox_with,
};
use bedrock_embed_tests::hosted::{emulator_secrets, entry, spicepod_text};
use serde_json::json;

/// The files refused at load, in one codecs directory (loaded by the tests that need it: the
/// runaway guests each cost a deadline).
static REFUSED: LazyLock<Arc<Catalog>> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap().keep();
    for (file, guest) in [
        ("loop.wasm", "test_loop_forever"),
        ("hog.wasm", "test_memory_hog"),
        ("panics.wasm", "test_panics"),
        ("wrong-world.wasm", "test_wrong_world"),
        ("wit-v1.wasm", "test_wit_v1"),
    ] {
        install(&dir, file, &guest_wasm(guest));
    }
    let titan = builtin_wasm("titan_codec");
    install(
        &dir,
        "corrupt.wasm",
        b"\0asm this is not WebAssembly at all",
    );
    install(&dir, "truncated.wasm", &titan[..titan.len() / 2]);
    install(&dir, "empty.wasm", b"");
    let sandbox = sandbox_with(Duration::from_millis(500), None);
    Arc::new(Catalog::load(&sandbox, Some(&dir)).expect("the catalog loads despite bad files"))
});

/// The codec that loads and then misbehaves per call.
static LOADED: LazyLock<Arc<Catalog>> = LazyLock::new(|| {
    let dir = tempfile::tempdir().unwrap().keep();
    install(&dir, "misbehave.wasm", &guest_wasm("test_misbehave"));
    // A deadline generous enough for the 26 MB body on a busy 2-core machine.
    let sandbox = sandbox_with(Duration::from_millis(1500), None);
    let catalog = Catalog::load(&sandbox, Some(&dir)).expect("catalog");
    assert!(catalog.failures().is_empty(), "{:?}", catalog.failures());
    Arc::new(catalog)
});

fn failure(file: &str) -> String {
    let failures = REFUSED.failures();
    let f = failures
        .iter()
        .find(|f| f.path.ends_with(file))
        .unwrap_or_else(|| panic!("{file} did not fail: {failures:?}"));
    assert!(
        f.reason.contains(file),
        "the error names the file: {}",
        f.reason
    );
    f.reason.clone()
}

fn assert_has(text: &str, parts: &[&str]) {
    for part in parts {
        assert!(text.contains(part), "{text:?} should contain {part:?}");
    }
}

fn titan_still_serves(catalog: &Catalog) {
    let route = catalog
        .registry()
        .load()
        .route("amazon.titan-embed-text-v2:0", None)
        .unwrap();
    assert_eq!(route.codec.source().to_string(), "built-in");
    let calls = route
        .codec
        .encode(&route.base_model_id, &[], options(), &["still here".into()])
        .unwrap();
    assert_eq!(calls.len(), 1);
}

fn options() -> RequestOptions {
    RequestOptions {
        dimensions: None,
        embedding_type: None,
    }
}

fn encode(model: &str, inputs: &[&str]) -> Result<usize, CodecError> {
    let route = LOADED
        .registry()
        .load()
        .route(model, None)
        .expect("routed to test-misbehave");
    assert_eq!(route.codec.name(), "test-misbehave");
    let inputs: Vec<String> = inputs.iter().map(|s| s.to_string()).collect();
    route
        .codec
        .encode(&route.base_model_id, &[], options(), &inputs)
        .map(|c| c.len())
}

fn decode(model: &str, inputs: u32) -> Result<usize, CodecError> {
    let route = LOADED.registry().load().route(model, None).expect("routed");
    route
        .codec
        .decode(&route.base_model_id, &[], options(), b"{}", inputs)
        .map(|e| e.vectors.len())
}

#[test]
fn runaway_guests_are_refused_at_load_by_the_smoke_call() {
    assert_has(
        &failure("loop.wasm"),
        &["smoke call", "test-loop", "time limit of 500 ms"],
    );
    assert_has(
        &failure("hog.wasm"),
        &["smoke call", "test-hog", "memory limit of 64 MiB"],
    );
    assert_has(
        &failure("panics.wasm"),
        &["smoke call", "test-panic", "panicked on purpose"],
    );
    titan_still_serves(&REFUSED);
}

#[test]
fn files_that_are_not_codecs_are_refused_with_the_reason() {
    for file in ["corrupt.wasm", "truncated.wasm", "empty.wasm"] {
        assert_has(&failure(file), &["not a valid WebAssembly component"]);
    }
    assert_has(
        &failure("wrong-world.wasm"),
        &[
            "does not export bedrock-embed:codec/codec",
            "example:greeter/greet@0.1.0",
        ],
    );
    assert_has(
        &failure("wit-v1.wasm"),
        &[
            "bedrock-embed:codec/codec@1.0.0",
            "supports bedrock-embed:codec/codec@0.1.x",
        ],
    );
    // None of them shows up as serving anything; the listing says why each failed.
    let listing = REFUSED.listing();
    let failed: Vec<_> = listing.iter().filter(|c| c.last_error.is_some()).collect();
    assert_eq!(failed.len(), 8, "{failed:#?}");
    assert!(
        failed
            .iter()
            .all(|c| c.name.is_none() && c.serves.is_empty())
    );
    titan_still_serves(&REFUSED);
}

#[test]
fn a_trap_is_an_error_naming_the_codec_and_the_instance_is_not_reused() {
    let err = encode("test.bad-trap", &["x"]).unwrap_err();
    assert!(matches!(err, CodecError::Trap { .. }), "{err:?}");
    assert_has(
        &err.to_string(),
        &[
            "test-misbehave",
            "misbehave.wasm",
            "test.bad-trap",
            "unreachable",
        ],
    );
    // The same codec answers the next call on a fresh instance.
    assert_eq!(encode("test.bad-fine", &["a", "b"]).unwrap(), 2);
    titan_still_serves(&LOADED);
}

#[test]
fn huge_output_is_bounded() {
    let err = encode("test.bad-huge-body", &["x"]).unwrap_err();
    assert!(matches!(err, CodecError::Contract { .. }), "{err:?}");
    assert_has(
        &err.to_string(),
        &["test-misbehave", "26000000 byte body", "at most 25000000"],
    );
    // 8 MiB written to stdout and stderr: the host keeps 16 KiB, the guest sees a closed stream
    // and the call still succeeds.
    assert_eq!(encode("test.bad-flood", &["x"]).unwrap(), 1);
    titan_still_serves(&LOADED);
}

#[test]
fn wrong_counts_and_non_finite_vectors_break_the_contract() {
    let err = encode("test.bad-count", &["a", "b"]).unwrap_err();
    assert_has(
        &err.to_string(),
        &[
            "broke the codec contract in encode",
            "cover 3 inputs, but the request has 2",
        ],
    );
    let err = decode("test.bad-count", 2).unwrap_err();
    assert_has(
        &err.to_string(),
        &[
            "broke the codec contract in decode",
            "3 vectors for 2 inputs",
        ],
    );
    for model in ["test.bad-nan", "test.bad-inf"] {
        let err = decode(model, 2).unwrap_err();
        assert!(matches!(err, CodecError::Contract { .. }), "{err:?}");
        assert_has(
            &err.to_string(),
            &["test-misbehave", "vector 0 holds NaN or infinity"],
        );
    }
    assert_eq!(decode("test.bad-fine", 2).unwrap(), 2);
}

#[test]
fn a_guest_that_tries_files_env_dns_and_sockets_gets_nothing() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let err = encode(&format!("test.bad-escape-{port}"), &["x"]).unwrap_err();
    let CodecError::InvalidInput { message, .. } = &err else {
        panic!("expected the guest's report, got {err:?}");
    };
    assert_has(
        message,
        &[
            "preopens: 0",
            "read /etc/passwd: error",
            "read_dir .: error",
            "env: 0 vars",
            "dns localhost: error",
        ],
    );
    // Either the socket or the connection is refused (wasmtime denies every address).
    assert!(
        message.contains("tcp socket: error")
            || message.contains(&format!("tcp connect 127.0.0.1:{port}: error")),
        "{message}"
    );
    assert!(message.contains("access-denied"), "{message}");
    assert!(!message.contains("CONNECTED"), "{message}");
    match listener.accept() {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("the guest reached the listener: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_http_a_trapping_codec_fails_its_request_and_the_others_are_served() {
    let emulator = bedrock_emulator::spawn(bedrock_emulator::Config::new())
        .await
        .expect("emulator");
    let catalog = tokio::task::spawn_blocking(|| LOADED.clone())
        .await
        .unwrap();
    let text = spicepod_text(
        &emulator,
        &(entry("bad", "test.bad-trap", "") + &entry("titan", "amazon.titan-embed-text-v2:0", "")),
    );
    let embedder = embedder_over(&catalog, &text, &emulator_secrets(&emulator))
        .await
        .expect("models build");
    let embedder = Arc::new(embedder);
    let served = Served::start(embedder.clone()).await;
    for _ in 0..3 {
        let (status, body) = served.embed("bad", json!("x")).await;
        assert_eq!(status, 500, "{body}");
        assert_eq!(body["error"]["code"], "codec_trap", "{body}");
        // The client hears that the codec failed and gets the id to quote; which codec file
        // trapped, and how, is the operator's.
        assert!(body["error"]["request_id"].is_string(), "{body}");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert_has(message, &["codec failed", "request id"]);
        assert!(!message.contains("unreachable"), "{message}");
        let (status, body) = served.embed("titan", json!("still served")).await;
        assert_eq!(status, 200, "{body}");
    }
    served.stop().await;
    // With `runtime.http.error_detail: full` the answer carries the operator's detail.
    let full = Served::start_with(
        embedder,
        HttpConfig {
            error_detail: Some(ErrorDetail::Full),
            ..HttpConfig::default()
        },
    )
    .await;
    let (status, body) = full.embed("bad", json!("x")).await;
    assert_eq!(status, 500, "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert_has(message, &["test-misbehave", "unreachable"]);
    let (status, body) = full.embed("titan", json!("still served")).await;
    assert_eq!(status, 200, "{body}");
    full.stop().await;
}
