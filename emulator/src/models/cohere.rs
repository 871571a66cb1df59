//! Cohere Embed: english v3, multilingual v3 and v4.

use super::json::{self, Object};
use super::{ModelOutput, floats};
use crate::error::ApiError;
use crate::vectors::{
    cohere_binary, cohere_int8, cohere_ubinary, cohere_uint8, embed_as, l2_normalize,
    round_to_bedrock_precision, token_count, truncate_to_tokens,
};
use serde_json::{Map, Value, json};

const MAX_ITEMS: usize = 96;
const V3_MAX_CHARS: usize = 2048;
const V3_MAX_TOKENS: u32 = 512;
const V3_DIMS: usize = 1024;
const V4_MAX_TOKENS: i64 = 128_000;
const EMBEDDING_TYPES: &[&str] = &["float", "int8", "uint8", "binary", "ubinary"];
const V3_INPUT_TYPES: &[&str] = &[
    "search_document",
    "search_query",
    "classification",
    "clustering",
    "image",
];
const V4_INPUT_TYPES: &[&str] = &[
    "search_document",
    "search_query",
    "classification",
    "clustering",
];

/// `embeddings` keyed by type, each a list of vectors.
fn by_type(vectors: &[Vec<f32>], types: &[&str]) -> Value {
    let mut m = Map::new();
    for t in types {
        let list: Vec<Value> = vectors
            .iter()
            .map(|v| match *t {
                "int8" => json!(cohere_int8(v)),
                "uint8" => json!(cohere_uint8(v)),
                "binary" => json!(cohere_binary(v)),
                "ubinary" => json!(cohere_ubinary(v)),
                _ => floats(v),
            })
            .collect();
        m.insert((*t).to_string(), Value::Array(list));
    }
    Value::Object(m)
}

/// Validates image data URIs (`data:image/...;base64,...`) and returns their bytes.
fn data_uri_bytes(path: &str, uri: &str) -> Result<Vec<u8>, ApiError> {
    let Some(rest) = uri.strip_prefix("data:") else {
        return Err(ApiError::malformed(format!(
            "{path}: expected a data URI (data:image/...;base64,...)"
        )));
    };
    let Some((meta, data)) = rest.split_once(',') else {
        return Err(ApiError::malformed(format!("{path}: invalid data URI")));
    };
    if !meta.starts_with("image/") || !meta.ends_with(";base64") {
        return Err(ApiError::malformed(format!(
            "{path}: invalid data URI media type '{meta}'"
        )));
    }
    super::decode_base64(path, data)
}

/// Applies a token limit with a truncation mode: `keep_start` = cut the end.
fn limit(
    text: &str,
    max: u32,
    mode_none: bool,
    keep_start: bool,
) -> Result<(String, u32), ApiError> {
    let tokens = token_count(text);
    if tokens <= max {
        return Ok((text.to_string(), tokens));
    }
    if mode_none {
        return Err(json::too_many_tokens(max, tokens));
    }
    let (kept, _) = truncate_to_tokens(text, max, keep_start);
    let t = token_count(&kept);
    Ok((kept, t))
}

/// `cohere.embed-english-v3`, `cohere.embed-multilingual-v3`.
pub(super) fn v3(obj: &Object, request_id: &str) -> Result<ModelOutput, ApiError> {
    json::reject_unknown(
        obj,
        "#",
        &[
            "texts",
            "images",
            "input_type",
            "truncate",
            "embedding_types",
        ],
    )?;
    let texts = json::opt_str_array(obj, "#", "texts", MAX_ITEMS)?;
    let images = json::opt_str_array(obj, "#", "images", 1)?;
    let input_type = json::req_str(obj, "#", "input_type")?;
    json::check_enum("#/input_type", input_type, V3_INPUT_TYPES)?;
    let truncate =
        json::opt_str_enum(obj, "#", "truncate", &["NONE", "START", "END"])?.unwrap_or("END");
    let types = json::opt_enum_array(obj, "#", "embedding_types", EMBEDDING_TYPES)?;

    let mut vectors = Vec::new();
    let mut shown_texts = Vec::new();
    let mut tokens = 0u32;
    match (texts, images) {
        (Some(_), Some(_)) => {
            return Err(ApiError::malformed(
                "#: only one of the keys [texts, images] may be provided",
            ));
        }
        (None, None) => return Err(ApiError::malformed("#: required key [texts] not found")),
        (Some(texts), None) => {
            for (i, t) in texts.iter().enumerate() {
                json::check_len(&format!("#/texts/{i}"), t, 0, V3_MAX_CHARS)?;
                let (kept, n) = limit(t, V3_MAX_TOKENS, truncate == "NONE", truncate == "END")?;
                tokens = tokens.saturating_add(n);
                vectors.push(embed_as(&kept, V3_DIMS, true, Some(input_type)));
                shown_texts.push(Value::from(kept));
            }
        }
        (None, Some(images)) => {
            if input_type != "image" {
                return Err(ApiError::validation(
                    "input_type must be 'image' when images are provided",
                ));
            }
            for (i, img) in images.iter().enumerate() {
                let bytes = data_uri_bytes(&format!("#/images/{i}"), img)?;
                vectors.push(super::image_vector(&bytes, V3_DIMS));
                tokens = tokens.saturating_add(1);
            }
        }
    }
    let items = vectors.len();
    let body = match types {
        None => json!({
            "id": request_id,
            "embeddings": vectors.iter().map(|v| floats(v)).collect::<Vec<_>>(),
            "response_type": "embeddings_floats",
            "texts": shown_texts,
        }),
        Some(types) => json!({
            "id": request_id,
            "embeddings": by_type(&vectors, &types),
            "response_type": "embeddings_by_type",
            "texts": shown_texts,
        }),
    };
    Ok(ModelOutput {
        body,
        input_tokens: tokens,
        items,
    })
}

/// One v4 input: `{"content": [{"type": "text", "text"}, {"type": "image_url", "image_url"}]}`.
fn v4_input(i: usize, v: &Value) -> Result<(String, Vec<Vec<u8>>), ApiError> {
    let path = format!("#/inputs/{i}");
    let Value::Object(obj) = v else {
        return Err(ApiError::malformed(format!(
            "{path}: expected type: JSONObject, found: {}",
            json::type_name(v)
        )));
    };
    json::reject_unknown(obj, &path, &["content"])?;
    json::required(obj, &path, "content")?;
    let content = json::opt_array(obj, &path, "content")?
        .cloned()
        .unwrap_or_default();
    if content.is_empty() {
        return Err(ApiError::malformed(format!(
            "{path}/content: expected minItems: 1, actual: 0"
        )));
    }
    let mut text = String::new();
    let mut images = Vec::new();
    for (j, part) in content.iter().enumerate() {
        let p = format!("{path}/content/{j}");
        let Value::Object(part) = part else {
            return Err(ApiError::malformed(format!(
                "{p}: expected type: JSONObject, found: {}",
                json::type_name(part)
            )));
        };
        let ty = json::req_str(part, &p, "type")?;
        json::check_enum(&format!("{p}/type"), ty, &["text", "image_url"])?;
        if ty == "text" {
            json::reject_unknown(part, &p, &["type", "text"])?;
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(json::req_str(part, &p, "text")?);
        } else {
            json::reject_unknown(part, &p, &["type", "image_url"])?;
            let url = match json::required(part, &p, "image_url")? {
                Value::String(s) => s.clone(),
                Value::Object(o) => json::req_str(o, &format!("{p}/image_url"), "url")?.to_string(),
                other => {
                    return Err(ApiError::malformed(format!(
                        "{p}/image_url: expected type: String, found: {}",
                        json::type_name(other)
                    )));
                }
            };
            images.push(data_uri_bytes(&format!("{p}/image_url"), &url)?);
        }
    }
    Ok((text, images))
}

/// `cohere.embed-v4:0`: answers in the by-type shape, as the live API does.
pub(super) fn v4(obj: &Object, request_id: &str) -> Result<ModelOutput, ApiError> {
    json::reject_unknown(
        obj,
        "#",
        &[
            "texts",
            "images",
            "inputs",
            "input_type",
            "truncate",
            "embedding_types",
            "output_dimension",
            "max_tokens",
        ],
    )?;
    let input_type = json::req_str(obj, "#", "input_type")?;
    json::check_enum("#/input_type", input_type, V4_INPUT_TYPES)?;
    let dims = json::opt_int_enum(obj, "#", "output_dimension", &[256, 512, 1024, 1536])?
        .unwrap_or(1536) as usize;
    let max_tokens = json::opt_int(obj, "#", "max_tokens")?.unwrap_or(V4_MAX_TOKENS);
    if !(1..=V4_MAX_TOKENS).contains(&max_tokens) {
        return Err(ApiError::malformed(format!(
            "#/max_tokens: {max_tokens} is not in range 1..{V4_MAX_TOKENS}"
        )));
    }
    let max_tokens = max_tokens as u32;
    let truncate =
        json::opt_str_enum(obj, "#", "truncate", &["NONE", "LEFT", "RIGHT"])?.unwrap_or("RIGHT");
    let types = json::opt_enum_array(obj, "#", "embedding_types", EMBEDDING_TYPES)?
        .unwrap_or_else(|| vec!["float"]);
    let texts = json::opt_str_array(obj, "#", "texts", MAX_ITEMS)?;
    let images = json::opt_str_array(obj, "#", "images", MAX_ITEMS)?;
    let inputs = json::opt_array(obj, "#", "inputs")?;
    let given = [texts.is_some(), images.is_some(), inputs.is_some()]
        .iter()
        .filter(|b| **b)
        .count();
    if given == 0 {
        return Err(ApiError::malformed(
            "#: one of the keys [texts, images, inputs] must be provided",
        ));
    }
    if given > 1 {
        return Err(ApiError::malformed(
            "#: only one of the keys [texts, images, inputs] may be provided",
        ));
    }
    let mut vectors = Vec::new();
    let mut shown_texts = Vec::new();
    let mut tokens = 0u32;
    let none = truncate == "NONE";
    let keep_start = truncate == "RIGHT";
    if let Some(texts) = texts {
        for t in texts {
            let (kept, n) = limit(t, max_tokens, none, keep_start)?;
            tokens = tokens.saturating_add(n);
            vectors.push(embed_as(&kept, dims, true, Some(input_type)));
            shown_texts.push(Value::from(kept));
        }
    }
    if let Some(images) = images {
        for (i, img) in images.iter().enumerate() {
            let bytes = data_uri_bytes(&format!("#/images/{i}"), img)?;
            vectors.push(super::image_vector(&bytes, dims));
            tokens = tokens.saturating_add(1);
        }
    }
    if let Some(inputs) = inputs {
        if inputs.len() > MAX_ITEMS {
            return Err(ApiError::malformed(format!(
                "#/inputs: expected maxItems: {MAX_ITEMS}, actual: {}",
                inputs.len()
            )));
        }
        for (i, input) in inputs.iter().enumerate() {
            let (text, imgs) = v4_input(i, input)?;
            let mut parts = Vec::new();
            if !text.is_empty() {
                let (kept, n) = limit(&text, max_tokens, none, keep_start)?;
                tokens = tokens.saturating_add(n);
                parts.push(embed_as(&kept, dims, true, Some(input_type)));
            }
            for img in &imgs {
                parts.push(super::image_vector(img, dims));
                tokens = tokens.saturating_add(1);
            }
            let v = if parts.len() == 1 {
                parts.pop().unwrap_or_default()
            } else {
                let mut v = vec![0f32; dims];
                for p in &parts {
                    for (a, b) in v.iter_mut().zip(p) {
                        *a += b;
                    }
                }
                l2_normalize(&mut v);
                round_to_bedrock_precision(&mut v);
                v
            };
            vectors.push(v);
        }
    }
    let items = vectors.len();
    let body = json!({
        "id": request_id,
        "embeddings": by_type(&vectors, &types),
        "response_type": "embeddings_by_type",
        "texts": shown_texts,
    });
    Ok(ModelOutput {
        body,
        input_tokens: tokens,
        items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn o(v: Value) -> Object {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn v3_list_and_by_type_shapes() {
        let out = v3(
            &o(json!({"texts": ["a", "b c"], "input_type": "search_document", "truncate": "NONE"})),
            "rid",
        )
        .unwrap();
        assert_eq!(out.body["response_type"], "embeddings_floats");
        assert_eq!(out.body["id"], "rid");
        let e = out.body["embeddings"].as_array().unwrap();
        assert_eq!(e.len(), 2);
        assert_eq!(e[0].as_array().unwrap().len(), 1024);
        assert_eq!(out.body["texts"], json!(["a", "b c"]));
        let out = v3(&o(json!({"texts": ["a"], "input_type": "search_query", "embedding_types": ["float", "int8", "ubinary"]})), "r").unwrap();
        assert_eq!(out.body["response_type"], "embeddings_by_type");
        assert_eq!(
            out.body["embeddings"]["int8"][0].as_array().unwrap().len(),
            1024
        );
        assert_eq!(
            out.body["embeddings"]["ubinary"][0]
                .as_array()
                .unwrap()
                .len(),
            128
        );
        assert_eq!(
            out.body["embeddings"]["float"][0].as_array().unwrap().len(),
            1024
        );
    }

    #[test]
    fn v3_limits() {
        let many: Vec<String> = (0..97).map(|i| format!("t{i}")).collect();
        let e = v3(
            &o(json!({"texts": many, "input_type": "search_document"})),
            "r",
        )
        .unwrap_err();
        assert!(
            e.message.contains("expected maxItems: 96, actual: 97"),
            "{}",
            e.message
        );
        let ok: Vec<String> = (0..96).map(|i| format!("t{i}")).collect();
        assert_eq!(
            v3(&o(json!({"texts": ok, "input_type": "clustering"})), "r")
                .unwrap()
                .items,
            96
        );
        for body in [
            json!({"texts": ["a"]}),
            json!({"texts": ["a"], "input_type": "bogus"}),
            json!({"texts": ["a"], "input_type": "search_query", "truncate": "LEFT"}),
            json!({"texts": ["a"], "input_type": "search_query", "embedding_types": "float"}),
            json!({"texts": ["a".repeat(2049)], "input_type": "search_query"}),
            json!({"texts": ["a, ".repeat(600)], "input_type": "search_query", "truncate": "NONE"}),
            json!({"input_type": "search_query"}),
            json!({"texts": ["a"], "input_type": "search_query", "output_dimension": 256}),
        ] {
            assert_eq!(
                v3(&o(body.clone()), "r").unwrap_err().code,
                ErrorCode::ValidationException,
                "{body}"
            );
        }
        let out = v3(&o(json!({"texts": ["a, ".repeat(600)], "input_type": "search_query", "truncate": "END"})), "r").unwrap();
        assert!(
            out.input_tokens <= 512 && out.input_tokens > 400,
            "{}",
            out.input_tokens
        );
        assert!(out.body["texts"][0].as_str().unwrap().starts_with("a, a,"));
    }

    #[test]
    fn v4_shapes() {
        let out = v4(
            &o(json!({"texts": ["hello"], "input_type": "search_document"})),
            "r",
        )
        .unwrap();
        assert_eq!(out.body["response_type"], "embeddings_by_type");
        assert_eq!(
            out.body["embeddings"]["float"][0].as_array().unwrap().len(),
            1536
        );
        let out = v4(&o(json!({"texts": ["hello", "x"], "input_type": "search_query", "output_dimension": 256, "embedding_types": ["int8", "float"]})), "r").unwrap();
        assert_eq!(
            out.body["embeddings"]["float"][1].as_array().unwrap().len(),
            256
        );
        assert_eq!(out.body["embeddings"]["int8"].as_array().unwrap().len(), 2);
        let expected = crate::vectors::embed_as("hello", 256, true, Some("search_query"));
        assert_eq!(
            out.body["embeddings"]["float"][0][3].as_f64().unwrap() as f32,
            expected[3]
        );
        let as_document = v4(&o(json!({"texts": ["hello"], "input_type": "search_document", "output_dimension": 256})), "r").unwrap();
        assert_ne!(
            as_document.body["embeddings"]["float"][0], out.body["embeddings"]["float"][0],
            "input_type changes the vector"
        );
        let out = v4(&o(json!({"inputs": [{"content": [{"type": "text", "text": "hi"}]}], "input_type": "classification"})), "r").unwrap();
        assert_eq!(out.items, 1);
        for body in [
            json!({"texts": ["a"]}),
            json!({"texts": ["a"], "input_type": "search_query", "output_dimension": 100}),
            json!({"texts": ["a"], "inputs": [], "input_type": "search_query"}),
            json!({"texts": ["a"], "input_type": "search_query", "truncate": "END"}),
            json!({"texts": ["a b c d e f"], "input_type": "search_query", "truncate": "NONE", "max_tokens": 2}),
        ] {
            assert_eq!(
                v4(&o(body.clone()), "r").unwrap_err().code,
                ErrorCode::ValidationException,
                "{body}"
            );
        }
    }
}
