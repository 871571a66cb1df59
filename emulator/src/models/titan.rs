//! Amazon Titan embeddings: text v1, text v2, multimodal (image) v1.

use super::json::{self, Object};
use super::{ModelOutput, floats};
use crate::error::ApiError;
use crate::vectors::{embed, l2_normalize, round_to_bedrock_precision, titan_binary, token_count};
use serde_json::{Value, json};

const TEXT_MAX_TOKENS: u32 = 8192;
const TEXT_V2_MAX_CHARS: usize = 50_000;
const IMAGE_TEXT_MAX_TOKENS: u32 = 256;

fn input_text(obj: &Object, max_chars: usize, max_tokens: u32) -> Result<(&str, u32), ApiError> {
    let text = json::req_str(obj, "#", "inputText")?;
    json::check_len("#/inputText", text, 1, max_chars)?;
    let tokens = token_count(text);
    if tokens > max_tokens {
        return Err(json::too_many_tokens(max_tokens, tokens));
    }
    Ok((text, tokens))
}

/// `amazon.titan-embed-text-v1`: `{"inputText"}` → 1536 floats, not normalised.
pub(super) fn text_v1(obj: &Object) -> Result<ModelOutput, ApiError> {
    json::reject_unknown(obj, "#", &["inputText"])?;
    let (text, tokens) = input_text(obj, usize::MAX, TEXT_MAX_TOKENS)?;
    let v = embed(text, 1536, false);
    Ok(ModelOutput {
        body: json!({ "embedding": floats(&v), "inputTextTokenCount": tokens }),
        input_tokens: tokens,
        items: 1,
    })
}

/// `amazon.titan-embed-text-v2:0`: `dimensions`, `normalize`, `embeddingTypes`.
pub(super) fn text_v2(obj: &Object) -> Result<ModelOutput, ApiError> {
    json::reject_unknown(
        obj,
        "#",
        &["inputText", "dimensions", "normalize", "embeddingTypes"],
    )?;
    let (text, tokens) = input_text(obj, TEXT_V2_MAX_CHARS, TEXT_MAX_TOKENS)?;
    let dims = json::opt_int_enum(obj, "#", "dimensions", &[256, 512, 1024])?.unwrap_or(1024);
    let normalize = json::opt_bool(obj, "#", "normalize")?.unwrap_or(true);
    let types = json::opt_enum_array(obj, "#", "embeddingTypes", &["float", "binary"])?
        .unwrap_or_else(|| vec!["float"]);
    let v = embed(text, dims as usize, normalize);
    let mut by_type = serde_json::Map::new();
    for t in &types {
        match *t {
            "binary" => by_type.insert("binary".into(), json!(titan_binary(&v))),
            _ => by_type.insert("float".into(), floats(&v)),
        };
    }
    Ok(ModelOutput {
        body: json!({
            "embedding": floats(&v),
            "inputTextTokenCount": tokens,
            "embeddingsByType": Value::Object(by_type),
        }),
        input_tokens: tokens,
        items: 1,
    })
}

/// `amazon.titan-embed-image-v1`: text and/or base64 image, `embeddingConfig.outputEmbeddingLength`.
pub(super) fn image_v1(obj: &Object) -> Result<ModelOutput, ApiError> {
    json::reject_unknown(obj, "#", &["inputText", "inputImage", "embeddingConfig"])?;
    let dims = match json::opt_obj(obj, "#", "embeddingConfig")? {
        Some(cfg) => {
            json::reject_unknown(cfg, "#/embeddingConfig", &["outputEmbeddingLength"])?;
            json::opt_int_enum(
                cfg,
                "#/embeddingConfig",
                "outputEmbeddingLength",
                &[256, 384, 1024],
            )?
            .unwrap_or(1024)
        }
        None => 1024,
    } as usize;
    let text = json::opt_str(obj, "#", "inputText")?;
    let image = json::opt_str(obj, "#", "inputImage")?;
    let mut tokens = 0;
    let mut parts: Vec<Vec<f32>> = Vec::new();
    if let Some(t) = text {
        json::check_len("#/inputText", t, 1, usize::MAX)?;
        tokens = token_count(t);
        if tokens > IMAGE_TEXT_MAX_TOKENS {
            return Err(json::too_many_tokens(IMAGE_TEXT_MAX_TOKENS, tokens));
        }
        parts.push(embed(t, dims, true));
    }
    if let Some(img) = image {
        let bytes = super::decode_base64("#/inputImage", img)?;
        parts.push(super::image_vector(&bytes, dims));
    }
    if parts.is_empty() {
        return Err(ApiError::malformed(
            "#: at least one of the keys [inputText, inputImage] must be provided",
        ));
    }
    let v = if let [only] = parts.as_slice() {
        only.clone()
    } else {
        let mut v = vec![0f32; dims];
        for p in &parts {
            for (a, b) in v.iter_mut().zip(p) {
                *a += b / parts.len() as f32;
            }
        }
        l2_normalize(&mut v);
        round_to_bedrock_precision(&mut v);
        v
    };
    Ok(ModelOutput {
        body: json!({ "embedding": floats(&v), "inputTextTokenCount": tokens, "message": null }),
        input_tokens: tokens,
        items: 1,
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
    fn v2_defaults_and_options() {
        let out = text_v2(&o(json!({"inputText": "hello world"}))).unwrap();
        assert_eq!(out.body["embedding"].as_array().unwrap().len(), 1024);
        assert_eq!(out.body["embeddingsByType"]["float"], out.body["embedding"]);
        assert!(out.body["embeddingsByType"].get("binary").is_none());
        assert_eq!(out.body["inputTextTokenCount"], json!(out.input_tokens));
        let out = text_v2(&o(json!({"inputText": "hi", "dimensions": 256, "normalize": false, "embeddingTypes": ["binary", "float"]}))).unwrap();
        assert_eq!(out.body["embedding"].as_array().unwrap().len(), 256);
        let bin = out.body["embeddingsByType"]["binary"].as_array().unwrap();
        assert_eq!(bin.len(), 256);
        assert!(bin.iter().all(|x| x == 0 || x == 1));
        let expected = embed("hi", 256, false);
        assert_eq!(
            out.body["embedding"][0].as_f64().unwrap() as f32,
            expected[0]
        );
    }

    #[test]
    fn v2_rejections() {
        for body in [
            json!({}),
            json!({"inputText": ""}),
            json!({"inputText": 3}),
            json!({"inputText": "x", "dimensions": 100}),
            json!({"inputText": "x", "normalize": "yes"}),
            json!({"inputText": "x", "embeddingTypes": "float"}),
            json!({"inputText": "x", "embeddingTypes": ["int8"]}),
            json!({"inputText": "x", "embeddingTypes": []}),
            json!({"inputText": "x", "extra": 1}),
            json!({"inputText": "x".repeat(50_001)}),
            json!({"inputText": "word ".repeat(9000)}),
        ] {
            let e = text_v2(&o(body.clone())).unwrap_err();
            assert_eq!(e.code, ErrorCode::ValidationException, "{body}");
        }
    }

    #[test]
    fn v1_shape() {
        let out = text_v1(&o(json!({"inputText": "hello"}))).unwrap();
        assert_eq!(out.body["embedding"].as_array().unwrap().len(), 1536);
        assert!(text_v1(&o(json!({"inputText": "x", "dimensions": 256}))).is_err());
    }

    #[test]
    fn image_text_and_image() {
        let out = image_v1(&o(
            json!({"inputText": "a red car", "embeddingConfig": {"outputEmbeddingLength": 384}}),
        ))
        .unwrap();
        assert_eq!(out.body["embedding"].as_array().unwrap().len(), 384);
        assert!(out.body.get("message").is_some());
        let out = image_v1(&o(json!({"inputImage": "aGVsbG8="}))).unwrap();
        assert_eq!(out.body["embedding"].as_array().unwrap().len(), 1024);
        assert!(image_v1(&o(json!({}))).is_err());
        assert!(image_v1(&o(json!({"inputImage": "***"}))).is_err());
        assert!(
            image_v1(&o(
                json!({"inputText": "x", "embeddingConfig": {"outputEmbeddingLength": 512}})
            ))
            .is_err()
        );
    }
}
