//! Every error type, produced by the emulator and parsed by the Rust SDK as the right typed error.

mod common;

use aws_credential_types::Credentials;
use aws_sdk_bedrockruntime::error::SdkError;
use aws_sdk_bedrockruntime::operation::invoke_model::InvokeModelError;
use bedrock_emulator::{Config, ErrorCode, FaultConfig, spawn};
use common::{client, client_with, code_of, invoke};
use serde_json::json;

type IsError = fn(&InvokeModelError) -> bool;

const TITAN: &str = "amazon.titan-embed-text-v2:0";

fn service_error(r: common::InvokeResult) -> (InvokeModelError, u16) {
    match r {
        Err(SdkError::ServiceError(e)) => {
            let status = e.raw().status().as_u16();
            (e.into_err(), status)
        }
        other => panic!("expected a service error, got {other:?}"),
    }
}

#[tokio::test]
async fn validation_not_found_and_access_denied() {
    let emu =
        spawn(Config::default().with_allowed_models([
            "arn:aws:bedrock:*::foundation-model/amazon.titan-embed-text-v2:0",
        ]))
        .await
        .unwrap();
    let c = client(&emu);

    let (e, status) =
        service_error(invoke(&c, TITAN, json!({"inputText": "x", "dimensions": 100})).await);
    assert!(e.is_validation_exception(), "{e:?}");
    assert_eq!(status, 400);
    let msg = aws_sdk_bedrockruntime::error::ProvideErrorMetadata::message(&e)
        .unwrap()
        .to_string();
    assert!(
        msg.contains("#/dimensions: 100 is not a valid enum value"),
        "{msg}"
    );

    let (e, status) =
        service_error(invoke(&c, TITAN, json!({"texts": ["wrong model body"]})).await);
    assert!(e.is_validation_exception());
    assert_eq!(status, 400);

    // An unknown model id is a 400 ValidationException on Bedrock, not a 404.
    let (e, status) = service_error(invoke(&c, "cohere.embed-v4", json!({})).await);
    assert!(e.is_validation_exception(), "{e:?}");
    assert_eq!(status, 400);
    assert_eq!(
        aws_sdk_bedrockruntime::error::ProvideErrorMetadata::message(&e),
        Some("The provided model identifier is invalid.")
    );

    let (e, status) = service_error(
        invoke(
            &c,
            "cohere.embed-english-v3",
            json!({"texts": ["x"], "input_type": "search_query"}),
        )
        .await,
    );
    assert!(e.is_access_denied_exception(), "{e:?}");
    assert_eq!(status, 403);
    let msg = aws_sdk_bedrockruntime::error::ProvideErrorMetadata::message(&e)
        .unwrap()
        .to_string();
    assert!(msg.contains("bedrock:InvokeModel"), "{msg}");
    assert!(
        msg.contains("foundation-model/cohere.embed-english-v3"),
        "{msg}"
    );

    // Content-Type other than JSON (the SDK's default is application/octet-stream).
    let r = c
        .invoke_model()
        .model_id(TITAN)
        .body(aws_sdk_bedrockruntime::primitives::Blob::new(
            br#"{"inputText":"x"}"#.to_vec(),
        ))
        .send()
        .await;
    match r {
        Err(SdkError::ServiceError(e)) => assert!(e.err().is_validation_exception()),
        other => panic!("{other:?}"),
    }
    let stats = emu.stats();
    assert_eq!(stats.accepted, 0);
    // Two bad bodies, the unknown model id and the content type.
    assert_eq!(stats.errors["ValidationException"], 4);
    emu.shutdown().await;
}

#[tokio::test]
async fn every_injected_service_error_is_typed() {
    let emu = spawn(Config::default()).await.unwrap();
    let c = client(&emu);
    let cases: [(ErrorCode, u16, IsError); 8] = [
        (
            ErrorCode::ThrottlingException,
            429,
            InvokeModelError::is_throttling_exception,
        ),
        (
            ErrorCode::ModelNotReadyException,
            429,
            InvokeModelError::is_model_not_ready_exception,
        ),
        (
            ErrorCode::InternalServerException,
            500,
            InvokeModelError::is_internal_server_exception,
        ),
        (
            ErrorCode::ServiceUnavailableException,
            503,
            InvokeModelError::is_service_unavailable_exception,
        ),
        (
            ErrorCode::ModelTimeoutException,
            408,
            InvokeModelError::is_model_timeout_exception,
        ),
        (
            ErrorCode::ModelErrorException,
            424,
            InvokeModelError::is_model_error_exception,
        ),
        (
            ErrorCode::ServiceQuotaExceededException,
            400,
            InvokeModelError::is_service_quota_exceeded_exception,
        ),
        (
            ErrorCode::AccessDeniedException,
            403,
            InvokeModelError::is_access_denied_exception,
        ),
    ];
    for (code, want_status, is) in cases {
        emu.set_model_faults(
            TITAN,
            FaultConfig {
                always: Some(code),
                ..Default::default()
            },
        )
        .unwrap();
        let (e, status) = service_error(invoke(&c, TITAN, json!({"inputText": "x"})).await);
        assert!(is(&e), "{code}: {e:?}");
        assert_eq!(status, want_status, "{code}");
        if let InvokeModelError::ModelErrorException(m) = &e {
            assert_eq!(m.original_status_code(), Some(500));
            assert!(
                m.resource_name()
                    .unwrap()
                    .contains("amazon.titan-embed-text-v2:0")
            );
        }
    }
    // Back to normal once the model's faults are cleared; other models were never affected.
    emu.clear_model_faults(TITAN);
    invoke(&c, TITAN, json!({"inputText": "x"})).await.unwrap();
    emu.shutdown().await;
}

#[tokio::test]
async fn auth_failures() {
    let emu = spawn(Config::default().with_expired_session_token("old-token"))
        .await
        .unwrap();

    let wrong_key = client_with(
        &emu,
        Credentials::new("AKIDUNKNOWN", emu.secret_access_key(), None, None, "t"),
    );
    let err = invoke(&wrong_key, TITAN, json!({"inputText": "x"}))
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), "UnrecognizedClientException");
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 403);

    let wrong_secret = client_with(
        &emu,
        Credentials::new(emu.access_key_id(), "not-the-secret", None, None, "t"),
    );
    let err = invoke(&wrong_secret, TITAN, json!({"inputText": "x"}))
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), "InvalidSignatureException");
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 403);

    let expired = client_with(
        &emu,
        Credentials::new(
            emu.access_key_id(),
            emu.secret_access_key(),
            Some("old-token".into()),
            None,
            "t",
        ),
    );
    let err = invoke(&expired, TITAN, json!({"inputText": "x"}))
        .await
        .unwrap_err();
    assert_eq!(code_of(&err), "ExpiredTokenException");
    assert_eq!(err.raw_response().unwrap().status().as_u16(), 403);

    // A token the emulator does not know.
    let bad_token = client_with(
        &emu,
        Credentials::new(
            emu.access_key_id(),
            emu.secret_access_key(),
            Some("who-knows".into()),
            None,
            "t",
        ),
    );
    assert_eq!(
        code_of(
            &invoke(&bad_token, TITAN, json!({"inputText": "x"}))
                .await
                .unwrap_err()
        ),
        "UnrecognizedClientException"
    );

    let s = emu.stats();
    assert_eq!((s.attempted, s.rejected, s.accepted), (4, 4, 0));
    assert_eq!(s.errors["UnrecognizedClientException"], 2);
    emu.shutdown().await;
}

#[tokio::test]
async fn connection_reset_is_a_dispatch_failure() {
    let emu = spawn(Config::default().with_faults(FaultConfig {
        reset_rate: 1.0,
        ..Default::default()
    }))
    .await
    .unwrap();
    let c = client(&emu);
    let err = invoke(&c, TITAN, json!({"inputText": "x"}))
        .await
        .unwrap_err();
    assert!(matches!(err, SdkError::DispatchFailure(_)), "{err:?}");
    // The emulator keeps serving on new connections.
    emu.set_default_faults(FaultConfig::default()).unwrap();
    invoke(&c, TITAN, json!({"inputText": "x"})).await.unwrap();
    let s = emu.stats();
    assert_eq!(s.errors["ConnectionReset"], 1);
    assert_eq!(s.accepted, 1);
    emu.shutdown().await;
}
