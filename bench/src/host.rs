//! The host tax: `POST /v1/embeddings` through `bedrock-embed run` (load from `wrk`) against
//! direct aws-sdk `InvokeModel` calls (load from [`crate::direct`]), both to one
//! `bedrock-emulator` process, at the same concurrency, with the model limits set so high they
//! never bind. Then the host's peak RSS after 256 concurrent clients.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::procs::{self, CpuPerRequest, CpuSpan, Proc};
use crate::report::{Row, Verdict};
use crate::stats::{LoadStats, fmt_duration};

/// Limits that never bind: the spicepod's maxima.
pub const HIGH_CONCURRENCY: u32 = 10_000;
pub const HIGH_RATE_PER_MIN: u32 = 1_000_000;

pub struct Plan {
    pub concurrency: usize,
    pub warmup: Duration,
    pub duration: Duration,
    pub rss_clients: usize,
    pub rss_duration: Duration,
    /// wrk threads (the direct driver uses a tokio runtime with as many workers).
    pub threads: usize,
}

impl Plan {
    pub fn new(quick: bool) -> Self {
        let threads = std::thread::available_parallelism()
            .map_or(2, |n| n.get())
            .min(4);
        if quick {
            Self {
                concurrency: 16,
                warmup: Duration::from_secs(1),
                duration: Duration::from_secs(3),
                rss_clients: 256,
                rss_duration: Duration::from_secs(3),
                threads,
            }
        } else {
            Self {
                concurrency: 16,
                warmup: Duration::from_secs(2),
                duration: Duration::from_secs(10),
                rss_clients: 256,
                rss_duration: Duration::from_secs(8),
                threads,
            }
        }
    }
}

/// One model of the comparison.
pub struct Case {
    pub label: &'static str,
    /// The spicepod name (the `model` of the OpenAI request).
    pub name: &'static str,
    pub model_id: &'static str,
    /// The OpenAI request the host gets.
    pub request: Vec<u8>,
    /// The InvokeModel body the host's codec makes of it: what the direct side sends.
    pub invoke_body: Vec<u8>,
    /// Also compare with a direct side that decodes the answers natively (what an
    /// application must do to use the vectors), with this.
    pub decode_too: Option<crate::direct::Decode>,
}

pub fn cases() -> anyhow::Result<Vec<Case>> {
    let titan_text = crate::text(7, 60);
    let cohere_texts: Vec<String> = (0..96).map(|i| crate::text(100 + i, 40)).collect();
    let titan_body = titan_codec::wire::encode(
        "amazon.titan-embed-text-v2:0",
        &[
            codec_kit::Param::new("dimensions", "1024"),
            codec_kit::Param::new("normalize", "true"),
        ],
        Default::default(),
        std::slice::from_ref(&titan_text),
    )
    .map_err(|e| anyhow::anyhow!("{e:?}"))?
    .remove(0)
    .body;
    let cohere_body = cohere_codec::wire::encode(
        "cohere.embed-english-v3",
        &[
            codec_kit::Param::new("input_type", "search_document"),
            codec_kit::Param::new("truncate", "END"),
        ],
        Default::default(),
        &cohere_texts,
    )
    .map_err(|e| anyhow::anyhow!("{e:?}"))?
    .remove(0)
    .body;
    Ok(vec![
        Case {
            label: "Titan v2, 1 text",
            name: "titan",
            model_id: "amazon.titan-embed-text-v2:0",
            request: serde_json::to_vec(
                &serde_json::json!({"model": "titan", "input": titan_text}),
            )?,
            invoke_body: titan_body,
            decode_too: Some(decode_titan),
        },
        Case {
            label: "Cohere v3, 96 texts",
            name: "cohere",
            model_id: "cohere.embed-english-v3",
            request: serde_json::to_vec(
                &serde_json::json!({"model": "cohere", "input": cohere_texts}),
            )?,
            invoke_body: cohere_body.clone(),
            decode_too: Some(decode_cohere),
        },
        // What the official `openai` client asks for by default.
        Case {
            label: "Cohere v3, 96 texts, `encoding_format: base64`",
            name: "cohere",
            model_id: "cohere.embed-english-v3",
            request: serde_json::to_vec(&serde_json::json!({
                "model": "cohere", "input": cohere_texts, "encoding_format": "base64"
            }))?,
            invoke_body: cohere_body,
            decode_too: None,
        },
    ])
}

/// A spicepod serving both models from the emulator at `endpoint`, limits out of the way.
pub fn spicepod_text(endpoint: &str, concurrency: u32, per_min: u32) -> String {
    let params = |extra: &str| {
        format!(
            "    params:\n      aws_region: us-east-1\n      aws_endpoint_url: {endpoint}\n      \
             aws_access_key_id: {}\n      aws_secret_access_key: {}\n      \
             max_concurrent_invocations: {concurrency}\n      requests_per_min_limit: {per_min}\n{extra}",
            crate::ACCESS_KEY_ID,
            crate::SECRET_ACCESS_KEY,
        )
    };
    format!(
        "version: v1\nkind: Spicepod\nname: bench\nembeddings:\n  - from: bedrock:amazon.titan-embed-text-v2:0\n    name: titan\n{}  - from: bedrock:cohere.embed-english-v3\n    name: cohere\n{}",
        params("      dimensions: \"1024\"\n      normalize: true\n"),
        params("      input_type: search_document\n      truncate: END\n"),
    )
}

/// Starts `bedrock-embed run` on an ephemeral port with `spicepod`, in `dir` (so no ./codecs),
/// codecs from `codecs_dir` (an empty directory unless given), the compiled-codec cache at
/// `cache` (`off` to disable).
pub fn start_host(
    dir: &Path,
    spicepod: &Path,
    codecs_dir: Option<&Path>,
    cache: &str,
    log_name: &str,
) -> anyhow::Result<Proc> {
    let empty = dir.join("no-codecs");
    std::fs::create_dir_all(&empty)?;
    let mut cmd = Command::new(procs::sibling("bedrock-embed")?);
    cmd.current_dir(dir)
        .arg("run")
        .arg("--http")
        .arg("127.0.0.1:0")
        .arg("--spicepod")
        .arg(spicepod)
        .arg("--codecs")
        .arg(codecs_dir.unwrap_or(&empty))
        .env("BEDROCK_EMBED_CODEC_CACHE", cache);
    Proc::spawn(
        cmd,
        "bedrock-embed",
        &dir.join(log_name),
        Duration::from_secs(120),
    )
}

pub struct Setup {
    pub dir: PathBuf,
    pub emulator: Proc,
    pub spicepod: PathBuf,
}

/// The emulator process and a spicepod for it, in `dir`.
pub fn setup(dir: &Path) -> anyhow::Result<Setup> {
    let emulator = procs::emulator(&dir.join("emulator.log"))?;
    let spicepod = dir.join("spicepod.yaml");
    std::fs::write(
        &spicepod,
        spicepod_text(&emulator.url, HIGH_CONCURRENCY, HIGH_RATE_PER_MIN),
    )?;
    Ok(Setup {
        dir: dir.to_path_buf(),
        emulator,
        spicepod,
    })
}

/// Host vs direct for each case, then the RSS run. Rows for section 2 and the RSS row of 5.
pub fn run(setup: &Setup, plan: &Plan) -> anyhow::Result<(Vec<Row>, Vec<Row>)> {
    let host = start_host(
        &setup.dir,
        &setup.spicepod,
        None,
        &setup.dir.join("codec-cache").to_string_lossy(),
        "host.log",
    )?;
    let url = format!("{}/v1/embeddings", host.url);
    let idle_rss = host.rss_bytes().unwrap_or(0);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(plan.threads)
        .enable_all()
        .build()?;
    let client = direct_client(&runtime, &setup.emulator.url);

    let mut rows = Vec::new();
    for case in cases()? {
        // Check once that both sides get a real answer before measuring anything.
        smoke(&runtime, &url, &case)?;
        eprintln!(
            "  host tax: {} through the host (wrk, c={})",
            case.label, plan.concurrency
        );
        crate::wrk::run(
            &setup.dir,
            &url,
            &case.request,
            plan.concurrency,
            plan.threads,
            plan.warmup,
        )?;
        let span = CpuSpan::start(host.pid(), setup.emulator.pid())?;
        let via_host = crate::wrk::run(
            &setup.dir,
            &url,
            &case.request,
            plan.concurrency,
            plan.threads,
            plan.duration,
        )?;
        let host_cpu = span.per_request(via_host.requests + via_host.errors)?;
        eprintln!(
            "  host tax: {} direct (aws-sdk, c={})",
            case.label, plan.concurrency
        );
        let direct_run = |decode| -> anyhow::Result<(LoadStats, CpuPerRequest)> {
            let drive = |duration| {
                runtime.block_on(crate::direct::run(
                    &client,
                    case.model_id,
                    &case.invoke_body,
                    plan.concurrency,
                    Duration::ZERO,
                    duration,
                    decode,
                ))
            };
            drive(plan.warmup);
            let span = CpuSpan::start(std::process::id(), setup.emulator.pid())?;
            let stats = drive(plan.duration);
            Ok((stats, span.per_request(stats.requests + stats.errors)?))
        };
        let direct = direct_run(None)?;
        let via_host = (via_host, host_cpu);
        rows.push(host_row(&case, plan.concurrency, &via_host, &direct, ""));
        if let Some(decode) = case.decode_too {
            eprintln!("  host tax: {} direct + native decode", case.label);
            let decoded = direct_run(Some(decode))?;
            // No target: this direct side does more work than the one the target is set
            // against, so meeting 0.8× here would not meet it.
            let mut row = host_row(
                &case,
                plan.concurrency,
                &via_host,
                &decoded,
                ", direct side also decoding the vectors natively",
            );
            row.target = String::new();
            row.verdict = Verdict::Info;
            rows.push(row);
        }
    }

    // Peak RSS: 256 clients on Titan, then on Cohere (~1 MB answers), then VmHWM.
    let mut rss_rows = Vec::new();
    let mut detail = Vec::new();
    for case in cases()?.into_iter().take(2) {
        eprintln!(
            "  peak RSS: {} with {} clients",
            case.label, plan.rss_clients
        );
        let stats = crate::wrk::run(
            &setup.dir,
            &url,
            &case.request,
            plan.rss_clients,
            plan.threads,
            plan.rss_duration,
        )?;
        detail.push(format!(
            "{}: {:.0} req/s, p99 {}, {} errors; VmHWM after it {}",
            case.label,
            stats.per_second(),
            fmt_duration(stats.p99),
            stats.errors,
            mib(host.peak_rss_bytes()?)
        ));
    }
    rss_rows.push(Row::info(
        "5",
        format!(
            "Peak RSS of the host at {} concurrent clients (VmHWM)",
            plan.rss_clients
        ),
        format!(
            "**{}** (idle after start-up: {}). {}",
            mib(host.peak_rss_bytes()?),
            mib(idle_rss),
            detail.join("; ")
        ),
    ));
    host.stop();
    Ok((rows, rss_rows))
}

fn direct_client(
    runtime: &tokio::runtime::Runtime,
    endpoint: &str,
) -> aws_sdk_bedrockruntime::Client {
    let _guard = runtime.enter();
    crate::direct::client(endpoint)
}

fn smoke(runtime: &tokio::runtime::Runtime, url: &str, case: &Case) -> anyhow::Result<()> {
    runtime.block_on(async {
        let response = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .body(case.request.clone())
            .send()
            .await?;
        let status = response.status();
        let body = response.text().await?;
        anyhow::ensure!(
            status.is_success(),
            "{}: the host answered {status}: {body}",
            case.label
        );
        Ok(())
    })
}

fn decode_titan(body: &[u8]) -> usize {
    let params = [
        codec_kit::Param::new("dimensions", "1024"),
        codec_kit::Param::new("normalize", "true"),
    ];
    titan_codec::wire::decode(
        "amazon.titan-embed-text-v2:0",
        &params,
        Default::default(),
        body,
        1,
    )
    .expect("the emulator's answer decodes")
    .vectors
    .len()
}

fn decode_cohere(body: &[u8]) -> usize {
    let params = [
        codec_kit::Param::new("input_type", "search_document"),
        codec_kit::Param::new("truncate", "END"),
    ];
    cohere_codec::wire::decode(
        "cohere.embed-english-v3",
        &params,
        Default::default(),
        body,
        96,
    )
    .expect("the emulator's answer decodes")
    .vectors
    .len()
}

fn host_row(
    case: &Case,
    concurrency: usize,
    (host, host_cpu): &(LoadStats, CpuPerRequest),
    (direct, direct_cpu): &(LoadStats, CpuPerRequest),
    note: &str,
) -> Row {
    let ratio = if direct.per_second() > 0.0 {
        host.per_second() / direct.per_second()
    } else {
        0.0
    };
    let errors = if host.errors + direct.errors > 0 {
        format!(" — errors: host {}, direct {}", host.errors, direct.errors)
    } else {
        String::new()
    };
    Row::new(
        "2",
        format!("Host tax, {} (c={concurrency}){note}", case.label),
        format!(
            "**{ratio:.2}×** — host {:.0} req/s, p50 {}, p99 {}; direct {:.0} req/s, p50 {}, p99 {}{errors}. \
             CPU per request: host {} ({} over the SDK calls alone), emulator {}, wrk {}: {} in all; \
             direct: SDK {}, emulator {}: {} in all",
            host.per_second(),
            fmt_duration(host.p50),
            fmt_duration(host.p99),
            direct.per_second(),
            fmt_duration(direct.p50),
            fmt_duration(direct.p99),
            fmt_duration(host_cpu.side),
            fmt_signed(host_cpu.side, direct_cpu.side),
            fmt_duration(host_cpu.emulator),
            fmt_duration(host_cpu.load_generator),
            fmt_duration(host_cpu.total()),
            fmt_duration(direct_cpu.side),
            fmt_duration(direct_cpu.emulator),
            fmt_duration(direct_cpu.total()),
        ),
        "host ≥ 0.8× direct (req/s)",
        Verdict::of(ratio >= 0.8 && host.errors == 0 && direct.errors == 0),
    )
}

/// `a - b` as `+12.3 µs` or `-4.0 µs`.
fn fmt_signed(a: Duration, b: Duration) -> String {
    if a >= b {
        format!("+{}", fmt_duration(a - b))
    } else {
        format!("-{}", fmt_duration(b - a))
    }
}

pub fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
