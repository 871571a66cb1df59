//! The emulator behaves as Bedrock does where the host depends on it: application inference
//! profiles (a `base_model` spicepod, end to end through the host), the per-model
//! tokens-per-minute quota, and the answer to an unknown model id — all through the real
//! aws-sdk on 127.0.0.1.

use std::time::Duration;

use aws_sdk_bedrockruntime::error::ProvideErrorMetadata;
use aws_sdk_bedrockruntime::primitives::Blob;
use bedrock_embed::aws::RetryBudget;
use bedrock_embed_tests::hosted::{build, emulator_secrets, entry, spicepod_text};
use bedrock_emulator::{Config, Emulator};
use serde_json::json;

const TITAN: &str = "amazon.titan-embed-text-v2:0";
const APP_PROFILE: &str =
    "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/fidelity1";

fn no_retries() -> RetryBudget {
    RetryBudget {
        max_attempts: 1,
        max_elapsed: Duration::from_secs(5),
        base_delay: Duration::from_millis(1),
        max_delay: Duration::from_millis(1),
    }
}

fn sdk_client(emulator: &Emulator) -> aws_sdk_bedrockruntime::Client {
    let creds = aws_credential_types::Credentials::new(
        emulator.access_key_id(),
        emulator.secret_access_key(),
        None,
        None,
        "test",
    );
    let config = aws_sdk_bedrockruntime::Config::builder()
        .behavior_version(aws_sdk_bedrockruntime::config::BehaviorVersion::latest())
        .region(aws_sdk_bedrockruntime::config::Region::new("us-east-1"))
        .credentials_provider(creds)
        .endpoint_url(emulator.endpoint_url())
        .retry_config(aws_smithy_types::retry::RetryConfig::disabled())
        .build();
    aws_sdk_bedrockruntime::Client::from_conf(config)
}

async fn invoke(
    client: &aws_sdk_bedrockruntime::Client,
    model: &str,
    body: serde_json::Value,
) -> Result<serde_json::Value, (String, String)> {
    match client
        .invoke_model()
        .model_id(model)
        .content_type("application/json")
        .body(Blob::new(body.to_string()))
        .send()
        .await
    {
        Ok(out) => Ok(serde_json::from_slice(out.body().as_ref()).unwrap()),
        Err(e) => {
            let e = e.into_service_error();
            Err((
                e.code().unwrap_or_default().to_string(),
                e.message().unwrap_or_default().to_string(),
            ))
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_base_model_spicepod_runs_through_an_application_inference_profile() {
    let emulator =
        bedrock_emulator::spawn(Config::new().with_application_profile(APP_PROFILE, TITAN))
            .await
            .unwrap();
    let text = spicepod_text(
        &emulator,
        &entry(
            "app",
            APP_PROFILE,
            &format!("      base_model: {TITAN}\n      dimensions: \"256\"\n"),
        ),
    );
    let embedder = build(&text, &emulator_secrets(&emulator), no_retries())
        .await
        .unwrap();
    let out = embedder
        .embed("app", vec!["through the profile".into()], None)
        .await
        .unwrap();
    // The Titan codec built the body (chosen by base_model); Bedrock got the ARN.
    assert_eq!(
        out.vectors[0],
        bedrock_emulator::embed("through the profile", 256, true)
    );
    let log = emulator.requests();
    assert_eq!(log.len(), 1);
    assert_eq!(log[0].model_id, APP_PROFILE);
    assert_eq!(log[0].base_model.as_deref(), Some(TITAN));
    assert_eq!(log[0].body["dimensions"], 256);
    assert_eq!(emulator.stats().model(TITAN).unwrap().accepted, 1);

    // A profile the emulator was not told about is an invalid identifier, as on Bedrock.
    let unknown = APP_PROFILE.replace("fidelity1", "unknown");
    let e = invoke(&sdk_client(&emulator), &unknown, json!({"inputText": "x"}))
        .await
        .unwrap_err();
    assert_eq!(
        e,
        (
            "ValidationException".to_string(),
            "The provided model identifier is invalid.".to_string()
        )
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tokens_per_minute_quota_throttles_per_model() {
    const BUDGET: u64 = 100;
    let emulator = bedrock_emulator::spawn(Config::new().with_tokens_per_minute(BUDGET))
        .await
        .unwrap();
    let client = sdk_client(&emulator);
    let text = "one two three four five six seven";
    let per_call = u64::from(bedrock_emulator::token_count(text));
    assert!(per_call > 0 && per_call < BUDGET);

    let mut accepted = 0u64;
    let throttled = loop {
        match invoke(&client, TITAN, json!({"inputText": text})).await {
            Ok(body) => {
                assert_eq!(body["inputTextTokenCount"], per_call);
                accepted += 1;
                assert!(accepted <= BUDGET, "never throttled");
            }
            Err(e) => break e,
        }
    };
    assert_eq!(
        throttled,
        (
            "ThrottlingException".to_string(),
            "Too many tokens, please wait before trying again.".to_string()
        )
    );
    // Exactly as many calls as fit in the budget were accepted.
    assert_eq!(accepted, BUDGET / per_call);
    let stats = emulator.stats();
    let titan = stats.model(TITAN).unwrap();
    assert_eq!(titan.accepted, accepted);
    assert_eq!(titan.errors.get("ThrottlingException"), Some(&1));

    // Another model, and the same model through an inference profile, have their own windows.
    invoke(
        &client,
        "cohere.embed-english-v3",
        json!({"texts": [text], "input_type": "search_query"}),
    )
    .await
    .unwrap();
    invoke(&client, &format!("us.{TITAN}"), json!({"inputText": text}))
        .await
        .unwrap();
    // A reset empties the windows.
    emulator.reset();
    invoke(&client, TITAN, json!({"inputText": text}))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_ids_and_streaming_answer_as_bedrock() {
    let emulator = bedrock_emulator::spawn(Config::new()).await.unwrap();
    let client = sdk_client(&emulator);
    for model in [
        "amazon.titan-embed-text-v9",
        "cohere.embed-v4",
        "arn:aws:bedrock:us-east-1::foundation-model/nope",
    ] {
        let e = invoke(&client, model, json!({"inputText": "x"}))
            .await
            .unwrap_err();
        assert_eq!(e.0, "ValidationException", "{model}");
        assert_eq!(e.1, "The provided model identifier is invalid.", "{model}");
    }
    let e = client
        .invoke_model_with_response_stream()
        .model_id(TITAN)
        .content_type("application/json")
        .body(Blob::new(json!({"inputText": "x"}).to_string()))
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(e.is_validation_exception(), "{e:?}");
    assert_eq!(e.message(), Some("The model is unsupported for streaming."));
}
