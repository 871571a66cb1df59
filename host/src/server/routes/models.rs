//! `GET /v1/models` and `GET /v1/models/{model}`: the spicepod's embedding models.

use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Response};

use crate::models::Model;
use crate::server::AppState;
use crate::server::error::ApiError;
use crate::server::openai::{ModelList, ModelObject};

pub async fn list(State(state): State<AppState>) -> Json<ModelList> {
    let data = state
        .embedder
        .models()
        .map(|m| describe(&state, m))
        .collect();
    Json(ModelList {
        object: "list",
        data,
    })
}

pub async fn get(State(state): State<AppState>, Path(name): Path<String>) -> Response {
    match state.embedder.model(&name) {
        Ok(model) => Json(describe(&state, model)).into_response(),
        Err(e) => ApiError::from_embed(&e).into_response(),
    }
}

/// A model as listed: the codec that serves it now (after any hot-swap), or why none does.
fn describe(state: &AppState, model: &Model) -> ModelObject {
    let (codec, status, reason) = match state
        .embedder
        .codecs()
        .load()
        .route(&model.codec_model_id, model.codec_pin.as_deref())
    {
        Ok(route) => (Some(route.codec.name().to_owned()), "ready", None),
        Err(e) => (None, "no_codec", Some(e.to_string())),
    };
    ModelObject {
        id: model.name.clone(),
        object: "model",
        created: state.created,
        owned_by: "bedrock",
        model_id: model.model_id.clone(),
        codec,
        status,
        reason,
        region: model.aws.region.clone(),
    }
}
