//! Amazon Nova 2 multimodal embeddings (synchronous `SINGLE_EMBEDDING`).

use super::json::{self, Object};
use super::{ModelOutput, floats};
use crate::error::ApiError;
use crate::vectors::{embed_as, token_count, truncate_to_tokens};
use serde_json::{Map, Value, json};

const MAX_TOKENS: u32 = 8192;
const PURPOSES: &[&str] = &[
    "GENERIC_INDEX",
    "GENERIC_RETRIEVAL",
    "TEXT_RETRIEVAL",
    "IMAGE_RETRIEVAL",
    "VIDEO_RETRIEVAL",
    "DOCUMENT_RETRIEVAL",
    "AUDIO_RETRIEVAL",
    "CLASSIFICATION",
    "CLUSTERING",
];

/// `amazon.nova-2-multimodal-embeddings-v1:0`.
pub(super) fn v2(obj: &Object) -> Result<ModelOutput, ApiError> {
    json::reject_unknown(
        obj,
        "#",
        &["schemaVersion", "taskType", "singleEmbeddingParams"],
    )?;
    // Optional; the AWS request-schema page gives `nova-multimodal-embed-v1` as the default
    // (the Vercel AI SDK and langchain_aws leave it out).
    if let Some(schema) = json::opt_str(obj, "#", "schemaVersion")? {
        json::check_enum("#/schemaVersion", schema, &["nova-multimodal-embed-v1"])?;
    }
    let task = json::req_str(obj, "#", "taskType")?;
    json::check_enum(
        "#/taskType",
        task,
        &["SINGLE_EMBEDDING", "SEGMENTED_EMBEDDING"],
    )?;
    if task != "SINGLE_EMBEDDING" {
        return Err(ApiError::validation(
            "SEGMENTED_EMBEDDING is only supported with StartAsyncInvoke",
        ));
    }
    let p = "#/singleEmbeddingParams";
    json::required(obj, "#", "singleEmbeddingParams")?;
    let params = json::opt_obj(obj, "#", "singleEmbeddingParams")?
        .cloned()
        .unwrap_or_default();
    json::reject_unknown(
        &params,
        p,
        &[
            "embeddingPurpose",
            "embeddingDimension",
            "text",
            "image",
            "audio",
            "video",
        ],
    )?;
    let purpose = json::req_str(&params, p, "embeddingPurpose")?;
    json::check_enum(&format!("{p}/embeddingPurpose"), purpose, PURPOSES)?;
    let dims = json::opt_int_enum(&params, p, "embeddingDimension", &[256, 384, 1024, 3072])?
        .unwrap_or(3072) as usize;
    let media: Vec<&str> = ["text", "image", "audio", "video"]
        .into_iter()
        .filter(|k| params.contains_key(*k))
        .collect();
    if media.len() != 1 {
        return Err(ApiError::malformed(format!(
            "{p}: exactly one of the keys [text, image, audio, video] must be provided"
        )));
    }
    let mut entry = Map::new();
    let tokens;
    match media[0] {
        "text" => {
            let tp = format!("{p}/text");
            let text = json::opt_obj(&params, p, "text")?
                .cloned()
                .unwrap_or_default();
            json::reject_unknown(&text, &tp, &["truncationMode", "value", "source"])?;
            let mode = json::req_str(&text, &tp, "truncationMode")?;
            json::check_enum(
                &format!("{tp}/truncationMode"),
                mode,
                &["START", "END", "NONE"],
            )?;
            if text.contains_key("source") {
                return Err(ApiError::validation(
                    "text.source (S3) is not supported by the emulator; send text.value",
                ));
            }
            let value = json::req_str(&text, &tp, "value")?;
            json::check_len(&format!("{tp}/value"), value, 1, usize::MAX)?;
            let count = token_count(value);
            let (kept, cut) = if count > MAX_TOKENS {
                if mode == "NONE" {
                    return Err(json::too_many_tokens(MAX_TOKENS, count));
                }
                // START drops text from the start (keeps the end); END drops the end.
                truncate_to_tokens(value, MAX_TOKENS, mode == "END")
            } else {
                (value.to_string(), false)
            };
            tokens = token_count(&kept);
            entry.insert("embeddingType".into(), json!("TEXT"));
            entry.insert(
                "embedding".into(),
                floats(&embed_as(&kept, dims, true, Some(purpose))),
            );
            if cut {
                entry.insert("truncatedCharLength".into(), json!(kept.chars().count()));
            }
        }
        "image" => {
            let ip = format!("{p}/image");
            let image = json::opt_obj(&params, p, "image")?
                .cloned()
                .unwrap_or_default();
            json::reject_unknown(&image, &ip, &["format", "source", "detailLevel"])?;
            let format = json::req_str(&image, &ip, "format")?;
            json::check_enum(
                &format!("{ip}/format"),
                format,
                &["png", "jpeg", "gif", "webp"],
            )?;
            json::required(&image, &ip, "source")?;
            let source = json::opt_obj(&image, &ip, "source")?
                .cloned()
                .unwrap_or_default();
            let sp = format!("{ip}/source");
            let Some(b64) = json::opt_str(&source, &sp, "bytes")? else {
                return Err(ApiError::validation(
                    "image.source must carry base64 'bytes' (S3 sources are not supported by the emulator)",
                ));
            };
            let bytes = super::decode_base64(&format!("{sp}/bytes"), b64)?;
            tokens = 1;
            entry.insert("embeddingType".into(), json!("IMAGE"));
            entry.insert(
                "embedding".into(),
                floats(&super::image_vector(&bytes, dims)),
            );
        }
        other => {
            return Err(ApiError::validation(format!(
                "{other} input is not supported by the emulator (text and image only)"
            )));
        }
    }
    Ok(ModelOutput {
        body: json!({ "embeddings": [Value::Object(entry)] }),
        input_tokens: tokens,
        items: 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn body(text: Value) -> Object {
        json!({
            "schemaVersion": "nova-multimodal-embed-v1",
            "taskType": "SINGLE_EMBEDDING",
            "singleEmbeddingParams": {"embeddingPurpose": "GENERIC_INDEX", "embeddingDimension": 256, "text": text}
        })
        .as_object()
        .cloned()
        .unwrap_or_default()
    }

    #[test]
    fn text_embedding() {
        let out = v2(&body(
            json!({"truncationMode": "END", "value": "hello nova"}),
        ))
        .unwrap();
        let e = &out.body["embeddings"][0];
        assert_eq!(e["embeddingType"], "TEXT");
        assert_eq!(e["embedding"].as_array().unwrap().len(), 256);
        assert!(e.get("truncatedCharLength").is_none());
        let long = "word ".repeat(9000);
        let out = v2(&body(json!({"truncationMode": "START", "value": long}))).unwrap();
        assert!(
            out.body["embeddings"][0]["truncatedCharLength"]
                .as_u64()
                .unwrap()
                < 45_000
        );
        assert!(out.input_tokens <= MAX_TOKENS);
    }

    #[test]
    fn schema_version_is_optional_and_purpose_matters() {
        let mut b = body(json!({"truncationMode": "END", "value": "hello nova"}));
        let with = v2(&b).unwrap();
        b.remove("schemaVersion");
        assert_eq!(v2(&b).unwrap(), with);
        b["singleEmbeddingParams"]["embeddingPurpose"] = json!("GENERIC_RETRIEVAL");
        let retrieval = v2(&b).unwrap();
        assert_ne!(
            retrieval.body["embeddings"][0]["embedding"],
            with.body["embeddings"][0]["embedding"]
        );
        assert_eq!(v2(&b).unwrap(), retrieval);
    }

    #[test]
    fn rejections() {
        assert_eq!(
            v2(&body(json!({"value": "x"}))).unwrap_err().code,
            ErrorCode::ValidationException
        );
        assert!(
            v2(&body(
                json!({"truncationMode": "NONE", "value": "word ".repeat(9000)})
            ))
            .is_err()
        );
        assert!(v2(&body(json!({"truncationMode": "MIDDLE", "value": "x"}))).is_err());
        let mut b = body(json!({"truncationMode": "END", "value": "x"}));
        b.insert("schemaVersion".into(), json!("v0"));
        assert!(v2(&b).is_err());
        let mut b = body(json!({"truncationMode": "END", "value": "x"}));
        b["singleEmbeddingParams"]["embeddingDimension"] = json!(512);
        assert!(v2(&b).is_err());
        let mut b = body(json!({"truncationMode": "END", "value": "x"}));
        b.remove("taskType");
        assert!(
            v2(&b)
                .unwrap_err()
                .message
                .contains("required key [taskType]")
        );
    }
}
