//! Shared by the built-in codecs: plain-Rust mirrors of the WIT records (so the wire logic
//! never touches generated bindings and tests natively), param lookup and parsing, the texts
//! of "bad value" errors, the input and response checks every codec does, and [`json`], a
//! reader of responses that reads their float arrays fast.
//!
//! [`export_codec!`] generates each codec's bindings (with the codec's own wit-bindgen) and the
//! shell converting between them and these types. Dependencies: serde_json and `fast-float2`,
//! for [`json`].

use std::fmt;

pub mod json;
mod shell;

/// One model parameter (`param` in the WIT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub value: String,
}

impl Param {
    pub fn new(name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            value: value.into(),
        }
    }
}

/// A parameter a codec understands (`param-spec` in the WIT).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamSpec {
    pub name: String,
    pub description: String,
    pub default_value: Option<String>,
    /// The only values accepted (by at least one model of the codec); empty means free-form.
    pub allowed: Vec<String>,
}

impl ParamSpec {
    pub fn new(
        name: &str,
        description: &str,
        default_value: Option<&str>,
        allowed: &[&str],
    ) -> Self {
        Self {
            name: name.to_owned(),
            description: description.to_owned(),
            default_value: default_value.map(str::to_owned),
            allowed: allowed.iter().map(|&a| a.to_owned()).collect(),
        }
    }
}

/// `codec-info` in the WIT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodecInfo {
    pub name: String,
    pub version: String,
    pub model_prefixes: Vec<String>,
    pub params: Vec<ParamSpec>,
}

/// `request-options` in the WIT: per-request overrides (OpenAI's `dimensions`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestOptions {
    pub dimensions: Option<u32>,
}

/// `invocation` in the WIT: one InvokeModel body and how many inputs (in order) it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invocation {
    pub body: Vec<u8>,
    pub input_count: u32,
}

/// `span` in the WIT: bytes `[start, start + len)` of a response body, one JSON array of
/// numbers from its `[` to its `]`. [`json::Reader::numbers`] finds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: u32,
    pub len: u32,
}

impl Span {
    /// The bytes of the body it covers, as a range.
    pub fn range(self) -> std::ops::Range<usize> {
        self.start as usize..self.start as usize + self.len as usize
    }
}

/// `embeddings` in the WIT: one vector per input of the invocation, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    pub input_tokens: Option<u32>,
}

/// `codec-error` in the WIT. Each message is complete on its own: the host shows it as is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecError {
    InvalidParam(String),
    InvalidInput(String),
    BadResponse(String),
    UnsupportedModel(String),
}

impl CodecError {
    pub fn message(&self) -> &str {
        match self {
            Self::InvalidParam(m)
            | Self::InvalidInput(m)
            | Self::BadResponse(m)
            | Self::UnsupportedModel(m) => m,
        }
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self {
            Self::InvalidParam(_) => "invalid param",
            Self::InvalidInput(_) => "invalid input",
            Self::BadResponse(_) => "bad response",
            Self::UnsupportedModel(_) => "unsupported model",
        };
        write!(f, "{kind}: {}", self.message())
    }
}

impl std::error::Error for CodecError {}

// ---------------------------------------------------------------------------------------------
// Models

/// Finds `model_id` (a base id: the host has stripped inference-profile prefixes and ARNs) in a
/// codec's table of documented ids.
///
/// A documented id matches itself and its `:`-suffixed variants (provisioned-throughput ids
/// such as `amazon.titan-embed-text-v1:2:8k`): the suffix does not change the wire format. An
/// id missing the version a documented id has (`cohere.embed-v4` for `cohere.embed-v4:0`) is
/// refused with the fix named: Bedrock refuses it too, and a start-up error beats a 400 on
/// every request.
pub fn find_model<M: Copy>(
    codec: &str,
    model_id: &str,
    known: &[(&'static str, M)],
) -> Result<M, CodecError> {
    for &(id, model) in known {
        let family = family_of(id);
        let variant = model_id
            .strip_prefix(family)
            .is_some_and(|rest| rest.starts_with(':'));
        if model_id == id || variant {
            return Ok(model);
        }
    }
    let ids: Vec<&str> = known.iter().map(|&(id, _)| id).collect();
    let hint = match ids.iter().find(|id| family_of(id) == model_id) {
        Some(id) => format!(" (Bedrock needs the versioned id: did you mean {id}?)"),
        None => String::new(),
    };
    Err(CodecError::UnsupportedModel(format!(
        "the {codec} codec does not know model \"{model_id}\"{hint}; it serves {}",
        ids.join(", ")
    )))
}

fn family_of(id: &str) -> &str {
    id.split(':').next().unwrap_or(id)
}

// ---------------------------------------------------------------------------------------------
// Params

/// Where a value came from, for error texts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// A model param from the spicepod.
    Param,
    /// A per-request option (OpenAI's `dimensions`).
    RequestOption,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Param => "param",
            Self::RequestOption => "request option",
        })
    }
}

/// The value of param `name`, surrounding whitespace trimmed. Params come from a YAML map, so a
/// name appears once; should it repeat, the last one wins, as in a map.
pub fn param<'a>(params: &'a [Param], name: &str) -> Option<&'a str> {
    params
        .iter()
        .rev()
        .find(|p| p.name == name)
        .map(|p| p.value.trim())
}

/// `invalid value "300" for param "dimensions" of amazon.titan-embed-text-v2:0: allowed values
/// are 1024, 512, 256`.
pub fn invalid_value<T: fmt::Display>(
    origin: Origin,
    name: &str,
    value: &str,
    model_id: &str,
    allowed: &[T],
) -> CodecError {
    CodecError::InvalidParam(format!(
        "invalid value \"{value}\" for {origin} \"{name}\" of {model_id}: allowed values are {}",
        join(allowed)
    ))
}

/// A size request for a model whose vectors have one fixed size.
pub fn fixed_size(
    origin: Origin,
    name: &str,
    value: &str,
    model_id: &str,
    size: u32,
) -> CodecError {
    CodecError::InvalidParam(format!(
        "invalid value \"{value}\" for {origin} \"{name}\" of {model_id}: its vectors have a \
         fixed size; allowed values are {size}"
    ))
}

/// A known param given for a model that does not take it.
pub fn not_supported(name: &str, value: &str, model_id: &str, why: &str) -> CodecError {
    CodecError::InvalidParam(format!(
        "param \"{name}\" (value \"{value}\") is not supported by {model_id}: {why}; remove it"
    ))
}

/// One of `allowed`, matched ASCII-case-insensitively and returned in its canonical spelling;
/// `default` when the param is absent.
pub fn choice(
    params: &[Param],
    name: &str,
    model_id: &str,
    allowed: &[&'static str],
    default: &'static str,
) -> Result<&'static str, CodecError> {
    match param(params, name) {
        None => Ok(default),
        Some(value) => allowed
            .iter()
            .find(|a| a.eq_ignore_ascii_case(value))
            .copied()
            .ok_or_else(|| invalid_value(Origin::Param, name, value, model_id, allowed)),
    }
}

/// `true` or `false`, ASCII-case-insensitively; `default` when the param is absent.
pub fn boolean(
    params: &[Param],
    name: &str,
    model_id: &str,
    default: bool,
) -> Result<bool, CodecError> {
    match param(params, name) {
        None => Ok(default),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(invalid_value(
            Origin::Param,
            name,
            v,
            model_id,
            &["true", "false"],
        )),
    }
}

/// A number that must be one of `allowed`.
pub fn number_in(
    origin: Origin,
    name: &str,
    value: &str,
    model_id: &str,
    allowed: &[u32],
) -> Result<u32, CodecError> {
    value
        .parse::<u32>()
        .ok()
        .filter(|n| allowed.contains(n))
        .ok_or_else(|| invalid_value(origin, name, value, model_id, allowed))
}

/// A number that must equal a model's fixed vector size.
pub fn fixed_number(
    origin: Origin,
    name: &str,
    value: &str,
    model_id: &str,
    size: u32,
) -> Result<u32, CodecError> {
    match value.parse::<u32>() {
        Ok(n) if n == size => Ok(n),
        _ => Err(fixed_size(origin, name, value, model_id, size)),
    }
}

fn join<T: fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

// ---------------------------------------------------------------------------------------------
// Inputs

/// Refuses an empty list, an empty text, and (when the model documents one) a text longer
/// than `max_chars` characters (Unicode scalar values, as JSON Schema's `maxLength` counts).
pub fn check_inputs(
    model_id: &str,
    inputs: &[String],
    max_chars: Option<usize>,
) -> Result<(), CodecError> {
    if inputs.is_empty() {
        return Err(CodecError::InvalidInput(format!(
            "no input: {model_id} needs at least one text"
        )));
    }
    for (index, text) in inputs.iter().enumerate() {
        if text.is_empty() {
            return Err(CodecError::InvalidInput(format!(
                "input {index} is an empty string: {model_id} needs non-empty text"
            )));
        }
        if let Some(max) = max_chars {
            // A text of at most `max` bytes has at most `max` characters: count only beyond.
            if text.len() > max {
                let chars = text.chars().count();
                if chars > max {
                    return Err(CodecError::InvalidInput(format!(
                        "input {index} is {chars} characters long: {model_id} accepts at most \
                         {max} characters per text"
                    )));
                }
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Responses

/// The longest excerpt of a response body an error message carries, in characters.
pub const EXCERPT_CHARS: usize = 200;

/// The start of a body for an error message: at most [`EXCERPT_CHARS`] characters, `…`
/// included when cut; invalid UTF-8 replaced, control characters (line breaks) flattened.
pub fn excerpt(body: &[u8]) -> String {
    // A character is at most 4 bytes: this head holds every character the excerpt can show.
    let head = &body[..body.len().min(EXCERPT_CHARS * 4)];
    let text = String::from_utf8_lossy(head);
    let flat = |c: char| if c.is_control() { ' ' } else { c };
    let cut = head.len() < body.len() || text.chars().nth(EXCERPT_CHARS).is_some();
    if cut {
        let mut out: String = text.chars().take(EXCERPT_CHARS - 1).map(flat).collect();
        out.push('…');
        out
    } else {
        text.chars().map(flat).collect()
    }
}

/// A body that does not parse as the expected response.
pub fn unreadable(model_id: &str, error: impl fmt::Display, body: &[u8]) -> CodecError {
    CodecError::BadResponse(format!(
        "cannot read the {model_id} response: {error}; body starts: {}",
        excerpt(body)
    ))
}

/// One vector per input, each of the size asked for, every value finite (a number too large
/// for f32 parses as infinity; JSON has no NaN).
pub fn check_vectors(
    model_id: &str,
    vectors: &[Vec<f32>],
    input_count: u32,
    dimensions: u32,
) -> Result<(), CodecError> {
    if vectors.len() != input_count as usize {
        return Err(CodecError::BadResponse(format!(
            "{model_id} returned {} vectors for {input_count} inputs",
            vectors.len()
        )));
    }
    for (index, vector) in vectors.iter().enumerate() {
        if vector.len() != dimensions as usize {
            return Err(CodecError::BadResponse(format!(
                "{model_id} returned a vector of {} dimensions at position {index}; {dimensions} \
                 were asked for",
                vector.len()
            )));
        }
        if !vector.iter().all(|x| x.is_finite()) {
            return Err(CodecError::BadResponse(format!(
                "{model_id} returned a vector with a value out of f32 range at position {index}"
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
