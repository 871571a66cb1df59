//! `GET /v1/codecs`: the codecs serving now (after any hot-swap), the model-id prefixes each
//! serves, when it was loaded, and codec files that failed to load with the reason.

use axum::Json;
use axum::extract::State;

use crate::codec::{self, CodecList};
use crate::server::AppState;

pub async fn list(State(state): State<AppState>) -> Json<CodecList> {
    let data = match &state.catalog {
        Some(catalog) => catalog.listing(),
        None => codec::listing_from_registry(&state.embedder.codecs().load()),
    };
    Json(CodecList::new(data))
}
