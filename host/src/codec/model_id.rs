//! Model ids as users write them, and the base model id codecs are routed by.
//!
//! Bedrock accepts plain ids (`cohere.embed-v4:0`), geo and global inference profiles
//! (`us.cohere.embed-v4:0`) and ARNs. Codecs report prefixes of *base* ids, so routing first
//! strips the profile prefix and reads the model out of an ARN. The id sent to Bedrock is
//! always the one the user wrote.

/// Inference-profile prefixes Bedrock puts before a base model id.
pub const PROFILE_PREFIXES: &[&str] = &[
    "us-gov.", "us.", "eu.", "apac.", "jp.", "au.", "sa.", "amer.", "global.",
];

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
    let Some(resource) = arn_resource(model_id) else {
        return BaseModel::Known(strip_profile(model_id).to_string());
    };
    let (resource_type, id) = resource.split_once('/').unwrap_or((resource, ""));
    match resource_type {
        "foundation-model" => BaseModel::Known(id.to_string()),
        "inference-profile" => BaseModel::Known(strip_profile(id).to_string()),
        // custom-model/<base model id>/<suffix>
        "custom-model" => match id.rsplit_once('/') {
            Some((base, _)) if !base.is_empty() => BaseModel::Known(base.to_string()),
            _ => BaseModel::Opaque {
                resource_type: resource_type.to_string(),
            },
        },
        other => BaseModel::Opaque {
            resource_type: other.to_string(),
        },
    }
}

/// `arn:<partition>:bedrock:<region>:<account>:<resource>` → `<resource>`.
fn arn_resource(model_id: &str) -> Option<&str> {
    let rest = model_id.strip_prefix("arn:")?;
    let mut parts = rest.splitn(5, ':');
    let _partition = parts.next()?;
    let _service = parts.next()?;
    let _region = parts.next()?;
    let _account = parts.next()?;
    parts.next()
}

fn strip_profile(id: &str) -> &str {
    PROFILE_PREFIXES
        .iter()
        .find_map(|p| id.strip_prefix(p).filter(|rest| !rest.is_empty()))
        .unwrap_or(id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn known(s: &str) -> BaseModel {
        BaseModel::Known(s.to_string())
    }

    #[test]
    fn plain_ids_pass_through() {
        assert_eq!(
            base_model("amazon.titan-embed-text-v2:0"),
            known("amazon.titan-embed-text-v2:0")
        );
        assert_eq!(
            base_model("cohere.embed-english-v3"),
            known("cohere.embed-english-v3")
        );
    }

    #[test]
    fn profile_prefixes_are_stripped() {
        for p in PROFILE_PREFIXES {
            assert_eq!(
                base_model(&format!("{p}cohere.embed-v4:0")),
                known("cohere.embed-v4:0"),
                "{p}"
            );
        }
        // us-gov. must not be read as "us" + "-gov.…"
        assert_eq!(
            base_model("us-gov.amazon.titan-embed-text-v2:0"),
            known("amazon.titan-embed-text-v2:0")
        );
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
