//! The direct side of the host tax: aws-sdk-bedrockruntime `InvokeModel` calls, as an
//! application would make them without bedrock-embed, from `concurrency` tasks in a closed loop
//! (each sends its next request when the previous one answers, as `wrk` does).

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_credential_types::Credentials;
use aws_sdk_bedrockruntime::config::{BehaviorVersion, Region};
use aws_sdk_bedrockruntime::primitives::Blob;

use crate::stats::LoadStats;

/// A client for the emulator at `endpoint`, with its default keys: the SDK's defaults
/// otherwise (standard retries, which never fire here: the emulator injects no faults).
pub fn client(endpoint: &str) -> aws_sdk_bedrockruntime::Client {
    let config = aws_sdk_bedrockruntime::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(endpoint)
        .credentials_provider(Credentials::new(
            crate::ACCESS_KEY_ID,
            crate::SECRET_ACCESS_KEY,
            None,
            None,
            "bedrock-embed-bench",
        ))
        .build();
    aws_sdk_bedrockruntime::Client::from_conf(config)
}

/// Calls `model_id` with `body` from `concurrency` tasks for `duration` (after `warmup`, not
/// counted) and returns throughput and latency; `decode`, when given, runs on every answer.
pub async fn run(
    client: &aws_sdk_bedrockruntime::Client,
    model_id: &str,
    body: &[u8],
    concurrency: usize,
    warmup: Duration,
    duration: Duration,
    decode: Option<Decode>,
) -> LoadStats {
    if !warmup.is_zero() {
        drive(client, model_id, body, concurrency, warmup, decode).await;
    }
    drive(client, model_id, body, concurrency, duration, decode).await
}

/// What an application calling the SDK does next with the body: read the vectors out of it
/// (the codec core compiled natively, on the async thread as such code usually does).
pub type Decode = fn(&[u8]) -> usize;

async fn drive(
    client: &aws_sdk_bedrockruntime::Client,
    model_id: &str,
    body: &[u8],
    concurrency: usize,
    duration: Duration,
    decode: Option<Decode>,
) -> LoadStats {
    let body: Arc<[u8]> = body.into();
    let started = Instant::now();
    let deadline = started + duration;
    let tasks: Vec<_> = (0..concurrency)
        .map(|_| {
            let (client, model_id, body) = (client.clone(), model_id.to_string(), body.clone());
            tokio::spawn(async move {
                let mut latencies = Vec::new();
                let mut errors = 0u64;
                while Instant::now() < deadline {
                    let t = Instant::now();
                    let result = client
                        .invoke_model()
                        .model_id(&model_id)
                        .content_type("application/json")
                        .accept("application/json")
                        .body(Blob::new(body.to_vec()))
                        .send()
                        .await;
                    match result {
                        Ok(output) => {
                            let body = output.body.into_inner();
                            if let Some(decode) = decode {
                                std::hint::black_box(decode(&body));
                            }
                            std::hint::black_box(body);
                            latencies.push(t.elapsed().as_micros() as u64);
                        }
                        Err(_) => errors += 1,
                    }
                }
                (latencies, errors)
            })
        })
        .collect();
    let mut all = Vec::new();
    let mut errors = 0;
    for task in tasks {
        let (latencies, e) = task.await.expect("load task");
        all.extend(latencies);
        errors += e;
    }
    LoadStats::from_latencies(all, errors, started.elapsed())
}
