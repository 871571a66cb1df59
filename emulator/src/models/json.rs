//! Request-body checks phrased like Bedrock's JSON-schema validation
//! (`Malformed input request: #/field: ..., please reformat your input and try again.`).

use crate::error::ApiError;
use serde_json::{Map, Value};

pub(crate) type Object = Map<String, Value>;

/// The body as a JSON object.
pub(crate) fn parse_object(body: &[u8]) -> Result<Object, ApiError> {
    if body.is_empty() {
        return Err(ApiError::malformed(
            "#: expected type: JSONObject, found: empty body",
        ));
    }
    match serde_json::from_slice::<Value>(body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(other) => Err(ApiError::malformed(format!(
            "#: expected type: JSONObject, found: {}",
            type_name(&other)
        ))),
        Err(e) => Err(ApiError::malformed(format!("invalid JSON: {e}"))),
    }
}

/// The schema-validator name of a JSON type.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "Null",
        Value::Bool(_) => "Boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "Integer",
        Value::Number(_) => "Number",
        Value::String(_) => "String",
        Value::Array(_) => "JSONArray",
        Value::Object(_) => "JSONObject",
    }
}

fn type_error(path: &str, expected: &str, found: &Value) -> ApiError {
    ApiError::malformed(format!(
        "{path}: expected type: {expected}, found: {}",
        type_name(found)
    ))
}

/// Rejects keys not in `allowed` (the schemas set `additionalProperties: false`).
pub(crate) fn reject_unknown(obj: &Object, path: &str, allowed: &[&str]) -> Result<(), ApiError> {
    if let Some(k) = obj.keys().find(|k| !allowed.contains(&k.as_str())) {
        return Err(ApiError::malformed(format!(
            "{path}: extraneous key [{k}] is not permitted"
        )));
    }
    Ok(())
}

fn child(path: &str, key: &str) -> String {
    if path == "#" {
        format!("#/{key}")
    } else {
        format!("{path}/{key}")
    }
}

/// A required key.
pub(crate) fn required<'a>(obj: &'a Object, path: &str, key: &str) -> Result<&'a Value, ApiError> {
    obj.get(key)
        .ok_or_else(|| ApiError::malformed(format!("{path}: required key [{key}] not found")))
}

/// An optional string.
pub(crate) fn opt_str<'a>(
    obj: &'a Object,
    path: &str,
    key: &str,
) -> Result<Option<&'a str>, ApiError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(v) => Err(type_error(&child(path, key), "String", v)),
    }
}

/// A required string.
pub(crate) fn req_str<'a>(obj: &'a Object, path: &str, key: &str) -> Result<&'a str, ApiError> {
    required(obj, path, key)?;
    opt_str(obj, path, key).map(|s| s.unwrap_or_default())
}

/// An optional boolean.
pub(crate) fn opt_bool(obj: &Object, path: &str, key: &str) -> Result<Option<bool>, ApiError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::Bool(b)) => Ok(Some(*b)),
        Some(v) => Err(type_error(&child(path, key), "Boolean", v)),
    }
}

/// An optional integer.
pub(crate) fn opt_int(obj: &Object, path: &str, key: &str) -> Result<Option<i64>, ApiError> {
    match obj.get(key) {
        None => Ok(None),
        Some(v @ Value::Number(n)) => n
            .as_i64()
            .map(Some)
            .ok_or_else(|| type_error(&child(path, key), "Integer", v)),
        Some(v) => Err(type_error(&child(path, key), "Integer", v)),
    }
}

/// An optional integer restricted to `allowed`.
pub(crate) fn opt_int_enum(
    obj: &Object,
    path: &str,
    key: &str,
    allowed: &[i64],
) -> Result<Option<i64>, ApiError> {
    let v = opt_int(obj, path, key)?;
    if let Some(n) = v
        && !allowed.contains(&n)
    {
        return Err(ApiError::malformed(format!(
            "{}: {n} is not a valid enum value",
            child(path, key)
        )));
    }
    Ok(v)
}

/// An optional string restricted to `allowed`.
pub(crate) fn opt_str_enum<'a>(
    obj: &'a Object,
    path: &str,
    key: &str,
    allowed: &[&str],
) -> Result<Option<&'a str>, ApiError> {
    let v = opt_str(obj, path, key)?;
    if let Some(s) = v {
        check_enum(&child(path, key), s, allowed)?;
    }
    Ok(v)
}

pub(crate) fn check_enum(path: &str, s: &str, allowed: &[&str]) -> Result<(), ApiError> {
    if allowed.contains(&s) {
        Ok(())
    } else {
        Err(ApiError::malformed(format!(
            "{path}: {s} is not a valid enum value"
        )))
    }
}

/// An optional object.
pub(crate) fn opt_obj<'a>(
    obj: &'a Object,
    path: &str,
    key: &str,
) -> Result<Option<&'a Object>, ApiError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::Object(m)) => Ok(Some(m)),
        Some(v) => Err(type_error(&child(path, key), "JSONObject", v)),
    }
}

/// An optional array.
pub(crate) fn opt_array<'a>(
    obj: &'a Object,
    path: &str,
    key: &str,
) -> Result<Option<&'a Vec<Value>>, ApiError> {
    match obj.get(key) {
        None => Ok(None),
        Some(Value::Array(a)) => Ok(Some(a)),
        Some(v) => Err(type_error(&child(path, key), "JSONArray", v)),
    }
}

/// An optional array of strings with at most `max_items` items.
pub(crate) fn opt_str_array<'a>(
    obj: &'a Object,
    path: &str,
    key: &str,
    max_items: usize,
) -> Result<Option<Vec<&'a str>>, ApiError> {
    let Some(items) = opt_array(obj, path, key)? else {
        return Ok(None);
    };
    let p = child(path, key);
    if items.len() > max_items {
        return Err(ApiError::malformed(format!(
            "{p}: expected maxItems: {max_items}, actual: {}",
            items.len()
        )));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, v)| match v {
            Value::String(s) => Ok(s.as_str()),
            other => Err(type_error(&format!("{p}/{i}"), "String", other)),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Some)
}

/// An optional array of distinct enum strings, at least one.
pub(crate) fn opt_enum_array<'a>(
    obj: &'a Object,
    path: &str,
    key: &str,
    allowed: &[&str],
) -> Result<Option<Vec<&'a str>>, ApiError> {
    let Some(items) = opt_str_array(obj, path, key, allowed.len().max(1) * 4)? else {
        return Ok(None);
    };
    let p = child(path, key);
    if items.is_empty() {
        return Err(ApiError::malformed(format!(
            "{p}: expected minItems: 1, actual: 0"
        )));
    }
    let mut seen: Vec<&str> = Vec::new();
    for (i, s) in items.iter().enumerate() {
        check_enum(&format!("{p}/{i}"), s, allowed)?;
        if seen.contains(s) {
            return Err(ApiError::malformed(format!(
                "{p}: array items are not unique"
            )));
        }
        seen.push(s);
    }
    Ok(Some(items))
}

/// A string length check in characters.
pub(crate) fn check_len(path: &str, s: &str, min: usize, max: usize) -> Result<(), ApiError> {
    let n = s.chars().count();
    if n < min {
        return Err(ApiError::malformed(format!(
            "{path}: expected minLength: {min}, actual: {n}"
        )));
    }
    if n > max {
        return Err(ApiError::malformed(format!(
            "{path}: expected maxLength: {max}, actual: {n}"
        )));
    }
    Ok(())
}

/// Bedrock's message when the text has more tokens than the model takes.
pub(crate) fn too_many_tokens(max: u32, count: u32) -> ApiError {
    ApiError::validation(format!(
        "400 Bad Request: Too many input tokens. Max input tokens: {max}, request input token count: {count} "
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Object {
        match v {
            Value::Object(m) => m,
            _ => unreachable!(),
        }
    }

    #[test]
    fn messages() {
        assert!(
            parse_object(b"[1]")
                .unwrap_err()
                .message
                .contains("expected type: JSONObject, found: JSONArray")
        );
        assert!(parse_object(b"{").is_err());
        let o = obj(json!({"a": 1, "b": "x", "c": [1]}));
        assert!(
            reject_unknown(&o, "#", &["a", "b"])
                .unwrap_err()
                .message
                .contains("extraneous key [c]")
        );
        assert!(
            req_str(&o, "#", "z")
                .unwrap_err()
                .message
                .contains("required key [z] not found")
        );
        assert!(
            req_str(&o, "#", "a")
                .unwrap_err()
                .message
                .contains("#/a: expected type: String, found: Integer")
        );
        assert!(
            opt_int_enum(&o, "#", "a", &[2, 3])
                .unwrap_err()
                .message
                .contains("#/a: 1 is not a valid enum value")
        );
        assert!(
            opt_str_array(&o, "#", "c", 5)
                .unwrap_err()
                .message
                .contains("#/c/0: expected type: String")
        );
        let o = obj(json!({"t": ["float", "float"]}));
        assert!(opt_enum_array(&o, "#", "t", &["float"]).is_err());
        let o = obj(json!({"n": 1.5}));
        assert!(opt_int(&o, "#", "n").is_err());
    }
}
