//! Bedrock model ids as users write them: the host's one home for the id forms Bedrock accepts
//! (docs/BEDROCK-WIRE.md, "Model id forms"). The codec router reads the base model from here
//! ([`base_model`]), the IAM hints which resources a call needs (`aws::arn`).
//!
//! Bedrock accepts plain ids (`cohere.embed-v4:0`), geo and global inference-profile ids
//! (`us.cohere.embed-v4:0`) and ARNs. The id sent to Bedrock is always the one the user wrote.
//! The emulator reads ids with its own, independent code on purpose; tests/e2e/model_ids.rs
//! holds both against the forms AWS documents.

/// Prefixes of system-defined (geo / global) inference profiles. `us-gov.` comes before `us.`
/// only for readability: every prefix ends in `.`, so none is a prefix of another.
pub const PROFILE_PREFIXES: &[&str] = &[
    "us-gov.", "us.", "eu.", "apac.", "jp.", "au.", "ca.", "sa.", "amer.", "global.",
];

/// The inference-profile prefix of `id` (`us.` of `us.cohere.embed-v4:0`), if it has one.
pub fn profile_prefix(id: &str) -> Option<&'static str> {
    PROFILE_PREFIXES
        .iter()
        .copied()
        .find(|p| id.len() > p.len() && id.starts_with(p))
}

/// A plain model id: neither an ARN nor an inference-profile id.
pub fn is_plain(id: &str) -> bool {
    !id.starts_with("arn:") && profile_prefix(id).is_none()
}

/// The parts of `arn:<partition>:bedrock:<region>:<account>:<type>/<id>` (the id may itself
/// contain `:` and `/`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arn<'a> {
    pub partition: &'a str,
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource_type: &'a str,
    pub resource_id: &'a str,
}

impl<'a> Arn<'a> {
    /// Splits an ARN; `None` when `id` is not one.
    pub fn parse(id: &'a str) -> Option<Self> {
        let mut parts = id.strip_prefix("arn:")?.splitn(5, ':');
        let (partition, service, region, account) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let resource = parts.next()?;
        let (resource_type, resource_id) = resource.split_once('/').unwrap_or((resource, ""));
        Some(Self {
            partition,
            service,
            region,
            account,
            resource_type,
            resource_id,
        })
    }
}

/// What routing can learn from a model id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BaseModel {
    /// The base model id, e.g. `cohere.embed-v4:0`.
    Known(String),
    /// An ARN whose resource id does not name its model (provisioned, imported, application
    /// inference profile): only a `codec` param can say which codec serves it.
    Opaque { resource_type: String },
}

/// Reads the base model id out of any id form Bedrock accepts.
pub fn base_model(model_id: &str) -> BaseModel {
    let Some(arn) = Arn::parse(model_id) else {
        return BaseModel::Known(strip_profile(model_id).to_string());
    };
    let opaque = || BaseModel::Opaque {
        resource_type: arn.resource_type.to_string(),
    };
    match arn.resource_type {
        "foundation-model" => BaseModel::Known(arn.resource_id.to_string()),
        "inference-profile" => BaseModel::Known(strip_profile(arn.resource_id).to_string()),
        // custom-model/<base model id>/<suffix>
        "custom-model" => match arn.resource_id.rsplit_once('/') {
            Some((base, _)) if !base.is_empty() => BaseModel::Known(base.to_string()),
            _ => opaque(),
        },
        _ => opaque(),
    }
}

fn strip_profile(id: &str) -> &str {
    profile_prefix(id).map_or(id, |p| &id[p.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(s: &str) -> BaseModel {
        BaseModel::Known(s.to_string())
    }

    #[test]
    fn plain_ids_pass_through() {
        for id in ["amazon.titan-embed-text-v2:0", "cohere.embed-english-v3"] {
            assert_eq!(base_model(id), known(id));
            assert!(is_plain(id), "{id}");
        }
    }

    #[test]
    fn profile_ids_lose_their_prefix() {
        // The full list AWS documents is checked in tests/e2e/model_ids.rs, against the emulator.
        assert_eq!(
            base_model("ca.cohere.embed-v4:0"),
            known("cohere.embed-v4:0")
        );
        // us-gov. must not be read as "us" + "-gov.…"
        assert_eq!(
            base_model("us-gov.amazon.titan-embed-text-v2:0"),
            known("amazon.titan-embed-text-v2:0")
        );
        // A prefix alone is not a profile id.
        assert_eq!(base_model("us."), known("us."));
        assert!(!is_plain("global.cohere.embed-v4:0"));
    }

    #[test]
    fn arns_name_their_model() {
        assert_eq!(
            base_model("arn:aws:bedrock:us-east-1::foundation-model/amazon.titan-embed-text-v2:0"),
            known("amazon.titan-embed-text-v2:0")
        );
        assert_eq!(
            base_model(
                "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.cohere.embed-v4:0"
            ),
            known("cohere.embed-v4:0")
        );
        assert_eq!(
            base_model(
                "arn:aws-us-gov:bedrock:us-gov-west-1:123456789012:custom-model/amazon.titan-embed-text-v2:0/a1b2c3"
            ),
            known("amazon.titan-embed-text-v2:0")
        );
        let arn = Arn::parse("arn:aws:bedrock:eu-west-1:123456789012:imported-model/abc").unwrap();
        assert_eq!(
            (arn.partition, arn.region, arn.account, arn.resource_id),
            ("aws", "eu-west-1", "123456789012", "abc")
        );
    }

    #[test]
    fn opaque_arns_say_what_they_are() {
        for kind in [
            "provisioned-model",
            "imported-model",
            "application-inference-profile",
        ] {
            let arn = format!("arn:aws:bedrock:us-east-1:123456789012:{kind}/abc123");
            assert_eq!(
                base_model(&arn),
                BaseModel::Opaque {
                    resource_type: kind.to_string()
                }
            );
        }
    }
}
