//! Host params of one entry: secrets resolved, AWS settings, limits and codec pin checked,
//! the rest handed on as model params.

use super::error::{EntryRef, Problem, ProblemKind, q};
use super::params::{
    self, CREDENTIAL_PARAMS, HOST_PARAMS, MAX_CONCURRENT_RANGE, REQUESTS_PER_MIN_RANGE,
    TOKENS_PER_DAY_RANGE, TOKENS_PER_MIN_RANGE, did_you_mean,
};
use super::{AwsParams, CodecChoice, Cx, LimitParams};
use crate::secrets::{self, Secret};

impl Cx<'_> {
    /// Splits and checks params. `None` when any host param is invalid.
    #[allow(clippy::type_complexity)]
    pub(super) fn params(
        &mut self,
        er: &EntryRef,
        params: Vec<(String, String, Option<usize>)>,
    ) -> Option<(AwsParams, LimitParams, CodecChoice, Vec<(String, String)>)> {
        let before = self.problems.len();
        let mut aws = AwsParams::default();
        let mut limits = LimitParams::default();
        let mut codec = CodecChoice::default();
        let mut model_params = Vec::new();

        for (key, raw, line) in &params {
            let key = key.as_str();
            let line = *line;
            let pkey = format!("params.{key}");
            let is_cred = CREDENTIAL_PARAMS.contains(&key);
            let problem = |kind, msg: String| {
                let p = Problem::new(kind, msg).at(line).entry(er).key(pkey.clone());
                if is_cred { p } else { p.value(raw.clone()) }
            };

            // Resolve secrets first (all params may use them).
            let resolved = match secrets::resolve(raw, self.secrets) {
                Ok(r) => r,
                Err(errors) => {
                    for e in errors {
                        let kind = ProblemKind::from(&e);
                        self.err(problem(kind, e.to_string()));
                    }
                    continue;
                }
            };
            let from_ref = !resolved.refs.is_empty();
            // How messages name the value: as written, plus where references came from.
            let shown = if from_ref {
                let refs: Vec<String> = resolved.refs.iter().map(ToString::to_string).collect();
                format!("{} (resolved from {})", q(raw), refs.join(", "))
            } else {
                q(raw)
            };

            if !HOST_PARAMS.contains(&key) {
                if key.starts_with("aws_") {
                    let hint = match did_you_mean(key, HOST_PARAMS.iter().copied()) {
                        Some(s) => format!("did you mean `{s}`?"),
                        None => format!(
                            "AWS params are {}",
                            HOST_PARAMS
                                .iter()
                                .filter(|p| p.starts_with("aws_"))
                                .copied()
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    };
                    self.err(problem(
                        ProblemKind::UnknownAwsParam,
                        format!("unknown AWS param: {hint}"),
                    ));
                    continue;
                }
                // Not a host param: the codec's param list decides (`unknown_params`), with a
                // did-you-mean among its params and these.
                model_params.push((key.to_string(), resolved.value));
                continue;
            }

            let value = resolved.value;
            if is_cred {
                let origin = if from_ref {
                    let refs: Vec<String> = resolved.refs.iter().map(ToString::to_string).collect();
                    format!("param {key} ({})", refs.join(", "))
                } else {
                    format!("param {key} (written in {})", self.path.display())
                };
                if value.trim().is_empty() {
                    self.err(problem(
                        ProblemKind::InvalidCredential,
                        "is empty: set it, or remove it to use the default credential chain".into(),
                    ));
                    continue;
                }
                if value.chars().any(|c| c.is_whitespace() || c.is_control()) {
                    let msg = if from_ref {
                        format!(
                            "the value of {shown} contains spaces or line breaks: fix the secret"
                        )
                    } else {
                        "contains spaces or line breaks: fix the value".into()
                    };
                    self.err(problem(ProblemKind::InvalidCredential, msg));
                    continue;
                }
                if !from_ref {
                    let var = key.to_ascii_uppercase();
                    self.warn(
                        Problem::new(
                            ProblemKind::Notice,
                            format!("is written in the file: keep credentials out of it with `${{ secrets:{var} }}`"),
                        )
                        .at(line)
                        .entry(er)
                        .key(pkey.clone()),
                    );
                }
                let secret = Some(Secret::new(value, origin));
                match key {
                    "aws_access_key_id" => aws.access_key_id = secret,
                    "aws_secret_access_key" => aws.secret_access_key = secret,
                    _ => aws.session_token = secret,
                }
                continue;
            }

            match key {
                "aws_region" => match params::check_region(&value) {
                    Ok(()) => aws.region = Some(value),
                    Err(hint) => {
                        let hint = hint.filter(|_| !from_ref).map(|h| format!(" ({h})")).unwrap_or_default();
                        self.err(problem(
                            ProblemKind::InvalidRegion,
                            format!("{shown} is not an AWS region code: use one such as us-east-1, us-west-2, eu-central-1{hint}"),
                        ));
                    }
                },
                "aws_profile" | "codec" | "base_model" => {
                    if value.trim().is_empty() {
                        let fix = match key {
                            "codec" => "name a codec, or remove it",
                            "base_model" => "name the model the ARN runs, e.g. amazon.titan-embed-text-v2:0, or remove it",
                            _ => "name a profile, or remove it",
                        };
                        self.err(problem(ProblemKind::EmptyParam, format!("is empty: {fix}")));
                    } else if key == "codec" {
                        codec.codec = Some(value);
                    } else if key == "base_model" {
                        codec.base_model = Some(value.trim().to_string());
                    } else {
                        aws.profile = Some(value);
                    }
                }
                "aws_endpoint_url" => match params::check_endpoint(value.trim()) {
                    Ok(()) => aws.endpoint_url = Some(value.trim().to_string()),
                    Err(why) => self.err(problem(
                        ProblemKind::InvalidEndpoint,
                        format!(
                            "{shown} {why}: write an http(s) URL such as https://bedrock-runtime.us-east-1.amazonaws.com or http://127.0.0.1:4566"
                        ),
                    )),
                },
                "max_concurrent_invocations" | "requests_per_min_limit" => {
                    let range = if key == "max_concurrent_invocations" {
                        MAX_CONCURRENT_RANGE
                    } else {
                        REQUESTS_PER_MIN_RANGE
                    };
                    match params::parse_limit(&value, range) {
                        Ok(n) if key == "max_concurrent_invocations" => limits.max_concurrent_invocations = n,
                        Ok(n) => limits.requests_per_min_limit = n,
                        Err(why) => self.err(problem(
                            ProblemKind::InvalidLimit,
                            format!("{shown} {why}: use a whole number from {} to {}", range.0, range.1),
                        )),
                    }
                }
                "tokens_per_min_limit" | "tokens_per_day_limit" => {
                    let range = if key == "tokens_per_min_limit" {
                        TOKENS_PER_MIN_RANGE
                    } else {
                        TOKENS_PER_DAY_RANGE
                    };
                    match params::parse_whole(&value, range) {
                        Ok(n) if key == "tokens_per_min_limit" => limits.tokens_per_min_limit = Some(n),
                        Ok(n) => limits.tokens_per_day_limit = Some(n),
                        Err(why) => self.err(problem(
                            ProblemKind::InvalidLimit,
                            format!(
                                "{shown} {why}: use a whole number of tokens from {} to {}, or remove it for no token limit",
                                range.0, range.1
                            ),
                        )),
                    }
                }
                "limiter_max_wait" => match params::parse_max_wait(&value) {
                    Ok(d) => limits.max_wait = d,
                    Err(why) => self.err(problem(
                        ProblemKind::InvalidLimit,
                        format!("{shown} {why}: write a duration from 0s to 1h, such as 30s or 500ms"),
                    )),
                },
                _ => {}
            }
        }

        // Credentials come as a set.
        let has = |k: &str| params.iter().any(|(key, ..)| key == k);
        let line_of = |k: &str| {
            params
                .iter()
                .find(|(key, ..)| key == k)
                .and_then(|(.., l)| *l)
        };
        let (id, secret, token) = (
            has("aws_access_key_id"),
            has("aws_secret_access_key"),
            has("aws_session_token"),
        );
        if id != secret {
            let (set, unset) = if id {
                ("aws_access_key_id", "aws_secret_access_key")
            } else {
                ("aws_secret_access_key", "aws_access_key_id")
            };
            let p = Problem::new(
                ProblemKind::IncompleteCredentials,
                format!("is set but `{unset}` is not: set both, or neither to use aws_profile or the default credential chain"),
            )
            .at(line_of(set))
            .entry(er)
            .key(format!("params.{set}"));
            self.err(p);
        } else if token && !id {
            let p = Problem::new(
                ProblemKind::IncompleteCredentials,
                "needs `aws_access_key_id` and `aws_secret_access_key` too: set all three, or remove it",
            )
            .at(line_of("aws_session_token"))
            .entry(er)
            .key("params.aws_session_token");
            self.err(p);
        }
        if id && secret && has("aws_profile") {
            let line = line_of("aws_profile");
            self.warn(
                Problem::new(
                    ProblemKind::Notice,
                    "is ignored: explicit aws_access_key_id/aws_secret_access_key win",
                )
                .at(line)
                .entry(er)
                .key("params.aws_profile"),
            );
        }

        (self.problems.len() == before).then_some((aws, limits, codec, model_params))
    }
}
