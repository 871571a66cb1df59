//! The host's model-id rules (`bedrock_embed::model_id`, used by the codec router and the IAM
//! hints) and the emulator's own, independent reading (`bedrock_emulator::model_id`), both held
//! against the id forms AWS documents.
//!
//! The lists below are written out here from the AWS documentation on purpose, not read from
//! either implementation: "Supported Regions and models for inference profiles" (the geo and
//! global prefixes) and the `InvokeModel` API reference (`modelId`: foundation-model,
//! inference-profile, application-inference-profile, provisioned-model, custom-model,
//! imported-model ARNs); docs/BEDROCK-WIRE.md collects both.

use bedrock_embed::model_id::{self, Arn, BaseModel, base_model};
use bedrock_emulator::model_id::{self as emulator_model_id, INVALID_MODEL_IDENTIFIER};
use bedrock_emulator::{ApiError, ApplicationProfiles, ErrorCode, ResolvedModel};

/// The system-defined inference-profile prefixes AWS documents.
const AWS_PROFILE_PREFIXES: &[&str] = &[
    "us.", "eu.", "apac.", "us-gov.", "jp.", "au.", "ca.", "sa.", "amer.", "global.",
];

/// Embedding models that both sides know.
const BASE_IDS: &[&str] = &[
    "amazon.titan-embed-text-v2:0",
    "amazon.titan-embed-text-v1",
    "cohere.embed-english-v3",
    "cohere.embed-v4:0",
];

/// The emulator's reading of `id`, with no application inference profiles configured.
fn resolve(id: &str, region: &str, account: &str) -> Result<ResolvedModel, ApiError> {
    emulator_model_id::resolve(id, region, account, &ApplicationProfiles::new())
}

/// What Bedrock answers for an id it cannot invoke: 400 ValidationException "The provided
/// model identifier is invalid." (not a 404).
fn assert_invalid_identifier(result: Result<ResolvedModel, ApiError>, what: &str) {
    let err = result.expect_err(what);
    assert_eq!(
        (err.code, err.message.as_str()),
        (ErrorCode::ValidationException, INVALID_MODEL_IDENTIFIER),
        "{what}"
    );
}

fn known(id: &str) -> BaseModel {
    BaseModel::Known(id.to_string())
}

#[test]
fn every_documented_profile_prefix_reaches_the_base_model() {
    for prefix in AWS_PROFILE_PREFIXES {
        for base in BASE_IDS {
            let id = format!("{prefix}{base}");
            assert_eq!(base_model(&id), known(base), "host router: {id}");
            assert!(
                !model_id::is_plain(&id),
                "host IAM hints: {id} is a profile"
            );
            let resolved = resolve(&id, "us-east-1", "123456789012")
                .unwrap_or_else(|e| panic!("emulator: {id}: {e:?}"));
            assert_eq!(resolved.base_id, *base, "emulator: {id}");
            assert!(resolved.via_profile, "emulator: {id} is a profile");

            let arn = format!("arn:aws:bedrock:us-east-1:123456789012:inference-profile/{id}");
            assert_eq!(base_model(&arn), known(base), "host router: {arn}");
            assert_eq!(resolve(&arn, "x", "y").unwrap().base_id, *base, "{arn}");
        }
    }
}

#[test]
fn plain_and_foundation_model_ids_agree() {
    for base in BASE_IDS {
        assert_eq!(base_model(base), known(base));
        assert!(model_id::is_plain(base), "{base}");
        let resolved = resolve(base, "us-east-1", "123456789012").unwrap();
        assert_eq!((resolved.base_id, resolved.via_profile), (*base, false));
        for partition in ["aws", "aws-us-gov", "aws-cn"] {
            let arn = format!("arn:{partition}:bedrock:us-east-1::foundation-model/{base}");
            assert_eq!(base_model(&arn), known(base), "{arn}");
            assert_eq!(resolve(&arn, "x", "y").unwrap().base_id, *base, "{arn}");
        }
    }
}

#[test]
fn arn_forms_aws_documents() {
    // custom-model/<base model id>/<suffix>: the host routes by the base model.
    assert_eq!(
        base_model(
            "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.titan-embed-text-v2:0/a1b2c3d4"
        ),
        known("amazon.titan-embed-text-v2:0")
    );
    // Forms whose resource id does not name a model: the host asks for a `codec` param, and the
    // emulator (which serves no such resources) does not guess a model either.
    for kind in [
        "application-inference-profile",
        "provisioned-model",
        "imported-model",
    ] {
        let arn = format!("arn:aws:bedrock:us-west-2:123456789012:{kind}/a1b2c3d4e5f6");
        assert_eq!(
            base_model(&arn),
            BaseModel::Opaque {
                resource_type: kind.to_string()
            },
            "{arn}"
        );
        let parsed = Arn::parse(&arn).unwrap();
        assert_eq!(
            (
                parsed.service,
                parsed.region,
                parsed.account,
                parsed.resource_type
            ),
            ("bedrock", "us-west-2", "123456789012", kind)
        );
        assert_invalid_identifier(resolve(&arn, "x", "y"), &arn);
    }
}

#[test]
fn look_alikes_are_not_profiles() {
    for id in ["xx.cohere.embed-v4:0", "usa.cohere.embed-v4:0", "us"] {
        assert_eq!(base_model(id), known(id), "{id}");
        assert!(model_id::is_plain(id), "{id}");
        assert_invalid_identifier(resolve(id, "r", "a"), id);
    }
}
