//! Hostile guests are contained: a guest that loops forever, one that allocates past the
//! memory cap and one that panics each fail with a clear error naming the codec and model,
//! and the host keeps serving the other codecs.

use bedrock_embed::codec::CodecError;
use bedrock_embed_tests::codecs::{loaded, no_options, params};

fn encode_hostile(model_id: &str) -> CodecError {
    let route = loaded().registry.route(model_id, None).expect("routed");
    route
        .codec
        .encode(
            &route.base_model_id,
            &params(&[]),
            no_options(),
            &["x".to_string()],
        )
        .unwrap_err()
}

fn titan_still_serves() {
    let route = loaded()
        .registry
        .route("amazon.titan-embed-text-v2:0", None)
        .unwrap();
    let invocations = route
        .codec
        .encode(
            &route.base_model_id,
            &params(&[]),
            no_options(),
            &["still here".into()],
        )
        .unwrap();
    assert_eq!(invocations.len(), 1);
}

fn assert_trap(err: &CodecError, codec: &str, model: &str, reason_has: &str) {
    let CodecError::Trap {
        codec: c,
        model_id,
        reason,
        func,
        ..
    } = err
    else {
        panic!("expected a trap, got {err:?}");
    };
    assert_eq!(c, codec);
    assert_eq!(model_id, model);
    assert_eq!(*func, "encode");
    assert!(
        reason.contains(reason_has),
        "{reason:?} should mention {reason_has:?}"
    );
    let msg = err.to_string();
    assert!(msg.contains(codec) && msg.contains(model), "{msg}");
}

#[test]
fn a_guest_that_loops_forever_is_stopped_at_its_deadline() {
    let err = encode_hostile("test.loop");
    assert_trap(&err, "test-loop", "test.loop", "time limit of 500 ms");
    titan_still_serves();
}

#[test]
fn a_guest_that_allocates_past_the_cap_is_stopped() {
    let err = encode_hostile("test.hog");
    assert_trap(&err, "test-hog", "test.hog", "memory limit of 64 MiB");
    titan_still_serves();
}

#[test]
fn a_guest_that_panics_fails_with_its_panic_message() {
    let err = encode_hostile("test.panic");
    assert_trap(&err, "test-panic", "test.panic", "panicked on purpose");
    titan_still_serves();
}

#[test]
fn hostile_and_healthy_calls_run_side_by_side() {
    std::thread::scope(|s| {
        let bad: Vec<_> = ["test.loop", "test.hog", "test.panic"]
            .into_iter()
            .map(|m| s.spawn(move || encode_hostile(m)))
            .collect();
        for _ in 0..20 {
            titan_still_serves();
        }
        for handle in bad {
            assert!(matches!(handle.join().unwrap(), CodecError::Trap { .. }));
        }
    });
}
