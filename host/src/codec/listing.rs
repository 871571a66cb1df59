//! What `bedrock-embed codecs` and `GET /v1/codecs` show of each codec.

use std::sync::Arc;
use std::time::SystemTime;

use aws_smithy_types::DateTime;
use aws_smithy_types::date_time::Format;

use serde::Serialize;

use super::loaded::Codec;
use super::registry::Registry;

/// One row of `bedrock-embed codecs` and `GET /v1/codecs`: a codec (built in or from a file),
/// or a codec file that never loaded.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CodecListing {
    /// `None` for a file that has never loaded.
    pub name: Option<String>,
    pub version: Option<String>,
    /// The version of the codec WIT interface (`bedrock-embed:codec/codec@X.Y.Z`) the component
    /// exports.
    pub interface_version: Option<String>,
    /// The model-id prefixes the codec claims.
    pub model_prefixes: Vec<String>,
    /// The prefixes it serves now (a file overrides a built-in prefix by prefix).
    pub serves: Vec<String>,
    /// `built-in`, or the file's path.
    pub source: String,
    pub builtin: bool,
    /// SHA-256 of the `.wasm` bytes now serving.
    pub sha256: Option<String>,
    /// When the serving codec was loaded (RFC 3339, UTC).
    pub loaded_at: Option<String>,
    /// Why the last load of this file failed, when it did (the previous codec, if any, is
    /// still serving).
    pub last_error: Option<String>,
    /// When that failure happened (RFC 3339, UTC).
    pub last_error_at: Option<String>,
    pub params: Vec<ParamListing>,
}

/// The body of `GET /v1/codecs` and of `bedrock-embed codecs --json`: OpenAI's list shape.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct CodecList {
    pub object: &'static str,
    pub data: Vec<CodecListing>,
}

impl CodecList {
    pub fn new(data: Vec<CodecListing>) -> Self {
        Self {
            object: "list",
            data,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct ParamListing {
    pub name: String,
    pub description: String,
    pub default: Option<String>,
    pub allowed: Vec<String>,
}

pub(super) fn listing_of(
    codec: &Arc<Codec>,
    registry: &Registry,
    loaded_at: Option<SystemTime>,
    error: Option<&(String, SystemTime)>,
) -> CodecListing {
    let info = codec.info();
    let builtin = codec.is_builtin();
    CodecListing {
        name: Some(info.name.clone()),
        version: Some(info.version.clone()),
        interface_version: Some(codec.interface_version().to_string()),
        model_prefixes: info.model_prefixes.clone(),
        serves: registry
            .routes()
            .filter(|(_, c)| Arc::ptr_eq(c, codec))
            .map(|(p, _)| p.to_string())
            .collect(),
        source: codec.source().to_string(),
        builtin,
        sha256: Some(codec.sha256().to_string()),
        loaded_at: loaded_at.map(rfc3339),
        last_error: error.map(|(e, _)| e.clone()),
        last_error_at: error.map(|(_, at)| rfc3339(*at)),
        params: info
            .params
            .iter()
            .map(|p| ParamListing {
                name: p.name.clone(),
                description: p.description.clone(),
                default: p.default_value.clone(),
                allowed: p.allowed.clone(),
            })
            .collect(),
    }
}

/// The listing of a bare routing table (no codecs directory state: no load times, no failed
/// files), for callers that have no [`super::Catalog`].
pub fn listing_from_registry(registry: &Registry) -> Vec<CodecListing> {
    registry
        .codecs()
        .iter()
        .map(|c| listing_of(c, registry, None, None))
        .collect()
}

/// RFC 3339 in UTC to the millisecond, `2025-11-25T14:59:03.123Z` (aws-smithy-types formats
/// it, dropping trailing zeros of the fraction: `…:03.25Z`, `…:03Z`).
pub fn rfc3339(at: SystemTime) -> String {
    let at = DateTime::from(at);
    let millis = at.subsec_nanos() / 1_000_000 * 1_000_000;
    DateTime::from_secs_and_nanos(at.secs(), millis)
        .fmt(Format::DateTime)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00Z");
        let t = UNIX_EPOCH + Duration::from_nanos(1_764_082_743_123_456_789);
        assert_eq!(rfc3339(t), "2025-11-25T14:59:03.123Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00Z");
    }
}
