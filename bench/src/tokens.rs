//! Token-limiter precision: the host at `tokens_per_min_limit` L against an emulator that
//! throttles past L input tokens in any sliding 60 s window, saturated with long and short
//! texts for longer than one window. What the emulator accepted is sampled every
//! [`SAMPLE`], so the figures are the tokens it saw per window, not the host's own count.

use std::time::{Duration, Instant};

use anyhow::Context as _;
use bedrock_emulator::Config;

use crate::report::{Row, Verdict};

const TITAN: &str = "amazon.titan-embed-text-v2:0";
const LIMIT: u64 = 20_000;
const WINDOW: Duration = Duration::from_secs(60);
const SAMPLE: Duration = Duration::from_millis(100);

pub struct Plan {
    pub run: Duration,
    pub clients: usize,
}

impl Plan {
    pub fn new(quick: bool) -> Self {
        Self {
            // Two and a half windows (quick: just over one), so the budget refills under load.
            run: Duration::from_secs(if quick { 75 } else { 150 }),
            clients: 16,
        }
    }
}

/// Text `n`: every third about 1.5 KB of prose, the others one sentence.
fn text(n: usize) -> String {
    let words = if n.is_multiple_of(3) { 250 } else { 12 };
    crate::text(n, words)
}

/// The largest rise of the cumulative `samples` `(t, tokens)` over any `window`.
fn max_in_window(samples: &[(Duration, u64)], window: Duration) -> u64 {
    let mut best = 0;
    let mut lo = 0;
    for hi in 0..samples.len() {
        while samples[hi].0 - samples[lo].0 > window {
            lo += 1;
        }
        best = best.max(samples[hi].1 - samples[lo].1);
    }
    best
}

/// Section 3, token rows.
pub async fn precision(plan: &Plan) -> anyhow::Result<Vec<Row>> {
    let emu = bedrock_emulator::spawn(Config::new().with_tokens_per_minute(LIMIT)).await?;
    let spicepod = format!(
        "version: v1\nkind: Spicepod\nname: bench\nembeddings:\n  - from: bedrock:{TITAN}\n    name: titan\n    params:\n      \
         aws_endpoint_url: {}\n      aws_access_key_id: {}\n      aws_secret_access_key: {}\n      \
         max_concurrent_invocations: \"16\"\n      requests_per_min_limit: \"60000\"\n      tokens_per_min_limit: \"{LIMIT}\"\n",
        emu.endpoint_url(),
        crate::ACCESS_KEY_ID,
        crate::SECRET_ACCESS_KEY,
    );
    let embedder = crate::limiter::embedder_of(&spicepod).await?;
    emu.reset();

    let started = Instant::now();
    let deadline = started + plan.run;
    let clients: Vec<_> = (0..plan.clients)
        .map(|c| {
            let embedder = embedder.clone();
            tokio::spawn(async move {
                let mut n = c;
                while Instant::now() < deadline {
                    n += 1000;
                    let left = deadline.saturating_duration_since(Instant::now());
                    match tokio::time::timeout(left, embedder.embed("titan", vec![text(n)], None))
                        .await
                    {
                        Ok(r) => {
                            r.map_err(|e| anyhow::anyhow!("{e}"))?;
                        }
                        Err(_) => break,
                    }
                }
                anyhow::Ok(())
            })
        })
        .collect();
    let used =
        |emu: &bedrock_emulator::Emulator| emu.stats().model(TITAN).map_or(0, |m| m.input_tokens);
    let mut samples = vec![(Duration::ZERO, 0u64)];
    while Instant::now() < deadline {
        tokio::time::sleep(SAMPLE).await;
        samples.push((started.elapsed(), used(&emu)));
    }
    for c in clients {
        c.await.context("client task")??;
    }
    let stats = emu.stats();
    let titan = stats
        .model(TITAN)
        .context("no calls reached the emulator")?;
    let throttles = titan
        .errors
        .get("ThrottlingException")
        .copied()
        .unwrap_or(0);
    let most = max_in_window(&samples, WINDOW);
    let total = titan.input_tokens;
    let peak = most as f64 / LIMIT as f64;
    emu.shutdown().await;
    Ok(vec![Row::new(
        "3",
        format!(
            "Token limiter: tokens_per_min_limit {LIMIT} against the emulator's {LIMIT}/60 s \
             window, {} clients, texts of ~80 B and ~1.6 KB, {:.0} s",
            plan.clients,
            plan.run.as_secs_f64()
        ),
        format!(
            "most in any 60 s window **{most}** tokens (**{:.1}%** of the limit; sampled every {} ms); \
             {total} tokens in {} calls over the run (a full window refills whole 61–62 s after \
             it filled); ThrottlingException: {throttles}",
            peak * 100.0,
            SAMPLE.as_millis(),
            titan.accepted,
        ),
        "0 throttles; most in a window ≤ the limit and ≥ 90% of it",
        Verdict::of(throttles == 0 && most <= LIMIT && peak >= 0.90),
    )])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_the_largest_rise_over_any_60_s() {
        let s = |t: u64, n: u64| (Duration::from_secs(t), n);
        let samples = [s(0, 0), s(10, 100), s(50, 150), s(70, 400), s(140, 500)];
        // 10 → 70 s: 300; 70 → 140 s is 70 s apart, so 50 → 70: 250 and 70 → 140 too long.
        assert_eq!(max_in_window(&samples, WINDOW), 300);
    }
}
