//! What `bedrock-embed codecs` and `GET /v1/codecs` show of each codec.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

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

/// `2025-11-25T14:59:03.123Z`.
pub fn rfc3339(at: SystemTime) -> String {
    let since = at.duration_since(UNIX_EPOCH).unwrap_or_default();
    let secs = since.as_secs() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        since.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(UNIX_EPOCH), "1970-01-01T00:00:00.000Z");
        let t = UNIX_EPOCH + Duration::from_millis(1_764_082_743_250);
        assert_eq!(rfc3339(t), "2025-11-25T14:59:03.250Z");
        let leap = UNIX_EPOCH + Duration::from_secs(951_782_400); // 2000-02-29
        assert_eq!(rfc3339(leap), "2000-02-29T00:00:00.000Z");
    }
}
