//! The SDK of bedrock-embed codecs, for the built-ins, the template (`just new-codec`) and
//! third-party codecs alike: the bindings of `bedrock-embed:codec@0.2.0`, generated here from
//! the repository's `wit/v0.2.0` ([`bindings`]), and [`export_codec!`], which exports a codec
//! written against this crate's plain-Rust mirrors of the WIT records (so the wire logic never
//! touches generated bindings and tests natively). Beside them: param lookup and parsing, the
//! texts of "bad value" errors, the input and response checks every codec does, and [`json`],
//! a reader of responses that finds their number arrays (as [`Span`]s for the host to parse)
//! without reading the numbers.
//!
//! A codec crate depends on codec-kit (and serde/serde_json if it uses them), not on
//! wit-bindgen and not on a copy of the WIT.

use std::fmt;

pub mod bindings;
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

/// `embedding-type` in the WIT: the representation of a vector's values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum EmbeddingType {
    /// f32, one value per dimension.
    #[default]
    Float,
    /// Integers -128..=127, one per dimension.
    Int8,
    /// Integers 0..=255, one per dimension.
    Uint8,
    /// Packed bits, 8 dimensions per value (first dimension in the most significant bit),
    /// each value a signed byte -128..=127.
    Binary,
    /// Packed bits as [`Binary`](Self::Binary), each value an unsigned byte 0..=255.
    Ubinary,
}

impl EmbeddingType {
    /// Every type, in the WIT's order.
    pub const ALL: [Self; 5] = [
        Self::Float,
        Self::Int8,
        Self::Uint8,
        Self::Binary,
        Self::Ubinary,
    ];

    /// The wire name, as Cohere spells it: `float`, `int8`, `uint8`, `binary`, `ubinary`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Float => "float",
            Self::Int8 => "int8",
            Self::Uint8 => "uint8",
            Self::Binary => "binary",
            Self::Ubinary => "ubinary",
        }
    }

    /// The type of a wire name, matched ASCII-case-insensitively (as params are).
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|t| t.as_str().eq_ignore_ascii_case(name))
    }

    /// Whether a value holds 8 dimensions (`binary`, `ubinary`).
    pub fn is_packed(self) -> bool {
        matches!(self, Self::Binary | Self::Ubinary)
    }

    /// The values a vector of `dimensions` dimensions has in this type.
    pub fn values_per_vector(self, dimensions: u32) -> u32 {
        if self.is_packed() {
            dimensions.div_ceil(8)
        } else {
            dimensions
        }
    }
}

impl fmt::Display for EmbeddingType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// `request-options` in the WIT: per-request overrides (OpenAI's `dimensions`, and
/// `embedding_type`). `None` leaves it to the model's params (or the codec's default).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RequestOptions {
    pub dimensions: Option<u32>,
    pub embedding_type: Option<EmbeddingType>,
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

/// `vectors` in the WIT: one vector per input of the invocation, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Vectors {
    /// Values the codec read or computed itself.
    Values(Vec<Vec<f32>>),
    /// Where the vectors are in the response body; the host reads the numbers (the fast path).
    Spans(Vec<Span>),
}

impl Vectors {
    /// How many vectors there are.
    pub fn len(&self) -> usize {
        match self {
            Self::Values(v) => v.len(),
            Self::Spans(s) => s.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values as the host reads them from the response `body` the spans are in: each span
    /// an array of numbers, each number to the nearest f32 (checked as JSON numbers). For tests
    /// of a codec's `decode`: in `decode` itself, reading the numbers is the slow path.
    pub fn values(&self, body: &[u8]) -> Result<Vec<Vec<f32>>, json::Error> {
        match self {
            Self::Values(values) => Ok(values.clone()),
            Self::Spans(spans) => spans
                .iter()
                .map(|span| {
                    let bytes = body.get(span.range()).unwrap_or_default();
                    let mut reader = json::Reader::new(bytes);
                    let values = reader.floats(0)?;
                    reader.finish().map(|()| values)
                })
                .collect(),
        }
    }
}

/// `embeddings` in the WIT.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub vectors: Vectors,
    /// The type of every value in `vectors`.
    pub embedding_type: EmbeddingType,
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
    /// A per-request option (OpenAI's `dimensions`, `embedding_type`).
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

/// The name of the model param choosing the embedding type (the request option
/// `embedding_type` overrides it).
pub const PARAM_EMBEDDING_TYPE: &str = "embedding_type";

/// The embedding type of a call: the request option, else the [`PARAM_EMBEDDING_TYPE`] param
/// (any case), else `float`; one of `offered` (the model's, in the order error texts list
/// them). The param is checked even when the request overrides it.
pub fn embedding_type(
    params: &[Param],
    options: RequestOptions,
    model_id: &str,
    offered: &[EmbeddingType],
) -> Result<EmbeddingType, CodecError> {
    let refuse =
        |origin, value: &str| invalid_value(origin, PARAM_EMBEDDING_TYPE, value, model_id, offered);
    let from_param = match param(params, PARAM_EMBEDDING_TYPE) {
        None => None,
        Some(value) => Some(
            EmbeddingType::parse(value)
                .filter(|t| offered.contains(t))
                .ok_or_else(|| refuse(Origin::Param, value))?,
        ),
    };
    match options.embedding_type {
        Some(t) if !offered.contains(&t) => Err(refuse(Origin::RequestOption, t.as_str())),
        Some(t) => Ok(t),
        None => Ok(from_param.unwrap_or_default()),
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

/// One array per input, each with the values a vector of `dimensions` has in `embedding_type`
/// (as [`json::Reader::numbers`] counted them): their spans, for [`Vectors::Spans`].
pub fn check_arrays(
    model_id: &str,
    arrays: &[json::NumberArray],
    input_count: u32,
    dimensions: u32,
    embedding_type: EmbeddingType,
) -> Result<Vec<Span>, CodecError> {
    if arrays.len() != input_count as usize {
        return Err(CodecError::BadResponse(format!(
            "{model_id} returned {} vectors for {input_count} inputs",
            arrays.len()
        )));
    }
    let want = embedding_type.values_per_vector(dimensions) as usize;
    for (index, array) in arrays.iter().enumerate() {
        if array.count != want {
            return Err(CodecError::BadResponse(if embedding_type.is_packed() {
                format!(
                    "{model_id} returned a {embedding_type} vector of {} values at position \
                     {index}; {dimensions} dimensions were asked for, {want} values of 8 bits",
                    array.count
                )
            } else {
                format!(
                    "{model_id} returned a vector of {} dimensions at position {index}; \
                     {dimensions} were asked for",
                    array.count
                )
            }));
        }
    }
    Ok(arrays.iter().map(|a| a.span).collect())
}

/// Bits (one value per dimension, each 0 or 1) packed as the WIT's `binary` is: 8 per value,
/// the first dimension in the most significant bit, each value the byte as a signed integer
/// (`byte as i8`). A last byte of fewer than 8 dimensions is padded with 0 bits. `None` if a
/// value is not 0 or 1.
pub fn pack_bits(bits: &[f32]) -> Option<Vec<f32>> {
    bits.chunks(8)
        .map(|chunk| {
            let mut byte = 0u8;
            for (i, &bit) in chunk.iter().enumerate() {
                if bit == 1.0 {
                    byte |= 0x80 >> i;
                } else if bit != 0.0 {
                    return None;
                }
            }
            Some(f32::from(byte as i8))
        })
        .collect()
}

#[cfg(test)]
mod tests;
