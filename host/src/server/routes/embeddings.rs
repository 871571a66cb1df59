//! `POST /v1/embeddings`.

use std::time::Instant;

use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::codec::CodecError;
use crate::embedder::{EmbedError, EmbedOptions};
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::metrics;
use crate::server::openai::{EmbeddingsRequest, EmbeddingsResponse, EncodingFormat};

pub async fn create(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let mut model_label = metrics::NO_MODEL;
    let result = embed(&state, &headers, body, &mut model_label).await;
    match result {
        Ok(response) => response,
        Err(err) => {
            metrics::request_failed(model_label, err.status.as_u16(), err.code);
            if err.status.is_server_error() {
                tracing::warn!(
                    model = model_label,
                    status = err.status.as_u16(),
                    code = err.code,
                    "{}",
                    err.message
                );
            } else {
                tracing::debug!(
                    model = model_label,
                    status = err.status.as_u16(),
                    code = err.code,
                    "{}",
                    err.message
                );
            }
            err.into_response()
        }
    }
}

/// `model_label` is set to the model's name once the request names a served model.
async fn embed<'s>(
    state: &'s AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    model_label: &mut &'s str,
) -> Result<Response, ApiError> {
    if !state.is_ready() {
        return Err(ApiError::not_ready());
    }
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::body_too_large(state.limits.max_body_bytes)
        } else {
            ApiError::invalid(
                "body",
                "unreadable_body",
                format!("could not read the request body: {}", rejection.body_text()),
            )
        }
    })?;
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
        if matches!(e, EmbedError::Codec(CodecError::InvalidParam { .. }))
            && request.dimensions.is_some()
        {
            err = err.param("dimensions");
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
    let response = EmbeddingsResponse::new(model, vectors, prompt_tokens, format);
    match serde_json::to_writer(&mut buf, &response) {
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
