//! The request path: cache lookup per text → codec `encode` of the misses → InvokeModel calls
//! fanned out under the model's limiter, retried over it → codec `decode` → cache store →
//! vectors in input order, with the token usage Bedrock billed.
//!
//! One failed call fails the whole request (the other calls are cancelled): never a partial
//! answer. With the cache on, only the texts it misses go to the codec (which re-batches them),
//! each distinct text once; `prompt_tokens` counts only those calls.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use aws_sdk_bedrockruntime::error::SdkError;
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeDeserializationInterceptorContextRef;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;
use futures::future::try_join_all;

use crate::aws::{InvokeFailure, classify};
use crate::cache::{CacheKey, EmbeddingCache, KeyScope};
use crate::codec::{
    CodecError, EmbeddingType, Registry, RequestOptions, RouteError, embedding_type,
};
use crate::limiter::{ShedCause, TokenHold, estimate};
use crate::models::Model;

/// The header Bedrock reports input tokens in when the body does not.
const TOKEN_COUNT_HEADER: &str = "x-amzn-bedrock-input-token-count";

/// The served models and the codec table they route through (swapped whole on hot-swap).
pub struct Embedder {
    models: BTreeMap<String, Arc<Model>>,
    codecs: Arc<ArcSwap<Registry>>,
    cache: Option<Arc<EmbeddingCache>>,
}

/// How one request is served.
#[derive(Debug, Clone, Copy, Default)]
pub struct EmbedOptions {
    /// The request's `dimensions` override (OpenAI's `dimensions`).
    pub dimensions: Option<u32>,
    /// The request's `embedding_type`; else the model's `embedding_type` param; else float.
    pub embedding_type: Option<EmbeddingType>,
    /// Give up with [`EmbedError::RateLimited`] rather than wait longer than this for the
    /// limiter, over the whole request (HTTP: the model's `limiter_max_wait`). `None`: wait.
    pub max_wait: Option<Duration>,
    /// `Cache-Control: no-cache`: skip the lookup (the vectors are still stored).
    pub skip_cache_lookup: bool,
}

/// What the cache did for a request (`x-cache`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheOutcome {
    /// Every text was cached: no Bedrock call.
    Hit,
    /// Some were.
    Partial,
    /// None were (or the lookup was skipped).
    Miss,
}

impl CacheOutcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hit => "hit",
            Self::Partial => "partial",
            Self::Miss => "miss",
        }
    }
}

/// A request's vectors, in input order, and what it cost.
#[derive(Debug, Clone)]
pub struct Embedded {
    pub vectors: Vec<Vec<f32>>,
    /// What the values are (integer types hold exact integers in the f32s).
    pub embedding_type: EmbeddingType,
    pub prompt_tokens: u64,
    /// InvokeModel calls the codec asked for.
    pub invocations: usize,
    /// Attempts made, retries included.
    pub attempts: u32,
    /// `None` when the cache is off.
    pub cache: Option<CacheOutcome>,
}

#[derive(Debug, thiserror::Error)]
pub enum EmbedError {
    #[error("model {name:?} is not served here; available models: {available}")]
    UnknownModel { name: String, available: String },
    #[error("model {model:?} has no codec: {source}")]
    NoCodec {
        model: String,
        source: Box<RouteError>,
    },
    #[error("{0}")]
    Codec(#[from] CodecError),
    /// Bedrock refused or failed the call, after any retries. `message` names the fix.
    #[error("{message}")]
    Bedrock {
        failure: Box<InvokeFailure>,
        message: String,
        attempts: u32,
    },
    /// The limiter would make the request wait longer than `limiter_max_wait`.
    #[error(
        "model {model:?} is at its {} limit: the request would wait longer than limiter_max_wait ({}); try again in {} s",
        match cause {
            ShedCause::Requests => "request rate or concurrency",
            ShedCause::Tokens => "token (tokens_per_min_limit / tokens_per_day_limit)",
        },
        humantime::format_duration(*max_wait),
        retry_after.as_secs_f64().ceil().max(1.0)
    )]
    RateLimited {
        model: String,
        max_wait: Duration,
        retry_after: Duration,
        cause: ShedCause,
    },
    /// One call of the request needs more tokens (estimated) than a token limit allows at all.
    #[error(
        "model {model:?}: a call of this request may use up to {estimate} input tokens (estimated as its texts' UTF-8 bytes + 2 per text), more than the {limit} of {param}: send fewer or shorter inputs per request{}",
        if *param == "tokens_per_min_limit" { ", or raise tokens_per_min_limit" } else { ", or raise tokens_per_day_limit" }
    )]
    TooManyTokens {
        model: String,
        estimate: u64,
        limit: u64,
        param: &'static str,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

impl Embedder {
    pub fn new(models: Vec<Model>, codecs: Arc<ArcSwap<Registry>>) -> Self {
        let models = models
            .into_iter()
            .map(|m| (m.name.clone(), Arc::new(m)))
            .collect();
        Self {
            models,
            codecs,
            cache: None,
        }
    }

    /// Serves vectors from `cache` (and stores them there).
    pub fn with_cache(mut self, cache: Option<Arc<EmbeddingCache>>) -> Self {
        self.cache = cache;
        self
    }

    pub fn cache(&self) -> Option<&Arc<EmbeddingCache>> {
        self.cache.as_ref()
    }

    pub fn models(&self) -> impl Iterator<Item = &Arc<Model>> {
        self.models.values()
    }

    pub fn model(&self, name: &str) -> Result<&Arc<Model>, EmbedError> {
        self.models
            .get(name)
            .ok_or_else(|| EmbedError::UnknownModel {
                name: name.to_string(),
                available: self.models.keys().cloned().collect::<Vec<_>>().join(", "),
            })
    }

    pub fn codecs(&self) -> &Arc<ArcSwap<Registry>> {
        &self.codecs
    }

    /// Embeds `inputs` with model `name`, waiting for the limiter as long as it takes (the CLI
    /// and bulk job). `dimensions` is the request's override (OpenAI's `dimensions`); the codec
    /// decides whether the model accepts it.
    pub async fn embed(
        &self,
        name: &str,
        inputs: Vec<String>,
        dimensions: Option<u32>,
    ) -> Result<Embedded, EmbedError> {
        let options = EmbedOptions {
            dimensions,
            ..EmbedOptions::default()
        };
        self.embed_with(name, inputs, options).await
    }

    /// Embeds `inputs` with model `name` as `options` say.
    pub async fn embed_with(
        &self,
        name: &str,
        inputs: Vec<String>,
        options: EmbedOptions,
    ) -> Result<Embedded, EmbedError> {
        let deadline = options.max_wait.map(|w| (Instant::now() + w, w));
        let model = self.model(name)?.clone();
        // The codec is fixed for the whole request: a hot-swap lands on the next one.
        let route = self
            .codecs
            .load()
            .route(&model.codec_model_id, model.codec_pin.as_deref())
            .map_err(|source| EmbedError::NoCodec {
                model: name.to_string(),
                source: Box::new(source),
            })?;
        let codec = route.codec;
        let base = Arc::<str>::from(route.base_model_id);
        // Resolved here, not left to the codec, so a cache hit knows what it serves; the codec
        // validates it for the model and must answer in it.
        let embedding_type = options.embedding_type.unwrap_or(model.embedding_type);
        let request_options = RequestOptions {
            dimensions: options.dimensions,
            embedding_type: Some(embedding_type),
        };

        // The cache: which texts are known, and the distinct others to send.
        let cached = match &self.cache {
            Some(cache) => {
                let scope = KeyScope {
                    model_id: &model.model_id,
                    codec_name: codec.name(),
                    codec_version: &codec.info().version,
                    params: &model.params,
                    dimensions: options.dimensions,
                    embedding_type: options.embedding_type.map(embedding_type::type_name),
                };
                let hasher = scope.hasher();
                let keys: Vec<CacheKey> = inputs.iter().map(|t| hasher.key(t)).collect();
                let found = if options.skip_cache_lookup {
                    vec![None; keys.len()]
                } else {
                    cache.get_many(&keys).await
                };
                Some((cache, keys, found))
            }
            None => None,
        };
        let count = inputs.len();
        let (to_send, slot_of, send_keys) = match &cached {
            None => (inputs, Vec::new(), Vec::new()),
            Some((_, keys, found)) => {
                let mut to_send = Vec::new();
                let mut send_keys: Vec<CacheKey> = Vec::new();
                let mut slot_of = vec![usize::MAX; count];
                let mut seen = std::collections::HashMap::new();
                for (i, text) in inputs.into_iter().enumerate() {
                    if found[i].is_some() {
                        continue;
                    }
                    slot_of[i] = *seen.entry(keys[i]).or_insert_with(|| {
                        to_send.push(text);
                        send_keys.push(keys[i]);
                        to_send.len() - 1
                    });
                }
                (to_send, slot_of, send_keys)
            }
        };
        let outcome = cached.as_ref().map(|(_, _, found)| {
            let hits = found.iter().filter(|v| v.is_some()).count();
            match hits {
                h if h == count => CacheOutcome::Hit,
                0 => CacheOutcome::Miss,
                _ => CacheOutcome::Partial,
            }
        });
        if to_send.is_empty()
            && count > 0
            && let Some((_, _, found)) = cached
        {
            return Ok(Embedded {
                vectors: found.into_iter().map(|v| v.unwrap_or_default()).collect(),
                embedding_type,
                prompt_tokens: 0,
                invocations: 0,
                attempts: 0,
                cache: outcome,
            });
        }

        let sent = to_send.len();
        // Each text's token estimate, in order: the codec batches texts in order, so a call's
        // estimate is the sum over its `input_count` texts.
        let text_tokens: Vec<u64> = if model.limiter.limits_tokens() {
            to_send
                .iter()
                .map(|t| estimate::input_tokens([t.as_str()]))
                .collect()
        } else {
            Vec::new()
        };
        let invocations = {
            let size: usize = to_send.iter().map(String::len).sum();
            let (codec, base, params) = (codec.clone(), base.clone(), model.params.clone());
            let model_name = model.name.clone();
            run_codec(codec.is_builtin(), size, move || {
                timed(&model_name, "encode", || {
                    codec.encode(&base, &params, request_options, &to_send)
                })
            })
            .await??
        };
        let invocation_count = invocations.len();
        // A call over a token limit could never be sent: refuse the request before any is.
        let mut next_text = 0usize;
        let mut estimates = Vec::with_capacity(invocation_count);
        for invocation in &invocations {
            let end = (next_text + invocation.input_count as usize).min(text_tokens.len());
            let tokens: u64 = text_tokens[next_text.min(end)..end].iter().sum();
            next_text = end;
            if let Err(over) = model.limiter.check_tokens(tokens) {
                return Err(EmbedError::TooManyTokens {
                    model: model.name.clone(),
                    estimate: over.estimate,
                    limit: over.limit,
                    param: over.param,
                });
            }
            estimates.push(tokens);
        }

        let calls = invocations
            .into_iter()
            .zip(estimates)
            .map(|(invocation, estimate)| {
                let (model, codec, base) = (model.clone(), codec.clone(), base.clone());
                async move {
                    let mut reply = model.invoke(invocation.body, deadline, estimate).await?;
                    let hold = reply.tokens.take();
                    let count = invocation.input_count;
                    let params = model.params.clone();
                    let model_name = model.name.clone();
                    let embeddings = run_codec(codec.is_builtin(), reply.body.len(), move || {
                        timed(&model_name, "decode", || {
                            codec.decode(&base, &params, request_options, &reply.body, count)
                        })
                    })
                    .await??;
                    let tokens = embeddings
                        .input_tokens
                        .map(u64::from)
                        .or(reply.header_tokens)
                        .unwrap_or(0);
                    if let Some(hold) = hold {
                        // Without a count from Bedrock, the estimate stays counted.
                        let reported =
                            embeddings.input_tokens.is_some() || reply.header_tokens.is_some();
                        let settle_to = if reported { tokens } else { hold.reserved() };
                        hold.settle(settle_to);
                    }
                    Ok::<_, EmbedError>((embeddings.vectors, tokens, reply.attempts))
                }
            });
        // try_join_all keeps the order of the invocations (so of the inputs) and drops the
        // other calls as soon as one fails.
        let results = try_join_all(calls).await?;

        let mut out = Embedded {
            vectors: Vec::with_capacity(count),
            embedding_type,
            prompt_tokens: 0,
            invocations: invocation_count,
            attempts: 0,
            cache: outcome,
        };
        for (vectors, tokens, attempts) in results {
            out.vectors.extend(vectors);
            out.prompt_tokens += tokens;
            out.attempts += attempts;
        }
        let Some((cache, _, found)) = cached else {
            return Ok(out);
        };
        if out.vectors.len() != sent {
            return Err(EmbedError::Internal(format!(
                "model {:?} returned {} vectors for {sent} inputs",
                model.name,
                out.vectors.len()
            )));
        }
        let items: Vec<(CacheKey, &[f32])> = send_keys
            .iter()
            .zip(&out.vectors)
            .map(|(k, v)| (*k, v.as_slice()))
            .collect();
        cache.put_many(&items).await;
        let fresh = std::mem::take(&mut out.vectors);
        out.vectors = found
            .into_iter()
            .zip(slot_of)
            .map(|(hit, slot)| hit.unwrap_or_else(|| fresh[slot].clone()))
            .collect();
        Ok(out)
    }
}

/// One successful InvokeModel call.
struct Reply {
    body: Vec<u8>,
    header_tokens: Option<u64>,
    attempts: u32,
    /// The attempt's token reservation, settled once the body's count is read.
    tokens: Option<TokenHold>,
}

impl Model {
    /// Calls InvokeModel until it succeeds, fails for good, or the retry budget is spent. Every
    /// attempt waits for the limiter first, so the rate limit counts retries as AWS does.
    ///
    /// With `deadline` (the request's limiter budget: when it ends, and how long it was), an
    /// attempt that would wait for the limiter past it fails with [`EmbedError::RateLimited`].
    /// `estimate`: the call's input tokens, reserved per attempt when a token limit is set.
    async fn invoke(
        &self,
        body: Vec<u8>,
        deadline: Option<(Instant, Duration)>,
        estimate: u64,
    ) -> Result<Reply, EmbedError> {
        let started = Instant::now();
        let labels = [("model", self.name.clone())];
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let max_wait = deadline.map(|(at, _)| at.saturating_duration_since(Instant::now()));
            let mut permit = match self.limiter.acquire(max_wait, estimate, &self.name).await {
                Ok(permit) => permit,
                Err(shed) => {
                    metrics::counter!("bedrock_embed_limiter_shed_total", &labels).increment(1);
                    return Err(EmbedError::RateLimited {
                        model: self.name.clone(),
                        max_wait: deadline.map_or(Duration::ZERO, |(_, w)| w),
                        retry_after: shed.retry_after,
                        cause: shed.cause,
                    });
                }
            };
            let hold = permit.take_tokens();
            metrics::histogram!("bedrock_embed_limiter_wait_seconds", &labels)
                .record(permit.waited().as_secs_f64());
            metrics::counter!("bedrock_embed_invoke_attempts_total", &labels).increment(1);
            let tokens = Arc::new(AtomicI64::new(-1));
            let result = self
                .aws
                .client
                .invoke_model()
                .model_id(&self.model_id)
                .content_type("application/json")
                .accept("application/json")
                .body(Blob::new(body.clone()))
                .customize()
                .interceptor(TokenCountHeader(tokens.clone()))
                .send()
                .await;
            drop(permit);
            let err = match result {
                Ok(output) => {
                    let header_tokens = u64::try_from(tokens.load(Ordering::Relaxed)).ok();
                    return Ok(Reply {
                        body: output.body.into_inner(),
                        header_tokens,
                        attempts,
                        tokens: hold,
                    });
                }
                Err(err) => err,
            };
            // Bedrock answered with an error: it used no tokens. (A call that got no answer
            // keeps its estimate: it may have been counted.)
            if let (Some(hold), SdkError::ServiceError(_)) = (hold, &err) {
                hold.settle(0);
            }
            let failure = classify(&err);
            if failure.kind.is_throttle() {
                metrics::counter!("bedrock_embed_throttles_total", &labels).increment(1);
            }
            if failure.retryable()
                && let Some(delay) = self.retry.next_delay(attempts, started.elapsed())
            {
                metrics::counter!("bedrock_embed_retries_total", &labels).increment(1);
                tracing::debug!(model = %self.name, attempts, ?delay, code = ?failure.code, "retrying InvokeModel");
                tokio::time::sleep(delay).await;
                continue;
            }
            let message = failure.user_message(
                &self.name,
                &self.model_id,
                &self.aws.region,
                &self.aws.credentials_source,
            );
            return Err(EmbedError::Bedrock {
                failure: Box::new(failure),
                message,
                attempts,
            });
        }
    }
}

impl EmbedError {
    /// How long a client should wait before trying again, for throttling.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Bedrock { failure, .. } if failure.kind.is_throttle() => {
                Some(Duration::from_secs(1))
            }
            Self::RateLimited { retry_after, .. } => Some(*retry_after),
            _ => None,
        }
    }
}

/// Payloads up to this size go through a built-in codec on the calling task: a Titan
/// encode, or a decode of its 20–45 KB response, takes tens of µs, less than handing it to the
/// blocking pool and back costs (two thread wake-ups; see BENCHMARKS.md).
const INLINE_BYTES: usize = 64 << 10;

/// Runs a codec call (synchronous wasm). Small calls into a built-in codec run right here;
/// anything larger, and every call into a codec file, runs on the blocking pool, so a slow or
/// hostile codec (up to its CPU deadline) never holds an async worker.
async fn run_codec<R: Send + 'static>(
    builtin: bool,
    payload_bytes: usize,
    f: impl FnOnce() -> R + Send + 'static,
) -> Result<R, EmbedError> {
    if builtin && payload_bytes <= INLINE_BYTES {
        return Ok(f());
    }
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| EmbedError::Internal(format!("codec task failed: {e}")))
}

/// Runs a codec call, recording how long the guest took (not the wait for a blocking thread).
fn timed<R>(model: &str, op: &'static str, call: impl FnOnce() -> R) -> R {
    let started = Instant::now();
    let result = call();
    metrics::histogram!("bedrock_embed_codec_seconds", "model" => model.to_string(), "op" => op)
        .record(started.elapsed().as_secs_f64());
    result
}

/// Reads `X-Amzn-Bedrock-Input-Token-Count` off a successful response (the SDK does not
/// model it; Cohere reports tokens only there).
#[derive(Debug)]
struct TokenCountHeader(Arc<AtomicI64>);

impl Intercept for TokenCountHeader {
    fn name(&self) -> &'static str {
        "TokenCountHeader"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(n) = context
            .response()
            .headers()
            .get(TOKEN_COUNT_HEADER)
            .and_then(|v| v.trim().parse::<i64>().ok())
        {
            self.0.store(n, Ordering::Relaxed);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn only_small_builtin_calls_run_on_the_calling_task() {
        let here = std::thread::current().id();
        let thread = || std::thread::current().id();
        assert_eq!(run_codec(true, INLINE_BYTES, thread).await.unwrap(), here);
        assert_ne!(
            run_codec(true, INLINE_BYTES + 1, thread).await.unwrap(),
            here
        );
        // A codec file may spin until its deadline: never on an async worker.
        assert_ne!(run_codec(false, 10, thread).await.unwrap(), here);
    }
}
