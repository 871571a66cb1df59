//! `bedrock-embed check`: load and validate everything (spicepod, secrets, codec params,
//! credentials) without calling Bedrock.

use std::io::Write;

use super::setup::{self, SetupArgs};

/// `tokens_per_min_limit` and `tokens_per_day_limit` as `check` prints them.
fn token_limits(limits: &crate::spicepod::LimitParams) -> String {
    match (limits.tokens_per_min_limit, limits.tokens_per_day_limit) {
        (None, None) => "no token limit".to_string(),
        (m, d) => {
            let mut parts = Vec::new();
            if let Some(m) = m {
                parts.push(format!("{m} tokens/min"));
            }
            if let Some(d) = d {
                parts.push(format!("{d} tokens/day"));
            }
            parts.join(", ")
        }
    }
}

/// Exit status 0 when everything loads; an error listing every problem otherwise.
pub async fn run(args: SetupArgs, out: &mut (impl Write + Send)) -> anyhow::Result<()> {
    let setup = setup::load(&args).await?;
    for warning in &setup.warnings {
        writeln!(out, "warning: {warning}")?;
    }
    let mut failed = false;
    for failure in &setup.catalog.failures() {
        failed = true;
        writeln!(
            out,
            "error: codec {}: {}",
            failure.path.display(),
            failure.reason
        )?;
    }
    for model in &setup.models {
        let limits = model.limiter.limits();
        writeln!(
            out,
            "ok: {} → bedrock:{} via codec {} in {} ({}), credentials from {}, {} in flight, {}/min, {}, limiter_max_wait {}{}",
            model.name,
            model.model_id,
            model.codec_at_load,
            model.aws.region,
            model.aws.endpoint_display(),
            model.aws.credentials_source,
            limits.max_concurrent_invocations,
            limits.requests_per_min_limit,
            token_limits(&limits),
            humantime::format_duration(limits.max_wait),
            if model.limiter.is_shared() {
                " (shared through runtime.redis)"
            } else {
                ""
            },
        )?;
    }
    if failed {
        anyhow::bail!("some codec files in the codecs directory did not load (see above)");
    }
    writeln!(
        out,
        "{}: {} model(s) ready",
        setup.spicepod.path.display(),
        setup.models.len()
    )?;
    Ok(())
}
