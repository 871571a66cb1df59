//! Model identifiers: plain ids, geo/global inference-profile ids and ARNs, resolved to the
//! embedding models the emulator serves.

use crate::error::ApiError;
use serde::Serialize;
use std::collections::BTreeMap;

/// Application inference profiles the emulator knows: profile ARN → the model it routes to
/// (a foundation-model id or a system-defined inference-profile id such as
/// `us.cohere.embed-v4:0`). Real ones are made with `CreateInferenceProfile`; their ARNs do not
/// name the model, so the emulator must be told.
pub type ApplicationProfiles = BTreeMap<String, String>;

/// The resource type of an application inference profile ARN.
const APPLICATION_PROFILE: &str = "application-inference-profile";

/// The embedding model families the emulator implements.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum ModelKind {
    TitanTextV1,
    TitanTextV2,
    TitanImageV1,
    CohereEnglishV3,
    CohereMultilingualV3,
    CohereV4,
    Nova2MultimodalV1,
}

/// Foundation-model ids served, with their family.
pub const MODELS: &[(&str, ModelKind)] = &[
    ("amazon.titan-embed-text-v1", ModelKind::TitanTextV1),
    ("amazon.titan-embed-text-v1:2:8k", ModelKind::TitanTextV1),
    ("amazon.titan-embed-g1-text-02", ModelKind::TitanTextV1),
    ("amazon.titan-embed-text-v2:0", ModelKind::TitanTextV2),
    ("amazon.titan-embed-image-v1", ModelKind::TitanImageV1),
    ("amazon.titan-embed-image-v1:0", ModelKind::TitanImageV1),
    ("cohere.embed-english-v3", ModelKind::CohereEnglishV3),
    ("cohere.embed-english-v3:0", ModelKind::CohereEnglishV3),
    (
        "cohere.embed-multilingual-v3",
        ModelKind::CohereMultilingualV3,
    ),
    (
        "cohere.embed-multilingual-v3:0",
        ModelKind::CohereMultilingualV3,
    ),
    ("cohere.embed-v4:0", ModelKind::CohereV4),
    (
        "amazon.nova-2-multimodal-embeddings-v1:0",
        ModelKind::Nova2MultimodalV1,
    ),
];

/// Prefixes of system-defined (cross-region) inference profiles.
pub const PROFILE_PREFIXES: &[&str] = &[
    "us.", "eu.", "apac.", "us-gov.", "jp.", "au.", "sa.", "amer.", "global.", "ca.",
];

/// A model identifier resolved to a served model.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResolvedModel {
    /// Which family answers.
    pub kind: ModelKind,
    /// The foundation-model id (e.g. `amazon.titan-embed-text-v2:0`), also the stats key.
    pub base_id: &'static str,
    /// The resource the call is authorised against (foundation-model or inference-profile ARN,
    /// or the ARN as given).
    pub resource_arn: String,
    /// True when reached through an inference profile (id or ARN).
    pub via_profile: bool,
}

/// Looks a foundation-model id up.
pub fn lookup(id: &str) -> Option<(&'static str, ModelKind)> {
    MODELS.iter().find(|(m, _)| *m == id).copied()
}

fn strip_profile_prefix(id: &str) -> Option<&str> {
    PROFILE_PREFIXES.iter().find_map(|p| id.strip_prefix(p))
}

/// What Bedrock answers for an identifier that names no model it can invoke (400, not 404).
pub const INVALID_MODEL_IDENTIFIER: &str = "The provided model identifier is invalid.";

fn invalid() -> ApiError {
    ApiError::validation(INVALID_MODEL_IDENTIFIER)
}

/// Resolves a (percent-decoded) model identifier. `region` and `account` fill the ARN of a
/// plain id or profile id; `profiles` are the application inference profiles that exist.
pub fn resolve(
    id: &str,
    region: &str,
    account: &str,
    profiles: &ApplicationProfiles,
) -> Result<ResolvedModel, ApiError> {
    let len = id.chars().count();
    if len == 0 || len > 2048 {
        return Err(ApiError::validation(format!(
            "1 validation error detected: Value '{}' at 'modelId' failed to satisfy constraint: Member must have length {}",
            id.chars().take(64).collect::<String>(),
            if len == 0 {
                "greater than or equal to 1"
            } else {
                "less than or equal to 2048"
            }
        )));
    }
    if let Some(rest) = id.strip_prefix("arn:") {
        return resolve_arn(id, rest, profiles);
    }
    if let Some((base_id, kind)) = lookup(id) {
        return Ok(ResolvedModel {
            kind,
            base_id,
            resource_arn: format!("arn:aws:bedrock:{region}::foundation-model/{base_id}"),
            via_profile: false,
        });
    }
    if let Some((base_id, kind)) = strip_profile_prefix(id).and_then(lookup) {
        return Ok(ResolvedModel {
            kind,
            base_id,
            resource_arn: format!("arn:aws:bedrock:{region}:{account}:inference-profile/{id}"),
            via_profile: true,
        });
    }
    Err(invalid())
}

/// Splits `arn:PARTITION:bedrock:REGION:ACCOUNT:TYPE/ID` (after `arn:`) into TYPE and ID (the id
/// may itself contain ':').
fn arn_resource(rest: &str) -> Option<(&str, &str)> {
    let parts: Vec<&str> = rest.splitn(5, ':').collect();
    if parts.len() != 5 || parts[1] != "bedrock" || !parts[0].starts_with("aws") {
        return None;
    }
    parts[4].split_once('/')
}

/// Checks one application-inference-profile entry: the key must be such an ARN, the target a
/// model id (plain or system inference profile) the emulator serves. The error names both.
pub fn check_application_profile(arn: &str, target: &str) -> Result<(), String> {
    let is_app_profile = arn
        .strip_prefix("arn:")
        .and_then(arn_resource)
        .is_some_and(|(ty, id)| ty == APPLICATION_PROFILE && !id.is_empty());
    if !is_app_profile {
        return Err(format!(
            "{arn:?} is not an application inference profile ARN \
             (arn:aws:bedrock:REGION:ACCOUNT:{APPLICATION_PROFILE}/ID)"
        ));
    }
    if target.starts_with("arn:")
        || resolve(target, "us-east-1", "0", &ApplicationProfiles::new()).is_err()
    {
        let served: Vec<&str> = MODELS.iter().map(|(m, _)| *m).collect();
        return Err(format!(
            "application inference profile {arn}: {target:?} is not a model the emulator serves \
             (a model id, optionally with a geo prefix such as us.: {})",
            served.join(", ")
        ));
    }
    Ok(())
}

fn resolve_arn(
    full: &str,
    rest: &str,
    profiles: &ApplicationProfiles,
) -> Result<ResolvedModel, ApiError> {
    let Some((resource_type, resource_id)) = arn_resource(rest) else {
        return Err(invalid());
    };
    if resource_type == APPLICATION_PROFILE {
        let Some(target) = profiles.get(full) else {
            return Err(invalid());
        };
        let base = resolve(target, "us-east-1", "0", &ApplicationProfiles::new())?;
        return Ok(ResolvedModel {
            resource_arn: full.to_string(),
            via_profile: true,
            ..base
        });
    }
    let found = match resource_type {
        "foundation-model" => lookup(resource_id).map(|m| (m, false)),
        "inference-profile" => lookup(resource_id)
            .or_else(|| strip_profile_prefix(resource_id).and_then(lookup))
            .map(|m| (m, true)),
        _ => None,
    };
    match found {
        Some(((base_id, kind), via_profile)) => Ok(ResolvedModel {
            kind,
            base_id,
            resource_arn: full.to_string(),
            via_profile,
        }),
        None => Err(invalid()),
    }
}

/// IAM-style wildcard match (`*` any run, `?` one character).
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0usize, 0usize);
    let (mut star, mut mark) = (None::<usize>, 0usize);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorCode;

    fn resolve(id: &str, region: &str, account: &str) -> Result<ResolvedModel, ApiError> {
        super::resolve(id, region, account, &ApplicationProfiles::new())
    }

    #[test]
    fn plain_profile_and_arn_ids() {
        let r = resolve("amazon.titan-embed-text-v2:0", "us-east-1", "123").unwrap();
        assert_eq!(r.kind, ModelKind::TitanTextV2);
        assert_eq!(
            r.resource_arn,
            "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"
        );
        let r = resolve("global.cohere.embed-v4:0", "eu-west-1", "123").unwrap();
        assert_eq!(r.base_id, "cohere.embed-v4:0");
        assert!(r.via_profile);
        assert_eq!(
            r.resource_arn,
            "arn:aws:bedrock:eu-west-1:123:inference-profile/global.cohere.embed-v4:0"
        );
        let arn = "arn:aws:bedrock:us-west-2:111122223333:inference-profile/us.cohere.embed-v4:0";
        let r = resolve(arn, "us-east-1", "1").unwrap();
        assert_eq!(r.kind, ModelKind::CohereV4);
        assert_eq!(r.resource_arn, arn);
        let arn = "arn:aws:bedrock:us-east-1::foundation-model/cohere.embed-english-v3";
        assert_eq!(
            resolve(arn, "x", "y").unwrap().kind,
            ModelKind::CohereEnglishV3
        );
    }

    #[test]
    fn unknown_ids() {
        for id in [
            "cohere.embed-v4",
            "anthropic.claude-v2",
            "arn:aws:bedrock:us-east-1:1:application-inference-profile/abc",
            "arn:aws:s3:::bucket",
            "xx.amazon.titan-embed-text-v2:0",
        ] {
            let e = resolve(id, "r", "a").unwrap_err();
            assert_eq!(e.code, ErrorCode::ValidationException, "{id}");
            assert_eq!(
                e.message, "The provided model identifier is invalid.",
                "{id}"
            );
        }
        assert_eq!(
            resolve("", "r", "a").unwrap_err().code,
            ErrorCode::ValidationException
        );
        let long = "a".repeat(2049);
        assert_eq!(
            resolve(&long, "r", "a").unwrap_err().code,
            ErrorCode::ValidationException
        );
    }

    #[test]
    fn application_inference_profiles_resolve_to_their_model() {
        let arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/a1b2c3";
        let profiles =
            ApplicationProfiles::from([(arn.to_string(), "us.cohere.embed-v4:0".into())]);
        let r = super::resolve(arn, "eu-west-1", "1", &profiles).unwrap();
        assert_eq!(r.kind, ModelKind::CohereV4);
        assert_eq!(r.base_id, "cohere.embed-v4:0");
        assert_eq!(r.resource_arn, arn);
        assert!(r.via_profile);
        let other = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/zzz";
        assert_eq!(
            super::resolve(other, "r", "a", &profiles)
                .unwrap_err()
                .message,
            INVALID_MODEL_IDENTIFIER
        );
        assert!(check_application_profile(arn, "amazon.titan-embed-text-v2:0").is_ok());
        let e = check_application_profile(arn, "amazon.titan-embed-text-v9").unwrap_err();
        assert!(
            e.contains("amazon.titan-embed-text-v9") && e.contains("cohere.embed-v4:0"),
            "{e}"
        );
        let e = check_application_profile(
            "arn:aws:bedrock:us-east-1::foundation-model/x",
            "cohere.embed-v4:0",
        )
        .unwrap_err();
        assert!(e.contains("application-inference-profile/ID"), "{e}");
    }

    #[test]
    fn globs() {
        assert!(glob_match(
            "arn:aws:bedrock:*::foundation-model/amazon.*",
            "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"
        ));
        assert!(!glob_match(
            "arn:aws:bedrock:*::foundation-model/cohere.*",
            "arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"
        ));
        assert!(glob_match("*", ""));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
    }
}
