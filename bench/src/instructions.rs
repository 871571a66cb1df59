//! Host instructions per request, counted by `valgrind --tool=callgrind` (issue #16's
//! measure): instruction counts repeat run after run on these noisy machines, where wall time
//! swings ±30%.
//!
//! For each case the host runs twice under callgrind, serving `short` and then `long`
//! requests one after another (after the same warm-up), against the bench's emulator
//! process. The difference of the two totals divided by `long - short` is the steady-state
//! cost of one request: start-up, the compiled-codec cache load and shutdown cancel out. The
//! compiled-codec cache is warmed by a first run under valgrind (its CPU features differ from
//! the machine's, so a natively compiled cache entry does not match), so no Cranelift compile
//! is counted.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::host::{Case, Setup, cases};
use crate::procs::{self, Proc};
use crate::report::{Row, Verdict};

pub struct Plan {
    /// Requests before the counted ones, in both runs.
    pub warmup: usize,
    /// (short, long) runs for Titan-sized and Cohere-sized cases.
    pub titan: (usize, usize),
    pub cohere: (usize, usize),
}

impl Plan {
    pub fn new(quick: bool) -> Self {
        if quick {
            Self {
                warmup: 3,
                titan: (10, 60),
                cohere: (1, 4),
            }
        } else {
            Self {
                warmup: 5,
                titan: (20, 220),
                cohere: (2, 12),
            }
        }
    }
}

/// The targets, host instructions per request: (Titan 1 text, Cohere 96 texts).
const TARGET_TITAN: f64 = 0.9e6;
const TARGET_COHERE: f64 = 30e6;

/// Section 2 rows: instructions per request for every host case.
pub fn run(setup: &Setup, plan: &Plan) -> anyhow::Result<Vec<Row>> {
    let version = match Command::new("valgrind").arg("--version").output() {
        Ok(out) if out.status.success() => String::from_utf8_lossy(&out.stdout).trim().to_string(),
        _ => {
            return Ok(vec![Row::new(
                "2",
                "Host instructions per request (callgrind)",
                "not measured: valgrind is not installed (`apt-get install -y valgrind`)",
                "Titan ≤ 0.9 M, Cohere 96 texts ≤ 30 M",
                Verdict::Pending,
            )]);
        }
    };
    let cache = setup.dir.join("callgrind-codec-cache");
    let cache = cache.to_string_lossy().to_string();
    // Warm the compiled-codec cache for the CPU valgrind emulates.
    start_under_callgrind(setup, &cache, &setup.dir.join("callgrind-warm.out"), 0)?
        .stop_within(Duration::from_secs(300));

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let mut rows = Vec::new();
    for case in titan_base64().into_iter().chain(cases()?) {
        let cohere = case.name == "cohere";
        let (short, long) = if cohere { plan.cohere } else { plan.titan };
        eprintln!(
            "  instructions: {} ({short} and {long} requests under callgrind)",
            case.label
        );
        let count = |n: usize| -> anyhow::Result<u64> {
            let out = setup.dir.join(format!("callgrind-{}-{n}.out", case.name));
            let host = start_under_callgrind(setup, &cache, &out, n)?;
            let url = format!("{}/v1/embeddings", host.url);
            runtime.block_on(send(&url, &case, plan.warmup + n))?;
            host.stop_within(Duration::from_secs(120));
            total_instructions(&out)
        };
        let (a, b) = (count(short)?, count(long)?);
        if b <= a {
            bail!(
                "{}: {long} requests took {b} instructions, {short} took {a}: not a steady state \
                 (did the compiled-codec cache miss in one run?)",
                case.label
            );
        }
        let per_request = (b - a) as f64 / (long - short) as f64;
        let target = if cohere { TARGET_COHERE } else { TARGET_TITAN };
        rows.push(Row::new(
            "2",
            format!("Host instructions per request (callgrind), {}", case.label),
            format!(
                "**{:.2} M** ({} − {} instructions over {} − {short} requests; {version})",
                per_request / 1e6,
                b,
                a,
                long
            ),
            format!("≤ {:.1} M", target / 1e6),
            Verdict::of(per_request <= target),
        ));
    }
    Ok(rows)
}

/// Titan with `encoding_format: base64`, beside the cases section 2 measures.
fn titan_base64() -> Option<Case> {
    let mut case = cases().ok()?.into_iter().find(|c| c.name == "titan")?;
    let mut request: serde_json::Value = serde_json::from_slice(&case.request).ok()?;
    request["encoding_format"] = "base64".into();
    case.request = serde_json::to_vec(&request).ok()?;
    case.label = "Titan v2, 1 text, `encoding_format: base64`";
    Some(case)
}

fn start_under_callgrind(setup: &Setup, cache: &str, out: &Path, n: usize) -> anyhow::Result<Proc> {
    let empty = setup.dir.join("no-codecs");
    std::fs::create_dir_all(&empty)?;
    let mut cmd = Command::new("valgrind");
    cmd.current_dir(&setup.dir)
        .arg("--tool=callgrind")
        .arg(format!("--callgrind-out-file={}", out.display()))
        .arg(procs::sibling("bedrock-embed")?)
        .arg("run")
        .arg("--http")
        .arg("127.0.0.1:0")
        .arg("--spicepod")
        .arg(&setup.spicepod)
        .arg("--codecs")
        .arg(&empty)
        .env("BEDROCK_EMBED_CODEC_CACHE", cache);
    Proc::spawn(
        cmd,
        "bedrock-embed",
        &setup.dir.join(format!("callgrind-{n}.log")),
        Duration::from_secs(300),
    )
}

/// `n` requests, one after another, each checked to be a 200.
async fn send(url: &str, case: &Case, n: usize) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for i in 0..n {
        let resp = client
            .post(url)
            .header("content-type", "application/json")
            .body(case.request.clone())
            .send()
            .await
            .with_context(|| format!("request {i} of {}", case.label))?;
        let status = resp.status();
        let body = resp.bytes().await?;
        if status != 200 {
            bail!(
                "{}: {status}: {}",
                case.label,
                String::from_utf8_lossy(&body)
            );
        }
    }
    Ok(())
}

/// The `summary:` (or `totals:`) line of a callgrind output file: instructions executed.
fn total_instructions(out: &Path) -> anyhow::Result<u64> {
    let text = std::fs::read_to_string(out)
        .with_context(|| format!("reading {} (did the host exit cleanly?)", out.display()))?;
    parse_total(&text).with_context(|| format!("no summary line in {}", out.display()))
}

fn parse_total(text: &str) -> Option<u64> {
    text.lines()
        .find_map(|l| {
            l.strip_prefix("summary:")
                .or_else(|| l.strip_prefix("totals:"))
        })
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_callgrinds_total() {
        let text = "events: Ir\nfn=main\n1 5\nsummary: 123456\ntotals: 123456\n";
        assert_eq!(parse_total(text), Some(123456));
        assert_eq!(parse_total("events: Ir\n"), None);
    }
}
