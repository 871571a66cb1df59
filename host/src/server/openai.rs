//! OpenAI's `/v1/embeddings` and `/v1/models` shapes: request parsing with field-named errors,
//! and the responses (built with serde).
//!
//! Parsing goes through [`RawRequest`]: known fields land as JSON values, unknown fields are
//! skipped (as OpenAI does), and each known field is then checked by hand so that a wrong type
//! is a 400 that names the field.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::ApiError;
use super::token_ids;
use crate::codec::{EmbeddingType, embedding_type};

/// `encoding_format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum EncodingFormat {
    #[default]
    Float,
    /// Little-endian float32, base64 (standard alphabet, padded).
    Base64,
}

/// A checked `POST /v1/embeddings` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EmbeddingsRequest {
    pub input: Vec<String>,
    pub model: String,
    pub encoding_format: EncodingFormat,
    pub dimensions: Option<u32>,
    /// `embedding_type` (this API's addition): int8, uint8, binary, ubinary or float.
    pub embedding_type: Option<EmbeddingType>,
    pub user: Option<String>,
}

/// The known fields, untyped; everything else in the body is ignored.
#[derive(Debug, Deserialize)]
struct RawRequest {
    #[serde(default)]
    input: Option<Value>,
    #[serde(default)]
    model: Option<Value>,
    #[serde(default)]
    encoding_format: Option<Value>,
    #[serde(default)]
    dimensions: Option<Value>,
    #[serde(default)]
    embedding_type: Option<Value>,
    #[serde(default)]
    user: Option<Value>,
}

impl EmbeddingsRequest {
    /// Parses and checks a request body. `max_inputs` bounds the number of inputs (413 past it).
    pub fn parse(body: &[u8], max_inputs: usize) -> Result<Self, ApiError> {
        // A derived struct would also read a JSON array positionally: insist on an object.
        let first = body.iter().find(|b| !b.is_ascii_whitespace());
        if first != Some(&b'{') {
            let message = match serde_json::from_slice::<serde::de::IgnoredAny>(body) {
                Ok(_) => {
                    "the request body must be a JSON object with `input` and `model`".to_string()
                }
                Err(e) => format!("the request body is not valid JSON: {e}"),
            };
            return Err(ApiError::invalid("body", "invalid_json", message));
        }
        let raw: RawRequest = serde_json::from_slice(body).map_err(|e| {
            ApiError::invalid(
                "body",
                "invalid_json",
                format!("the request body is not valid JSON: {e}"),
            )
        })?;
        let model = match raw.model {
            None => {
                return Err(ApiError::invalid(
                    "model",
                    "missing_model",
                    "you must provide a model parameter",
                ));
            }
            Some(Value::String(s)) if s.trim().is_empty() => {
                return Err(ApiError::invalid(
                    "model",
                    "missing_model",
                    "model is empty: name one of the served models",
                ));
            }
            Some(Value::String(s)) => s,
            Some(other) => return Err(wrong_type("model", "a string", &other)),
        };
        let input = parse_input(raw.input, max_inputs)?;
        let encoding_format = match raw.encoding_format {
            None => EncodingFormat::Float,
            Some(Value::String(s)) => match s.as_str() {
                "float" => EncodingFormat::Float,
                "base64" => EncodingFormat::Base64,
                other => {
                    return Err(ApiError::invalid(
                        "encoding_format",
                        "invalid_encoding_format",
                        format!(
                            "encoding_format {other:?} is not supported: use \"float\" or \"base64\""
                        ),
                    ));
                }
            },
            Some(other) => {
                return Err(wrong_type(
                    "encoding_format",
                    "\"float\" or \"base64\"",
                    &other,
                ));
            }
        };
        let dimensions = match raw.dimensions {
            None => None,
            Some(Value::Number(n)) => match n.as_u64() {
                Some(d @ 1..) => {
                    Some(u32::try_from(d).map_err(|_| bad_dimensions(&n.to_string()))?)
                }
                _ => return Err(bad_dimensions(&n.to_string())),
            },
            Some(other) => return Err(wrong_type("dimensions", "a positive integer", &other)),
        };
        let embedding_type = match raw.embedding_type {
            None => None,
            Some(Value::String(s)) => Some(embedding_type::parse(&s).ok_or_else(|| {
                ApiError::invalid(
                    "embedding_type",
                    "invalid_embedding_type",
                    format!(
                        "embedding_type {s:?} is not supported: use one of {} (README lists \
                         which types each model offers)",
                        type_list()
                    ),
                )
            })?),
            Some(other) => {
                return Err(wrong_type("embedding_type", &type_list(), &other));
            }
        };
        let user = match raw.user {
            None => None,
            Some(Value::String(s)) => Some(s),
            Some(other) => return Err(wrong_type("user", "a string", &other)),
        };
        Ok(Self {
            input,
            model,
            encoding_format,
            dimensions,
            embedding_type,
            user,
        })
    }
}

/// `"float", "int8", "uint8", "binary" or "ubinary"`.
fn type_list() -> String {
    let names: Vec<String> = embedding_type::ALL
        .iter()
        .map(|t| format!("{:?}", embedding_type::type_name(*t)))
        .collect();
    format!(
        "{} or {}",
        names[..names.len() - 1].join(", "),
        names[names.len() - 1]
    )
}

fn bad_dimensions(shown: &str) -> ApiError {
    ApiError::invalid(
        "dimensions",
        "invalid_dimensions",
        format!("dimensions is {shown}: it must be a positive integer"),
    )
}

fn parse_input(input: Option<Value>, max_inputs: usize) -> Result<Vec<String>, ApiError> {
    let items = match input {
        None => {
            return Err(ApiError::invalid(
                "input",
                "missing_input",
                "you must provide an input",
            ));
        }
        Some(Value::String(s)) if s.is_empty() => {
            return Err(ApiError::invalid(
                "input",
                "empty_input",
                "input is an empty string: send some text",
            ));
        }
        Some(Value::String(s)) => return Ok(vec![s]),
        Some(Value::Array(items)) => items,
        Some(other) => {
            return Err(wrong_type(
                "input",
                "a string or an array of strings",
                &other,
            ));
        }
    };
    if items.is_empty() {
        return Err(ApiError::invalid(
            "input",
            "empty_input",
            "input is an empty array: send at least one string",
        ));
    }
    // One list of token ids, or a list of such lists: decoded to text (cl100k_base).
    if let Some(lists) = token_ids::token_lists(&items) {
        if lists.len() > max_inputs {
            return Err(ApiError::too_many_inputs(lists.len(), max_inputs));
        }
        let nested = items[0].is_array();
        return token_ids::decode(&lists, nested)
            .map_err(|e| ApiError::invalid("input", "invalid_token_id", e.to_string()));
    }
    if items.len() > max_inputs {
        return Err(ApiError::too_many_inputs(items.len(), max_inputs));
    }
    let mut out = Vec::with_capacity(items.len());
    for (i, item) in items.into_iter().enumerate() {
        match item {
            Value::String(s) if s.is_empty() => {
                return Err(ApiError::invalid(
                    "input",
                    "empty_input",
                    format!("input[{i}] is an empty string: send some text, or leave it out"),
                ));
            }
            Value::String(s) => out.push(s),
            Value::Number(_) | Value::Array(_) => {
                return Err(ApiError::invalid(
                    "input",
                    "invalid_type",
                    format!(
                        "input[{i}] is token ids but other items are not: send all strings, \
                         or all token-id lists"
                    ),
                ));
            }
            other => {
                return Err(ApiError::invalid(
                    "input",
                    "invalid_type",
                    format!(
                        "input[{i}] is {}: every item of input must be a string",
                        describe(&other)
                    ),
                ));
            }
        }
    }
    Ok(out)
}

fn wrong_type(field: &'static str, expected: &str, got: &Value) -> ApiError {
    ApiError::invalid(
        field,
        "invalid_type",
        format!("{field} is {}: it must be {expected}", describe(got)),
    )
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `{object:"list", data:[...], model, usage}`.
#[derive(Debug, Serialize)]
pub struct EmbeddingsResponse<'a> {
    pub object: &'static str,
    pub data: Vec<EmbeddingData>,
    pub model: &'a str,
    pub usage: Usage,
}

#[derive(Debug, Serialize)]
pub struct EmbeddingData {
    pub object: &'static str,
    pub index: usize,
    pub embedding: Embedding,
}

/// A vector as floats, as integers (the integer embedding types), or as base64 of its bytes.
#[derive(Debug, Serialize, PartialEq)]
#[serde(untagged)]
pub enum Embedding {
    Float(Vec<f32>),
    Int(Vec<i16>),
    Base64(String),
}

#[derive(Debug, Serialize, PartialEq, Eq)]
pub struct Usage {
    pub prompt_tokens: u64,
    pub total_tokens: u64,
}

impl<'a> EmbeddingsResponse<'a> {
    /// `vectors` hold values of `embedding_type`; integer types go out as JSON integers, or
    /// with base64 as one byte a value (two's complement for int8 and binary), as Bedrock
    /// gives them.
    pub fn new(
        model: &'a str,
        vectors: Vec<Vec<f32>>,
        embedding_type: EmbeddingType,
        prompt_tokens: u64,
        format: EncodingFormat,
    ) -> Self {
        let data = match (format, embedding_type) {
            (EncodingFormat::Float, EmbeddingType::Float) => vectors
                .into_iter()
                .enumerate()
                .map(|(index, v)| EmbeddingData {
                    object: "embedding",
                    index,
                    embedding: Embedding::Float(v),
                })
                .collect(),
            (EncodingFormat::Float, _) => vectors
                .iter()
                .enumerate()
                .map(|(index, v)| EmbeddingData {
                    object: "embedding",
                    index,
                    // Exact: the codec contract holds these to integers in -128..=255.
                    embedding: Embedding::Int(v.iter().map(|x| *x as i16).collect()),
                })
                .collect(),
            (EncodingFormat::Base64, EmbeddingType::Float) => {
                // One scratch buffer for every vector: no allocation per float or per vector
                // beyond the base64 string itself.
                let mut scratch = Vec::new();
                vectors
                    .iter()
                    .enumerate()
                    .map(|(index, v)| EmbeddingData {
                        object: "embedding",
                        index,
                        embedding: Embedding::Base64(encode_f32_le(v, &mut scratch)),
                    })
                    .collect()
            }
            (EncodingFormat::Base64, _) => vectors
                .iter()
                .enumerate()
                .map(|(index, v)| EmbeddingData {
                    object: "embedding",
                    index,
                    embedding: Embedding::Base64(encode_bytes(v)),
                })
                .collect(),
        };
        Self {
            object: "list",
            data,
            model,
            usage: Usage {
                prompt_tokens,
                total_tokens: prompt_tokens,
            },
        }
    }
}

impl EmbeddingsResponse<'_> {
    /// Appends the response's JSON to `out`: the bytes `serde_json::to_writer` writes (a test
    /// holds them equal), without serde's per-value calls. Floats are written by [`write_floats`],
    /// base64 strings as they are (their alphabet needs no escaping).
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        out.extend_from_slice(br#"{"object":"#);
        serde_json::to_writer(&mut *out, self.object)?;
        out.extend_from_slice(br#","data":["#);
        for (i, item) in self.data.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(br#"{"object":"#);
            serde_json::to_writer(&mut *out, item.object)?;
            out.extend_from_slice(br#","index":"#);
            serde_json::to_writer(&mut *out, &item.index)?;
            out.extend_from_slice(br#","embedding":"#);
            match &item.embedding {
                Embedding::Float(v) => write_floats(out, v),
                Embedding::Int(v) => serde_json::to_writer(&mut *out, v)?,
                Embedding::Base64(s) => {
                    out.push(b'"');
                    out.extend_from_slice(s.as_bytes());
                    out.push(b'"');
                }
            }
            out.push(b'}');
        }
        out.extend_from_slice(br#"],"model":"#);
        serde_json::to_writer(&mut *out, self.model)?;
        out.extend_from_slice(br#","usage":"#);
        serde_json::to_writer(&mut *out, &self.usage)?;
        out.push(b'}');
        Ok(())
    }
}

/// Appends `[x,y,...]` to `out`, each float as serde_json writes an `f32`: zmij's shortest
/// form that reads back as the same f32 (`null` for NaN and infinities, which the codec
/// contract already refuses).
pub fn write_floats(out: &mut Vec<u8>, floats: &[f32]) {
    // Numbers are gathered in a stack buffer and copied to `out` ~1.5 KB at a time: an
    // `extend_from_slice` per number is a `memcpy` call per number (~20 instructions).
    const CHUNK: usize = 1536;
    // zmij writes at most 24 bytes (its buffer's size); one more for the comma.
    const ROOM: usize = 25;
    let mut chunk = [0u8; CHUNK];
    let mut pos = 0;
    let mut buffer = zmij::Buffer::new();
    out.push(b'[');
    for (i, x) in floats.iter().enumerate() {
        if pos > CHUNK - ROOM {
            out.extend_from_slice(&chunk[..pos]);
            pos = 0;
        }
        if i > 0 {
            chunk[pos] = b',';
            pos += 1;
        }
        let text: &[u8] = if x.is_finite() {
            buffer.format_finite(*x).as_bytes()
        } else {
            b"null"
        };
        put_short(&mut chunk[pos..pos + 24], text);
        pos += text.len();
    }
    out.extend_from_slice(&chunk[..pos]);
    out.push(b']');
}

/// Copies `src` (at most 24 bytes) to the front of `dst` with fixed-size moves (overlapping
/// ones for the lengths in between) instead of a `memcpy` call.
#[inline(always)]
fn put_short(dst: &mut [u8], src: &[u8]) {
    let n = src.len();
    let dst = &mut dst[..24];
    if n >= 8 {
        dst[..8].copy_from_slice(&src[..8]);
        if n > 16 {
            dst[8..16].copy_from_slice(&src[8..16]);
        }
        dst[n - 8..n].copy_from_slice(&src[n - 8..n]);
    } else if n >= 4 {
        dst[..4].copy_from_slice(&src[..4]);
        dst[n - 4..n].copy_from_slice(&src[n - 4..n]);
    } else {
        dst[..n].copy_from_slice(src);
    }
}

/// Base64 (standard, padded) of `floats` as little-endian float32, using `scratch` for the bytes.
pub fn encode_f32_le(floats: &[f32], scratch: &mut Vec<u8>) -> String {
    // Sized first and filled in place: an extend per float (a capacity check and a 4-byte
    // copy each) was ~14 instructions a float.
    scratch.clear();
    scratch.resize(floats.len() * 4, 0);
    for (bytes, f) in scratch.chunks_exact_mut(4).zip(floats) {
        bytes.copy_from_slice(&f.to_le_bytes());
    }
    STANDARD.encode(scratch.as_slice())
}

/// Base64 of integer values of -128..=255 as one byte each (int8 and binary as two's complement).
pub fn encode_bytes(values: &[f32]) -> String {
    let bytes: Vec<u8> = values.iter().map(|x| (*x as i16) as u8).collect();
    STANDARD.encode(bytes)
}

/// `GET /v1/models`: `{object:"list", data:[...]}`.
#[derive(Debug, Serialize)]
pub struct ModelList {
    pub object: &'static str,
    pub data: Vec<ModelObject>,
}

/// One served model: OpenAI's fields plus where it goes and what serves it.
#[derive(Debug, Serialize)]
pub struct ModelObject {
    pub id: String,
    pub object: &'static str,
    pub created: u64,
    pub owned_by: &'static str,
    /// The Bedrock model id (as written after `bedrock:`).
    pub model_id: String,
    /// The codec serving it now (`null` when none does).
    pub codec: Option<String>,
    /// `ready`, or `no_codec` (requests answer 503 until a codec serves it).
    pub status: &'static str,
    /// Why it is not ready.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub region: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use serde_json::json;

    fn parse(v: Value) -> Result<EmbeddingsRequest, ApiError> {
        EmbeddingsRequest::parse(v.to_string().as_bytes(), 4)
    }

    fn err(v: Value) -> ApiError {
        parse(v).expect_err("should be rejected")
    }

    #[test]
    fn input_as_string_or_array_of_strings() {
        let r = parse(json!({"model": "titan", "input": "hello"})).unwrap();
        assert_eq!(r.input, vec!["hello"]);
        assert_eq!(r.encoding_format, EncodingFormat::Float);
        assert_eq!((r.dimensions, r.user), (None, None));
        let r = parse(json!({"model": "titan", "input": ["a", "b"], "encoding_format": "base64", "dimensions": 256, "user": "u-1"}))
            .unwrap();
        assert_eq!(r.input, vec!["a", "b"]);
        assert_eq!(r.encoding_format, EncodingFormat::Base64);
        assert_eq!(r.dimensions, Some(256));
        assert_eq!(r.user.as_deref(), Some("u-1"));
    }

    #[test]
    fn unknown_fields_and_nulls_are_ignored() {
        let r = parse(json!({"model": "titan", "input": "x", "whatever": {"a": 1}, "dimensions": null, "encoding_format": null}))
            .unwrap();
        assert_eq!(r.input, vec!["x"]);
        assert_eq!(r.dimensions, None);
    }

    #[test]
    fn token_ids_are_decoded_as_cl100k_base() {
        // `tiktoken.get_encoding("cl100k_base").encode("hello world")` is [15339, 1917].
        let r = parse(json!({"model": "m", "input": [15339, 1917]})).unwrap();
        assert_eq!(r.input, vec!["hello world"]);
        let r = parse(json!({"model": "m", "input": [[15339, 1917], [15339]]})).unwrap();
        assert_eq!(r.input, vec!["hello world", "hello"]);
        let e = err(json!({"model": "m", "input": [[15339], [1917, 100300]]}));
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!((e.code, e.param), ("invalid_token_id", Some("input")));
        assert!(
            e.message.starts_with("input[1][1] is 100300"),
            "{}",
            e.message
        );
        // Past max_inputs (4 in these tests) counts lists, not ids.
        let e = err(json!({"model": "m", "input": [[1], [2], [3], [4], [5]]}));
        assert_eq!(e.code, "too_many_inputs");
        assert!(parse(json!({"model": "m", "input": [1, 2, 3, 4, 5, 6]})).is_ok());
        // Text and token ids mixed in one input: a 400 naming the item.
        for body in [
            json!({"model": "m", "input": ["text", [1, 2]]}),
            json!({"model": "m", "input": ["text", 5]}),
        ] {
            let e = err(body);
            assert_eq!((e.code, e.param), ("invalid_type", Some("input")));
            assert!(
                e.message.starts_with("input[1] is token ids"),
                "{}",
                e.message
            );
        }
    }

    #[test]
    fn empty_input_is_a_400() {
        for body in [
            json!({"model": "m", "input": ""}),
            json!({"model": "m", "input": []}),
            json!({"model": "m", "input": ["a", ""]}),
        ] {
            let e = err(body);
            assert_eq!(
                (e.status, e.code, e.param),
                (StatusCode::BAD_REQUEST, "empty_input", Some("input"))
            );
        }
        let e = err(json!({"model": "m"}));
        assert_eq!((e.code, e.param), ("missing_input", Some("input")));
    }

    #[test]
    fn too_many_inputs_is_a_400_as_openai_answers_it() {
        let e = err(json!({"model": "m", "input": ["a", "b", "c", "d", "e"]}));
        assert_eq!(
            (e.status, e.code, e.code_on_wire, e.param),
            (StatusCode::BAD_REQUEST, "too_many_inputs", false, None)
        );
        assert!(
            e.message.starts_with("'$.input' is invalid."),
            "{}",
            e.message
        );
        assert!(e.message.contains("at most 4"), "{}", e.message);
    }

    #[test]
    fn wrong_types_name_the_field() {
        let cases = [
            (json!({"model": 5, "input": "x"}), "model"),
            (json!({"model": "m", "input": 5}), "input"),
            (json!({"model": "m", "input": {"a": 1}}), "input"),
            (json!({"model": "m", "input": ["a", true]}), "input"),
            (
                json!({"model": "m", "input": "x", "encoding_format": 1}),
                "encoding_format",
            ),
            (
                json!({"model": "m", "input": "x", "dimensions": "256"}),
                "dimensions",
            ),
            (json!({"model": "m", "input": "x", "user": 7}), "user"),
        ];
        for (body, field) in cases {
            let e = err(body.clone());
            assert_eq!(e.status, StatusCode::BAD_REQUEST, "{body}");
            assert_eq!(e.param, Some(field), "{body}");
            assert!(e.message.starts_with(field), "{body}: {}", e.message);
        }
    }

    #[test]
    fn bad_dimensions_and_missing_model() {
        for d in [json!(0), json!(-1), json!(1.5), json!(5_000_000_000u64)] {
            let e = err(json!({"model": "m", "input": "x", "dimensions": d}));
            assert_eq!(
                (e.code, e.param),
                ("invalid_dimensions", Some("dimensions")),
                "{d}"
            );
        }
        assert_eq!(err(json!({"input": "x"})).code, "missing_model");
        assert_eq!(
            err(json!({"model": " ", "input": "x"})).code,
            "missing_model"
        );
    }

    #[test]
    fn bad_encoding_format_names_the_allowed_values() {
        let e = err(json!({"model": "m", "input": "x", "encoding_format": "float16"}));
        assert_eq!(
            (e.code, e.param),
            ("invalid_encoding_format", Some("encoding_format"))
        );
        assert!(
            e.message.contains("\"float\" or \"base64\""),
            "{}",
            e.message
        );
    }

    #[test]
    fn not_json_or_not_an_object() {
        let e = EmbeddingsRequest::parse(b"{nope", 4).unwrap_err();
        assert_eq!(
            (e.status, e.code),
            (StatusCode::BAD_REQUEST, "invalid_json")
        );
        assert!(e.message.contains("not valid JSON"));
        let e = EmbeddingsRequest::parse(b"[1,2]", 4).unwrap_err();
        assert!(e.message.contains("JSON object"), "{}", e.message);
    }

    #[test]
    fn base64_is_little_endian_float32() {
        let floats = [1.0f32, -2.5, 0.1, f32::MIN_POSITIVE];
        let mut scratch = Vec::new();
        let encoded = encode_f32_le(&floats, &mut scratch);
        // 1.0f32 = 0x3f800000 → little-endian 00 00 80 3f.
        assert!(encoded.starts_with("AACAPw"), "{encoded}");
        let bytes = STANDARD.decode(&encoded).unwrap();
        let back: Vec<f32> = bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(back, floats);
        // The scratch buffer is reused, not grown per call.
        let again = encode_f32_le(&[1.0], &mut scratch);
        assert_eq!(again, "AACAPw==");
    }

    #[test]
    fn response_shape() {
        let r = EmbeddingsResponse::new(
            "titan",
            vec![vec![0.5, 1.0], vec![2.0, 0.25]],
            EmbeddingType::Float,
            7,
            EncodingFormat::Float,
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(
            v,
            json!({"object": "list", "model": "titan", "usage": {"prompt_tokens": 7, "total_tokens": 7},
                   "data": [{"object": "embedding", "index": 0, "embedding": [0.5, 1.0]},
                            {"object": "embedding", "index": 1, "embedding": [2.0, 0.25]}]})
        );
        let r = EmbeddingsResponse::new(
            "titan",
            vec![vec![1.0]],
            EmbeddingType::Float,
            1,
            EncodingFormat::Base64,
        );
        let v = serde_json::to_value(&r).unwrap();
        assert_eq!(v["data"][0]["embedding"], "AACAPw==");
    }

    #[test]
    fn the_hand_written_json_is_serdes_byte_for_byte() {
        let mut floats = vec![
            0.0,
            -0.0,
            1.0,
            -1.5,
            0.1,
            7.0,
            12.5,
            f32::MAX,
            f32::MIN,
            f32::MIN_POSITIVE,
            1e-45,
            -1.175_494_4e-38,
            1.234_568e15,
            1e16,
            0.029_029_955,
            -0.000_012_345_678,
            f32::NAN,
            f32::INFINITY,
        ];
        // Every length zmij writes, and the chunk's boundary, many times over.
        for b in 0..20_000u32 {
            floats.push(f32::from_bits(b.wrapping_mul(2_654_435_761)));
        }
        let ints = vec![vec![-128.0, -1.0, 0.0, 127.0], vec![1.0, 2.0, 3.0, 4.0]];
        let cases = [
            (
                "titan",
                vec![floats.clone(), vec![0.5]],
                EmbeddingType::Float,
                EncodingFormat::Float,
            ),
            (
                "a \"quoted\" name\n",
                vec![vec![1.0, 2.0]],
                EmbeddingType::Float,
                EncodingFormat::Float,
            ),
            (
                "cohere",
                vec![floats, vec![0.25]],
                EmbeddingType::Float,
                EncodingFormat::Base64,
            ),
            (
                "cohere",
                ints.clone(),
                EmbeddingType::Int8,
                EncodingFormat::Float,
            ),
            (
                "cohere",
                ints,
                EmbeddingType::Binary,
                EncodingFormat::Base64,
            ),
            (
                "cohere",
                vec![],
                EmbeddingType::Float,
                EncodingFormat::Float,
            ),
            (
                "cohere",
                vec![vec![]],
                EmbeddingType::Float,
                EncodingFormat::Float,
            ),
        ];
        for (model, vectors, ty, format) in cases {
            let r = EmbeddingsResponse::new(model, vectors, ty, 42, format);
            let mut out = b"prefix".to_vec();
            r.write_json(&mut out).unwrap();
            let want = serde_json::to_vec(&r).unwrap();
            assert!(out[6..] == want[..], "{model} {ty:?} {format:?}");
        }
    }

    #[test]
    fn integer_types_go_out_as_integers_or_one_byte_a_value() {
        let vectors = vec![vec![-128.0, -1.0, 0.0, 127.0]];
        let r = EmbeddingsResponse::new(
            "cohere",
            vectors.clone(),
            EmbeddingType::Int8,
            1,
            EncodingFormat::Float,
        );
        let text = serde_json::to_string(&r).unwrap();
        assert!(text.contains(r#""embedding":[-128,-1,0,127]"#), "{text}");
        let r = EmbeddingsResponse::new(
            "cohere",
            vectors,
            EmbeddingType::Binary,
            1,
            EncodingFormat::Base64,
        );
        let v = serde_json::to_value(&r).unwrap();
        let bytes = STANDARD
            .decode(v["data"][0]["embedding"].as_str().unwrap())
            .unwrap();
        assert_eq!(bytes, [0x80, 0xff, 0x00, 0x7f]);
        let r = EmbeddingsResponse::new(
            "cohere",
            vec![vec![0.0, 200.0, 255.0]],
            EmbeddingType::Uint8,
            1,
            EncodingFormat::Base64,
        );
        let v = serde_json::to_value(&r).unwrap();
        let bytes = STANDARD
            .decode(v["data"][0]["embedding"].as_str().unwrap())
            .unwrap();
        assert_eq!(bytes, [0, 200, 255]);
    }

    #[test]
    fn embedding_type_is_read_and_checked() {
        let r = parse(json!({"model": "m", "input": "x", "embedding_type": "ubinary"})).unwrap();
        assert_eq!(r.embedding_type, Some(EmbeddingType::Ubinary));
        let r = parse(json!({"model": "m", "input": "x", "embedding_type": null})).unwrap();
        assert_eq!(r.embedding_type, None);
        let e = err(json!({"model": "m", "input": "x", "embedding_type": "int4"}));
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert_eq!(e.param, Some("embedding_type"));
        assert_eq!(e.code, "invalid_embedding_type");
        assert_eq!(
            e.message,
            "embedding_type \"int4\" is not supported: use one of \"float\", \"int8\", \
             \"uint8\", \"binary\" or \"ubinary\" (README lists which types each model offers)"
        );
        let e = err(json!({"model": "m", "input": "x", "embedding_type": 8}));
        assert_eq!(e.param, Some("embedding_type"));
    }
}
