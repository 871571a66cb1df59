//! The IAM resources an InvokeModel call needs, for AccessDenied messages.

use crate::model_id::{self, profile_prefix};

/// A plain model id: neither an ARN nor an inference-profile id.
pub(crate) fn is_plain_model_id(model_id: &str) -> bool {
    model_id::is_plain(model_id)
}

/// The AWS partition of a region.
pub(crate) fn partition(region: &str) -> &'static str {
    if region.starts_with("cn-") {
        "aws-cn"
    } else if region.starts_with("us-gov-") {
        "aws-us-gov"
    } else {
        "aws"
    }
}

/// The ARNs `bedrock:InvokeModel` must be allowed on to call `model_id` in `region`.
/// `account` fills inference-profile ARNs (`ACCOUNT_ID` when unknown).
pub(crate) fn invoke_resources(model_id: &str, region: &str, account: Option<&str>) -> Vec<String> {
    let part = partition(region);
    if model_id.starts_with("arn:") {
        return vec![model_id.to_owned()];
    }
    if let Some(prefix) = profile_prefix(model_id) {
        let model = &model_id[prefix.len()..];
        let account = account.unwrap_or("ACCOUNT_ID");
        let foundation = if prefix == "global." {
            format!("arn:{part}:bedrock:::foundation-model/{model}")
        } else {
            // The profile routes to several regions of its geography.
            format!("arn:{part}:bedrock:*::foundation-model/{model}")
        };
        return vec![
            format!("arn:{part}:bedrock:{region}:{account}:inference-profile/{model_id}"),
            foundation,
        ];
    }
    vec![format!(
        "arn:{part}:bedrock:{region}::foundation-model/{model_id}"
    )]
}

/// The 12-digit account of the first IAM/STS principal ARN in `text` (Bedrock's AccessDenied
/// message names the caller: "User: arn:aws:sts::123456789012:assumed-role/...").
pub(crate) fn account_in(text: &str) -> Option<&str> {
    text.match_indices("arn:").find_map(|(i, _)| {
        let mut parts = text[i..].splitn(6, ':');
        let (_arn, _partition, service, _region, account) = (
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
            parts.next()?,
        );
        let principal = service == "iam" || service == "sts";
        (principal && account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit()))
            .then_some(account)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn foundation_model() {
        assert_eq!(
            invoke_resources("amazon.titan-embed-text-v2:0", "eu-west-1", None),
            ["arn:aws:bedrock:eu-west-1::foundation-model/amazon.titan-embed-text-v2:0"]
        );
        assert_eq!(
            invoke_resources("amazon.titan-embed-text-v2:0", "us-gov-west-1", None)[0],
            "arn:aws-us-gov:bedrock:us-gov-west-1::foundation-model/amazon.titan-embed-text-v2:0"
        );
    }

    #[test]
    fn inference_profiles() {
        assert_eq!(
            invoke_resources("us.cohere.embed-v4:0", "us-east-1", Some("123456789012")),
            [
                "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.cohere.embed-v4:0",
                "arn:aws:bedrock:*::foundation-model/cohere.embed-v4:0",
            ]
        );
        assert_eq!(
            invoke_resources("global.cohere.embed-v4:0", "eu-west-1", None),
            [
                "arn:aws:bedrock:eu-west-1:ACCOUNT_ID:inference-profile/global.cohere.embed-v4:0",
                "arn:aws:bedrock:::foundation-model/cohere.embed-v4:0",
            ]
        );
    }

    #[test]
    fn canada_profile_is_a_profile() {
        assert_eq!(
            invoke_resources("ca.cohere.embed-v4:0", "ca-central-1", Some("123456789012")),
            [
                "arn:aws:bedrock:ca-central-1:123456789012:inference-profile/ca.cohere.embed-v4:0",
                "arn:aws:bedrock:*::foundation-model/cohere.embed-v4:0",
            ]
        );
        assert!(!is_plain_model_id("ca.cohere.embed-v4:0"));
    }

    #[test]
    fn arn_is_kept() {
        let arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc";
        assert_eq!(invoke_resources(arn, "us-east-1", None), [arn]);
    }

    #[test]
    fn account_from_message() {
        let msg = "User: arn:aws:sts::123456789012:assumed-role/r/s is not authorized to perform: \
                   bedrock:InvokeModel on resource: arn:aws:bedrock:us-east-1::foundation-model/x";
        assert_eq!(account_in(msg), Some("123456789012"));
        assert_eq!(
            account_in("arn:aws:bedrock:us-east-1::foundation-model/x"),
            None
        );
        assert_eq!(account_in("no arn here"), None);
    }
}
