//! Every model, through the real aws-sdk-bedrockruntime client (SigV4 signed).

mod common;

use bedrock_emulator::{Config, cosine, embed, embed_as, spawn};
use common::{client, floats, invoke};
use serde_json::json;

#[tokio::test]
async fn titan_text_v1_and_v2() {
    let emu = spawn(Config::default()).await.unwrap();
    let c = client(&emu);

    let v1 = invoke(
        &c,
        "amazon.titan-embed-text-v1",
        json!({"inputText": "hello world"}),
    )
    .await
    .unwrap();
    assert_eq!(floats(&v1["embedding"]), embed("hello world", 1536, false));
    assert!(v1["inputTextTokenCount"].as_u64().unwrap() >= 2);

    let v2 = invoke(
        &c,
        "amazon.titan-embed-text-v2:0",
        json!({"inputText": "hello world"}),
    )
    .await
    .unwrap();
    assert_eq!(floats(&v2["embedding"]), embed("hello world", 1024, true));
    assert_eq!(v2["embeddingsByType"]["float"], v2["embedding"]);

    let v2 = invoke(
        &c,
        "amazon.titan-embed-text-v2:0",
        json!({"inputText": "hello world", "dimensions": 256, "normalize": false, "embeddingTypes": ["float", "binary"]}),
    )
    .await
    .unwrap();
    assert_eq!(floats(&v2["embedding"]), embed("hello world", 256, false));
    assert_eq!(
        v2["embeddingsByType"]["binary"].as_array().unwrap().len(),
        256
    );

    // The legacy alias id routes to v1.
    let g1 = invoke(
        &c,
        "amazon.titan-embed-g1-text-02",
        json!({"inputText": "x"}),
    )
    .await
    .unwrap();
    assert_eq!(g1["embedding"].as_array().unwrap().len(), 1536);
    emu.shutdown().await;
}

#[tokio::test]
async fn titan_image_v1_text() {
    let emu = spawn(Config::default()).await.unwrap();
    let c = client(&emu);
    let out = invoke(
        &c,
        "amazon.titan-embed-image-v1",
        json!({"inputText": "a red bicycle", "embeddingConfig": {"outputEmbeddingLength": 384}}),
    )
    .await
    .unwrap();
    assert_eq!(floats(&out["embedding"]), embed("a red bicycle", 384, true));
    assert!(out.get("message").is_some());
    emu.shutdown().await;
}

#[tokio::test]
async fn cohere_v3_both_shapes_and_multilingual() {
    let emu = spawn(Config::default()).await.unwrap();
    let c = client(&emu);
    let out = invoke(
        &c,
        "cohere.embed-english-v3",
        json!({"texts": ["first text", "second text"], "input_type": "search_document", "truncate": "END"}),
    )
    .await
    .unwrap();
    assert_eq!(out["response_type"], "embeddings_floats");
    let list = out["embeddings"].as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(
        floats(&list[1]),
        embed_as("second text", 1024, true, Some("search_document"))
    );
    assert!(out["id"].as_str().unwrap().len() > 8);

    let out = invoke(
        &c,
        "cohere.embed-multilingual-v3",
        json!({"texts": ["bonjour le monde"], "input_type": "search_query", "truncate": "NONE", "embedding_types": ["float", "int8", "binary"]}),
    )
    .await
    .unwrap();
    assert_eq!(out["response_type"], "embeddings_by_type");
    assert_eq!(
        floats(&out["embeddings"]["float"][0]),
        embed_as("bonjour le monde", 1024, true, Some("search_query"))
    );
    assert_eq!(out["embeddings"]["int8"][0].as_array().unwrap().len(), 1024);
    assert_eq!(
        out["embeddings"]["binary"][0].as_array().unwrap().len(),
        128
    );

    // 96 texts is the limit.
    let texts: Vec<String> = (0..96).map(|i| format!("text number {i}")).collect();
    let out = invoke(
        &c,
        "cohere.embed-english-v3",
        json!({"texts": texts, "input_type": "clustering", "truncate": "END"}),
    )
    .await
    .unwrap();
    assert_eq!(out["embeddings"].as_array().unwrap().len(), 96);
    emu.shutdown().await;
}

#[tokio::test]
async fn cohere_v4_by_type_via_profiles_and_arns() {
    let emu = spawn(Config::default()).await.unwrap();
    let c = client(&emu);
    for model in [
        "cohere.embed-v4:0",
        "us.cohere.embed-v4:0",
        "global.cohere.embed-v4:0",
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.cohere.embed-v4:0",
        "arn:aws:bedrock:us-east-1::foundation-model/cohere.embed-v4:0",
    ] {
        let out = invoke(
            &c,
            model,
            json!({"texts": ["vector search"], "input_type": "search_query", "output_dimension": 512, "truncate": "RIGHT"}),
        )
        .await
        .unwrap_or_else(|e| panic!("{model}: {e:?}"));
        assert_eq!(out["response_type"], "embeddings_by_type", "{model}");
        assert_eq!(
            floats(&out["embeddings"]["float"][0]),
            embed_as("vector search", 512, true, Some("search_query")),
            "{model}"
        );
    }
    let out = invoke(
        &c,
        "cohere.embed-v4:0",
        json!({"texts": ["a", "b"], "input_type": "search_document", "embedding_types": ["int8", "uint8", "ubinary"]}),
    )
    .await
    .unwrap();
    assert_eq!(
        out["embeddings"]["uint8"][1].as_array().unwrap().len(),
        1536
    );
    assert!(out["embeddings"].get("float").is_none());
    let log = emu.requests();
    assert_eq!(log.len(), 6);
    assert_eq!(
        log[3].model_id,
        "arn:aws:bedrock:us-east-1:123456789012:inference-profile/eu.cohere.embed-v4:0"
    );
    assert_eq!(log[3].base_model.as_deref(), Some("cohere.embed-v4:0"));
    assert_eq!(log[3].body["output_dimension"], 512);
    assert_eq!(log[3].headers["content-type"], "application/json");
    assert_eq!(log[3].access_key_id.as_deref(), Some(emu.access_key_id()));
    assert_eq!(emu.stats().model("cohere.embed-v4:0").unwrap().accepted, 6);
    emu.shutdown().await;
}

#[tokio::test]
async fn nova_2_text() {
    let emu = spawn(Config::default()).await.unwrap();
    let c = client(&emu);
    let out = invoke(
        &c,
        "amazon.nova-2-multimodal-embeddings-v1:0",
        json!({
            "schemaVersion": "nova-multimodal-embed-v1",
            "taskType": "SINGLE_EMBEDDING",
            "singleEmbeddingParams": {
                "embeddingPurpose": "GENERIC_INDEX",
                "embeddingDimension": 1024,
                "text": {"truncationMode": "END", "value": "nova embeds text"}
            }
        }),
    )
    .await
    .unwrap();
    let e = &out["embeddings"][0];
    assert_eq!(e["embeddingType"], "TEXT");
    assert_eq!(
        floats(&e["embedding"]),
        embed_as("nova embeds text", 1024, true, Some("GENERIC_INDEX"))
    );
    emu.shutdown().await;
}

#[tokio::test]
async fn vectors_carry_meaning_end_to_end() {
    let emu = spawn(Config::default()).await.unwrap();
    let c = client(&emu);
    let get = |t: &'static str| {
        let c = c.clone();
        async move {
            floats(
                &invoke(&c, "amazon.titan-embed-text-v2:0", json!({"inputText": t}))
                    .await
                    .unwrap()["embedding"],
            )
        }
    };
    let a = get("the cat sat on the mat").await;
    let b = get("a cat sat on a mat").await;
    let d = get("quarterly revenue grew nine percent").await;
    assert!(cosine(&a, &b) > cosine(&a, &d) + 0.3);
    assert_eq!(a, get("the cat sat on the mat").await);
    emu.shutdown().await;
}

#[tokio::test]
async fn session_token_and_bearer_api_key() {
    use aws_sdk_bedrockruntime::config::{BehaviorVersion, Region, Token};
    use aws_smithy_runtime_api::client::auth::http::HTTP_BEARER_AUTH_SCHEME_ID;

    let emu = spawn(
        Config::default()
            .with_session_token("session-xyz")
            .with_api_key("bedrock-api-key-123"),
    )
    .await
    .unwrap();
    let c = client(&emu); // carries the session token
    invoke(
        &c,
        "amazon.titan-embed-text-v2:0",
        json!({"inputText": "with token"}),
    )
    .await
    .unwrap();
    assert_eq!(
        emu.requests()[0].headers["x-amz-security-token"],
        "session-xyz"
    );

    let conf = aws_sdk_bedrockruntime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(emu.endpoint_url())
        .bearer_token(Token::new("bedrock-api-key-123", None))
        .auth_scheme_preference([HTTP_BEARER_AUTH_SCHEME_ID])
        .build();
    let bearer = aws_sdk_bedrockruntime::Client::from_conf(conf);
    invoke(
        &bearer,
        "amazon.titan-embed-text-v2:0",
        json!({"inputText": "with api key"}),
    )
    .await
    .unwrap();
    assert_eq!(emu.requests()[1].auth, "bearer");
    emu.shutdown().await;
}
