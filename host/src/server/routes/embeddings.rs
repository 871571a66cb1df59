//! `POST /v1/embeddings`.

use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::codec::{CodecError, EmbeddingType};
use crate::embedder::{EmbedError, EmbedOptions};
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::metrics;
use crate::server::openai::{EmbeddingsRequest, EmbeddingsResponse, EncodingFormat};

pub async fn create(State(state): State<AppState>, headers: HeaderMap, body: Body) -> Response {
    let mut model_label = metrics::NO_MODEL;
    let result = embed(&state, &headers, body, &mut model_label).await;
    match result {
        Ok(response) => response,
        Err(err) => {
            // Logged (with the request id and the operator's detail) by `request_id::tag`.
            metrics::request_failed(model_label, err.status.as_u16(), err.code);
            let close = err.code == "body_timeout";
            let mut response = err.into_response();
            if close {
                // The rest of the body may still be on its way: this connection is done.
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            response
        }
    }
}

/// The whole body within `deadline` (not per chunk: a client trickling a byte at a time
/// cannot hold the request open), at most `limit` bytes.
async fn read_body(body: Body, limit: usize, deadline: Duration) -> Result<Bytes, ApiError> {
    match tokio::time::timeout(deadline, axum::body::to_bytes(body, limit)).await {
        Err(_) => Err(ApiError::body_timeout(deadline)),
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(err)) => {
            let err = err.into_inner();
            let mut source: Option<&(dyn std::error::Error + 'static)> = Some(err.as_ref());
            while let Some(e) = source {
                if e.is::<http_body_util::LengthLimitError>() {
                    return Err(ApiError::body_too_large(limit));
                }
                source = e.source();
            }
            Err(ApiError::invalid(
                "body",
                "unreadable_body",
                format!("could not read the request body: {err}"),
            ))
        }
    }
}

/// `model_label` is set to the model's name once the request names a served model.
async fn embed<'s>(
    state: &'s AppState,
    headers: &HeaderMap,
    body: Body,
    model_label: &mut &'s str,
) -> Result<Response, ApiError> {
    if !state.is_ready() {
        return Err(ApiError::not_ready());
    }
    let body = read_body(
        body,
        state.limits.max_body_bytes,
        state.http.body_read_timeout,
    )
    .await?;
    let request = EmbeddingsRequest::parse(&body, state.limits.max_inputs)?;
    drop(body);
    let model = state
        .embedder
        .model(&request.model)
        .map_err(|e| ApiError::from_embed(&e))?;
    *model_label = model.name.as_str();
    tracing::debug!(
        model = %model.name,
        inputs = request.input.len(),
        encoding_format = ?request.encoding_format,
        dimensions = ?request.dimensions,
        user = request.user.as_deref(),
        "embeddings request"
    );

    let count = request.input.len();
    metrics::request_started(&model.name, count);
    let started = Instant::now();
    let options = EmbedOptions {
        dimensions: request.dimensions,
        embedding_type: request.embedding_type,
        max_wait: Some(model.limiter.limits().max_wait),
        skip_cache_lookup: no_cache(headers),
    };
    let result = state
        .embedder
        .embed_with(&model.name, request.input, options)
        .await;
    let ok = result.is_ok();
    let tokens = result.as_ref().map(|e| e.prompt_tokens).unwrap_or(0);
    metrics::request_finished(&model.name, started.elapsed(), ok, tokens);
    let embedded = result.map_err(|e| {
        let mut err = ApiError::from_embed(&e);
        // A param or option the model refuses: name the request's field when only one was
        // sent (with both, the message names the one at fault).
        if matches!(e, EmbedError::Codec(CodecError::InvalidParam { .. })) {
            match (request.dimensions, request.embedding_type) {
                (Some(_), None) => err = err.param("dimensions"),
                (None, Some(_)) => err = err.param("embedding_type"),
                _ => {}
            }
        }
        err
    })?;
    if embedded.vectors.len() != count {
        return Err(ApiError::internal(format!(
            "model {:?} returned {} vectors for {count} inputs",
            model.name,
            embedded.vectors.len()
        )));
    }
    let mut response = json_response(
        &model.name,
        embedded.vectors,
        embedded.embedding_type,
        embedded.prompt_tokens,
        request.encoding_format,
    );
    if let Some(outcome) = embedded.cache {
        response
            .headers_mut()
            .insert("x-cache", HeaderValue::from_static(outcome.as_str()));
    }
    Ok(response)
}

/// `Cache-Control: no-cache` (any of the header's directives): skip the cache lookup.
fn no_cache(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|d| d.trim().eq_ignore_ascii_case("no-cache"))
}

/// Serializes straight into one buffer sized for the vectors.
fn json_response(
    model: &str,
    vectors: Vec<Vec<f32>>,
    embedding_type: EmbeddingType,
    prompt_tokens: u64,
    format: EncodingFormat,
) -> Response {
    let floats: usize = vectors.iter().map(Vec::len).sum();
    // ~12 bytes per float as JSON text, ~5.4 as base64; plus a little per vector.
    let per_float = if format == EncodingFormat::Float {
        12
    } else {
        6
    };
    let mut buf = Vec::with_capacity(floats * per_float + vectors.len() * 48 + 128);
    let response = EmbeddingsResponse::new(model, vectors, embedding_type, prompt_tokens, format);
    match response.write_json(&mut buf) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            buf,
        )
            .into_response(),
        Err(e) => {
            ApiError::internal(format!("could not serialize the response: {e}")).into_response()
        }
    }
}
