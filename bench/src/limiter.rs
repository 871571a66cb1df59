//! Limiter precision and scale, through the library (`models::build` + `Embedder`, as the host
//! builds them) against an in-process emulator whose stats show what reached "Bedrock".

use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use arc_swap::ArcSwap;
use bedrock_embed::codec::{self, Registry, Sandbox, SandboxLimits};
use bedrock_embed::embedder::Embedder;
use bedrock_embed::models::{self, BuildOptions};
use bedrock_embed::spicepod::Spicepod;
use bedrock_emulator::{CallRecord, Config, Emulator, FaultConfig, StatsSnapshot};

use crate::report::{Row, Verdict};
use crate::stats::fmt_duration;

/// An emulator with a call log long enough for every call of a run.
pub(crate) async fn emulator(latency_ms: u64) -> anyhow::Result<Emulator> {
    let config = Config::new()
        .with_call_log_capacity(200_000)
        .with_request_log_capacity(16)
        .with_faults(FaultConfig {
            latency_ms,
            ..FaultConfig::default()
        });
    bedrock_emulator::spawn(config).await
}

/// An embedder serving `titan` and `cohere` from `emulator` with these limits.
async fn build_embedder(
    emulator: &Emulator,
    concurrency: u32,
    per_min: u32,
) -> anyhow::Result<Arc<Embedder>> {
    embedder_of(&crate::host::spicepod_text(
        &emulator.endpoint_url(),
        concurrency,
        per_min,
    ))
    .await
}

/// The embedder of a spicepod's text, with the built-in codecs, as the host builds it.
pub async fn embedder_of(text: &str) -> anyhow::Result<Arc<Embedder>> {
    let loaded = Spicepod::parse(
        text,
        Path::new("bench-spicepod.yaml"),
        &HashMap::<String, String>::new(),
    )
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let registry = tokio::task::spawn_blocking(|| {
        let sandbox = Sandbox::new(SandboxLimits::default())?;
        let codecs = codec::builtin::load_all(&sandbox)?
            .into_iter()
            .map(Arc::new)
            .collect();
        anyhow::Ok(Registry::new(codecs)?)
    })
    .await??;
    let (models, _warnings) = models::build(&loaded.spicepod, &registry, &BuildOptions::default())
        .await
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok(Arc::new(Embedder::new(
        models,
        Arc::new(ArcSwap::from_pointee(registry)),
    )))
}

/// `clients` tasks embedding one Titan text each, back to back, for `duration`.
async fn saturate(
    embedder: &Arc<Embedder>,
    clients: usize,
    duration: Duration,
) -> anyhow::Result<u64> {
    let deadline = Instant::now() + duration;
    let tasks: Vec<_> = (0..clients)
        .map(|i| {
            let embedder = embedder.clone();
            tokio::spawn(async move {
                let mut done = 0u64;
                let mut n = 0;
                while Instant::now() < deadline {
                    n += 1;
                    // The deadline may pass while waiting for the limiter: stop there.
                    let left = deadline.saturating_duration_since(Instant::now());
                    let call =
                        embedder.embed("titan", vec![crate::text(i * 100_000 + n, 12)], None);
                    match tokio::time::timeout(left, call).await {
                        Ok(result) => {
                            result.map_err(|e| anyhow::anyhow!("{e}"))?;
                            done += 1;
                        }
                        Err(_) => break,
                    }
                }
                anyhow::Ok(done)
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await??;
    }
    Ok(total)
}

/// Largest number of arrivals (µs) in any half-open window of `window`.
pub(crate) fn max_in_window(arrivals: &[u64], window: Duration) -> usize {
    let w = window.as_micros() as u64;
    let (mut best, mut lo) = (0, 0);
    for hi in 0..arrivals.len() {
        while arrivals[hi] - arrivals[lo] >= w {
            lo += 1;
        }
        best = best.max(hi - lo + 1);
    }
    best
}

pub(crate) fn arrivals(stats: &StatsSnapshot) -> Vec<u64> {
    let mut v: Vec<u64> = stats.recent_calls.iter().map(|c| c.arrived_us).collect();
    v.sort_unstable();
    v
}

/// Mean calls in flight between the first arrival and the last completion.
fn mean_in_flight(calls: &[CallRecord]) -> f64 {
    let start = calls.iter().map(|c| c.arrived_us).min().unwrap_or(0);
    let end = calls.iter().map(|c| c.finished_us).max().unwrap_or(0);
    let busy: u64 = calls
        .iter()
        .map(|c| c.finished_us.saturating_sub(c.arrived_us))
        .sum();
    if end > start {
        busy as f64 / (end - start) as f64
    } else {
        0.0
    }
}

pub struct Plan {
    pub rate_run: Duration,
    pub concurrency_run: Duration,
    pub clients: usize,
}

impl Plan {
    pub fn new(quick: bool) -> Self {
        Self {
            rate_run: Duration::from_secs(if quick { 8 } else { 25 }),
            concurrency_run: Duration::from_secs(if quick { 4 } else { 8 }),
            clients: 64,
        }
    }
}

/// Section 3: (a) 600/min and 8 in flight, the rate binding; (b) the same 8 in flight with
/// 50 ms of emulator latency and a rate that does not bind, so the concurrency cap binds.
pub async fn precision(plan: &Plan) -> anyhow::Result<Vec<Row>> {
    const PER_MIN: u32 = 600;
    const SLOTS: u32 = 8;
    let mut rows = Vec::new();

    // (a) The rate binds.
    let emu = emulator(0).await?;
    let embedder = build_embedder(&emu, SLOTS, PER_MIN).await?;
    emu.reset();
    let done = saturate(&embedder, plan.clients, plan.rate_run).await?;
    let stats = emu.stats();
    let t = arrivals(&stats);
    anyhow::ensure!(t.len() > 10, "only {} calls reached the emulator", t.len());
    let span_s = (t[t.len() - 1] - t[0]) as f64 / 1e6;
    let achieved_per_min = (t.len() - 1) as f64 / span_s * 60.0;
    let share = achieved_per_min / f64::from(PER_MIN);
    let per_sec_max = max_full_second(&stats);
    let max_1s = max_in_window(&t, Duration::from_secs(1));
    let max_10s = max_in_window(&t, Duration::from_secs(10));
    let allowed_1s = (PER_MIN / 60) as usize;
    let allowed_10s = (PER_MIN / 6) as usize;
    let never_above = per_sec_max <= allowed_1s + WINDOW_SLACK
        && max_1s <= allowed_1s + WINDOW_SLACK
        && max_10s <= allowed_10s + WINDOW_SLACK
        && stats.max_in_flight <= u64::from(SLOTS)
        && stats.rejected == 0;
    rows.push(Row::new(
        "3",
        format!(
            "Limiter, rate binding: {PER_MIN}/min, {SLOTS} in flight, {} clients, {:.0} s",
            plan.clients,
            plan.rate_run.as_secs_f64()
        ),
        format!(
            "**{:.1}%** of the allowed rate ({achieved_per_min:.1}/min over {span_s:.1} s, {} calls, {done} requests); \
             max per second (emulator's buckets) {per_sec_max}, max in any 1 s window {max_1s}, \
             in any 10 s window {max_10s} (allowed {allowed_1s} / {allowed_10s}, + {WINDOW_SLACK}); \
             max in flight {} of {SLOTS}",
            share * 100.0,
            t.len(),
            stats.max_in_flight,
        ),
        "never above; ≥ 97% of the allowed rate",
        Verdict::of(never_above && share >= 0.97),
    ));
    drop(embedder);
    emu.shutdown().await;

    // (b) The concurrency cap binds.
    let emu = emulator(50).await?;
    let embedder = build_embedder(&emu, SLOTS, 1_000_000).await?;
    emu.reset();
    let done = saturate(&embedder, plan.clients, plan.concurrency_run).await?;
    let stats = emu.stats();
    let mean = mean_in_flight(&stats.recent_calls);
    let share = mean / f64::from(SLOTS);
    rows.push(Row::new(
        "3",
        format!(
            "Limiter, concurrency binding: {SLOTS} in flight, rate unbound, 50 ms emulator latency, {} clients, {:.0} s",
            plan.clients,
            plan.concurrency_run.as_secs_f64()
        ),
        format!(
            "max in flight **{}** of {SLOTS}; mean in flight {mean:.2} (**{:.1}%**); {} calls, {done} requests",
            stats.max_in_flight,
            share * 100.0,
            stats.attempted,
        ),
        "never above; ≥ 97% of the slots used",
        Verdict::of(stats.max_in_flight <= u64::from(SLOTS) && share >= 0.97 && stats.rejected == 0),
    ));
    drop(embedder);
    emu.shutdown().await;
    Ok(rows)
}

/// How many calls over the quota's share a window may hold and still count as "never above":
/// one. A window may open just after one call and close just before another, and a limiter
/// that makes up a late timer wake-up lets one call out early; two over would be a burst. The
/// bench's own tolerance, not the limiter's setting: a limiter configured with a larger burst
/// must show here as missing the target.
const WINDOW_SLACK: usize = 1;

/// The most calls in one of the emulator's per-second buckets, the first and last (partial)
/// seconds excluded.
fn max_full_second(stats: &StatsSnapshot) -> usize {
    let n = stats.per_second.len();
    stats
        .per_second
        .iter()
        .enumerate()
        .filter(|(i, _)| *i > 0 && *i + 1 < n)
        .map(|(_, s)| s.attempted as usize)
        .max()
        .unwrap_or(0)
}

/// "Close to the bound" for the scale rows: the request takes at most 10% longer than the
/// limiter's spacing alone requires (the time to embed and return the vectors included).
const SCALE_SLACK: f64 = 1.10;

pub struct ScalePlan {
    pub texts: usize,
    pub titan_per_min: u32,
    pub titan_slots: u32,
}

impl ScalePlan {
    pub fn new(quick: bool) -> Self {
        Self {
            texts: if quick { 2_000 } else { 10_000 },
            titan_per_min: 60_000,
            titan_slots: 64,
        }
    }
}

/// Section 4: 10,000 texts in one request through Cohere (the spicepod defaults: 1,500/min,
/// 40 in flight) and through Titan (one call per text, at `titan_per_min`).
pub async fn scale(plan: &ScalePlan) -> anyhow::Result<Vec<Row>> {
    let texts: Vec<String> = (0..plan.texts)
        .map(|i| crate::text(1_000_000 + i, 20))
        .collect();
    let mut rows = Vec::new();

    for (name, per_min, slots, per_call) in [
        ("cohere", 1_500u32, 40u32, 96usize),
        ("titan", plan.titan_per_min, plan.titan_slots, 1usize),
    ] {
        let emu = emulator(0).await?;
        let embedder = build_embedder(&emu, slots, per_min).await?;
        emu.reset();
        let started = Instant::now();
        let embedded = embedder
            .embed(name, texts.clone(), None)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))
            .with_context(|| format!("{} texts through {name}", texts.len()))?;
        let took = started.elapsed();
        let stats = emu.stats();
        let calls = texts.len().div_ceil(per_call);
        let interval = Duration::from_secs(60) / per_min;
        // The limiter lets one call out every interval: the last leaves (calls - 1) intervals
        // after the first.
        let bound = interval * (calls as u32 - 1);
        let ratio = took.as_secs_f64() / bound.as_secs_f64().max(1e-9);
        // Not faster than the rate allows (one interval of early catch-up at most), and close
        // to it: within SCALE_SLACK of the bound.
        let floor = bound.saturating_sub(interval);
        let ok = embedded.vectors.len() == texts.len()
            && stats.attempted as usize == calls
            && took >= floor
            && ratio <= SCALE_SLACK;
        rows.push(Row::new(
            "4",
            format!(
                "Scale: {} texts through {name} in one request ({per_min}/min, {slots} in flight)",
                texts.len()
            ),
            format!(
                "{} calls seen by the emulator (⌈{}/{per_call}⌉ = {calls}), {} vectors; **{}** \
                 against the limiter's bound of {} (**{ratio:.2}×**); max in flight {}",
                stats.attempted,
                texts.len(),
                embedded.vectors.len(),
                fmt_duration(took),
                fmt_duration(bound),
                stats.max_in_flight,
            ),
            format!("calls = {calls}; time ≤ {SCALE_SLACK:.2}× the bound"),
            Verdict::of(ok),
        ));
        drop(embedder);
        emu.shutdown().await;
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_half_open() {
        let t: Vec<u64> = (0..20).map(|i| i * 100_000).collect();
        assert_eq!(max_in_window(&t, Duration::from_secs(1)), 10);
        assert_eq!(max_in_window(&t, Duration::from_millis(1_001)), 11);
    }
}
