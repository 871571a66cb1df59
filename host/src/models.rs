//! Turns spicepod entries into served models: codec route and param check, AWS client,
//! limiter. Everything a model needs is decided here, at load time, and every problem of
//! every model is reported together.

use std::sync::Arc;

use crate::aws::{self, AwsOptions, ModelAws, RetryBudget};
use crate::codec::{EmbeddingType, Param, Registry, embedding_type};
use crate::limiter::Limiter;
use crate::redis_link::RedisLink;
use crate::secrets::Secret;
use crate::spicepod::{AwsParams, EmbeddingModel, Spicepod, unknown_params};

/// A served model.
#[derive(Debug)]
pub struct Model {
    /// The name clients ask for.
    pub name: String,
    /// The model id as written in the spicepod: sent to Bedrock unchanged.
    pub model_id: String,
    /// The id codecs are routed by and called with (`base_model`, else `model_id`).
    pub codec_model_id: String,
    pub codec_pin: Option<String>,
    /// The model params handed to the codec (no aws_* or limiter keys, no credentials).
    pub params: Arc<[Param]>,
    /// The embedding type a request gets when it names none: the `embedding_type` param,
    /// else float. Read once here, not per request.
    pub embedding_type: EmbeddingType,
    pub aws: ModelAws,
    pub limiter: Limiter,
    pub retry: RetryBudget,
    /// The codec that served the model at load (for the start-up log).
    pub codec_at_load: String,
}

/// How models are built.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    pub aws: AwsOptions,
    pub retry: RetryBudget,
    /// Resolve credentials now (one round to the chain), so `run` and `check` fail early.
    pub check_credentials: bool,
    /// `--offline`: point every model at the local emulator, with its credentials.
    pub offline: Option<OfflineTarget>,
    /// `runtime.redis`: limiters share their budgets through it.
    pub redis: Option<RedisLink>,
}

/// Where `--offline` sends every model: the emulator's endpoint and the keys it accepts.
#[derive(Debug, Clone)]
pub struct OfflineTarget {
    pub endpoint_url: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl OfflineTarget {
    /// The model's AWS params with the emulator's endpoint and keys in place of whatever the
    /// spicepod says (profiles and session tokens do not apply to the emulator).
    fn apply(&self, aws: &AwsParams) -> AwsParams {
        let origin = "the bedrock emulator (--offline)";
        AwsParams {
            region: aws.region.clone(),
            profile: None,
            access_key_id: Some(Secret::new(&self.access_key_id, origin)),
            secret_access_key: Some(Secret::new(&self.secret_access_key, origin)),
            session_token: None,
            endpoint_url: Some(self.endpoint_url.clone()),
        }
    }
}

/// Everything wrong with a spicepod's models, one line per problem.
#[derive(Debug, thiserror::Error)]
#[error("{}", .problems.join("\n"))]
pub struct ModelsError {
    pub problems: Vec<String>,
}

/// Builds every model of the spicepod, or reports every problem (an unknown param is one:
/// [`unknown_params`]). Warnings are returned beside the models (none are produced here
/// today; the slot keeps callers unchanged).
pub async fn build(
    spicepod: &Spicepod,
    registry: &Registry,
    options: &BuildOptions,
) -> Result<(Vec<Model>, Vec<String>), ModelsError> {
    let mut models = Vec::new();
    let mut problems = Vec::new();
    let warnings = Vec::new();
    for entry in &spicepod.embeddings {
        let at = format!(
            "{}:{}: embeddings {:?}",
            spicepod.path.display(),
            entry.line,
            entry.name
        );
        match build_one(entry, registry, options).await {
            Ok(model) => models.push(model),
            Err(errs) => problems.extend(errs.into_iter().map(|e| format!("{at}: {e}"))),
        }
    }
    if problems.is_empty() {
        Ok((models, warnings))
    } else {
        Err(ModelsError { problems })
    }
}

async fn build_one(
    entry: &EmbeddingModel,
    registry: &Registry,
    options: &BuildOptions,
) -> Result<Model, Vec<String>> {
    let mut problems = Vec::new();
    let params: Arc<[Param]> = entry
        .params
        .iter()
        .map(|(name, value)| Param {
            name: name.clone(),
            value: value.clone(),
        })
        .collect();

    let codec_name = match registry.route(entry.codec_model_id(), entry.codec.as_deref()) {
        Ok(route) => {
            if let Err(err) = route.codec.check(&route.base_model_id, &params) {
                problems.push(format!("params: {err}"));
            }
            let known: Vec<&str> = route
                .codec
                .info()
                .params
                .iter()
                .map(|p| p.name.as_str())
                .collect();
            problems.extend(unknown_params(entry, &known));
            route.codec.name().to_string()
        }
        Err(err) => {
            problems.push(err.to_string());
            String::new()
        }
    };

    let default_type = match params.iter().find(|p| p.name == embedding_type::PARAM) {
        None => EmbeddingType::Float,
        // The codec's `check` refuses a value it does not offer; one it accepts must still be
        // a type the host can write out.
        Some(p) => embedding_type::parse(p.value.trim()).unwrap_or_else(|| {
            if problems.is_empty() {
                problems.push(format!(
                    "param {}: {:?} is not an embedding type; use one of {}",
                    embedding_type::PARAM,
                    p.value,
                    embedding_type::ALL
                        .map(embedding_type::type_name)
                        .join(", ")
                ));
            }
            EmbeddingType::Float
        }),
    };

    let aws_params = match &options.offline {
        Some(offline) => offline.apply(&entry.aws),
        None => entry.aws.clone(),
    };
    let aws = match aws::load(&aws_params, &options.aws).await {
        Ok(aws) => Some(aws),
        Err(err) => {
            problems.push(err.to_string());
            None
        }
    };
    if let (Some(aws), true) = (&aws, options.check_credentials)
        && let Err(err) = aws::check_credentials(aws).await
    {
        problems.push(err.to_string());
    }

    match aws {
        Some(aws) if problems.is_empty() => Ok(Model {
            // Keyed by region and model id as sent: every replica calling the same model in
            // the same region shares one budget, as the AWS quota is.
            limiter: match &options.redis {
                Some(redis) => Limiter::shared(
                    entry.limits,
                    redis.clone(),
                    &format!("{}/{}", aws.region, entry.model_id),
                ),
                None => Limiter::new(entry.limits),
            },
            name: entry.name.clone(),
            model_id: entry.model_id.clone(),
            codec_model_id: entry.codec_model_id().to_string(),
            codec_pin: entry.codec.clone(),
            params,
            embedding_type: default_type,
            aws,
            retry: options.retry,
            codec_at_load: codec_name,
        }),
        _ => Err(problems),
    }
}
