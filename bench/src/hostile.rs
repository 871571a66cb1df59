//! Section 6, hostile clients (issue 13): a real `bedrock-embed run` against 20,000 stalled
//! sockets while a separate client times `/health`, and its RSS before, during and after a
//! flood, with the allocator settings that decide whether memory comes back.

use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::host::{Setup, mib};
use crate::procs::{self, Proc};
use crate::report::{Row, Verdict};
use crate::stats::{fmt_duration, percentile};

/// What every stalled socket sends: a request head that never ends.
pub const STALLED_HEAD: &[u8] = b"GET /health HTTP/1.1\r\nHost: x\r\n";

pub struct Plan {
    pub sockets: usize,
    /// `runtime.http.header_read_timeout` of the host under test. Longer than opening every
    /// socket takes, so all of them are open at once.
    pub header_timeout: Duration,
    pub max_connections: usize,
    /// One `/health` probe (a new connection each) this often.
    pub probe_every: Duration,
    /// How long after the last socket closed "after" is read.
    pub settle: Duration,
    /// The memory rows read RSS once more this long after the last flood: past the host's
    /// upstream `pool_idle_timeout` (20 s), when the connections the flood opened to the
    /// emulator have closed.
    pub quiet: Duration,
    /// The load flood of the memory rows: wrk connections and duration per round.
    pub flood_connections: usize,
    pub flood_duration: Duration,
    pub flood_rounds: usize,
}

impl Plan {
    pub fn new(quick: bool) -> Self {
        Self {
            sockets: if quick { 2_000 } else { 20_000 },
            header_timeout: Duration::from_secs(10),
            max_connections: 30_000,
            probe_every: Duration::from_millis(20),
            settle: Duration::from_secs(5),
            quiet: Duration::from_secs(30),
            flood_connections: if quick { 500 } else { 2_000 },
            flood_duration: Duration::from_secs(if quick { 3 } else { 10 }),
            flood_rounds: 2,
        }
    }
}

/// Raises this process's open-files limit: the soft one to the hard one, and, where this
/// process may (root), the hard one to at least `wanted` (children inherit both, so the host
/// under test gets the room too). Returns the soft limit now in force.
pub fn raise_fd_limit(wanted: u64) -> anyhow::Result<u64> {
    let (soft, hard) = rlimit::Resource::NOFILE.get()?;
    let nr_open = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(hard);
    let target_hard = hard.max(wanted.min(nr_open));
    if target_hard > hard
        && rlimit::Resource::NOFILE
            .set(target_hard, target_hard)
            .is_ok()
    {
        return Ok(target_hard);
    }
    if soft < hard {
        rlimit::Resource::NOFILE.set(hard, hard)?;
    }
    Ok(rlimit::Resource::NOFILE.get()?.0)
}

/// The spicepod of `setup` with `runtime.http` settings for the stalled-socket run.
fn spicepod(setup: &Setup, plan: &Plan) -> anyhow::Result<std::path::PathBuf> {
    let base = std::fs::read_to_string(&setup.spicepod)?;
    let text = format!(
        "{base}runtime:\n  http:\n    header_read_timeout: {}s\n    max_connections: {}\n",
        plan.header_timeout.as_secs(),
        plan.max_connections
    );
    let path = setup.dir.join("spicepod-hostile.yaml");
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Samples a process's VmRSS (and open fds) on a thread until dropped; keeps the maxima.
struct Sampler {
    stop: Arc<AtomicBool>,
    peak_rss: Arc<AtomicU64>,
    peak_fds: Arc<AtomicU64>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Sampler {
    fn start(pid: u32) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let peak_rss = Arc::new(AtomicU64::new(0));
        let peak_fds = Arc::new(AtomicU64::new(0));
        let (s, r, f) = (stop.clone(), peak_rss.clone(), peak_fds.clone());
        let thread = std::thread::spawn(move || {
            let mut n = 0u64;
            while !s.load(Ordering::Relaxed) {
                if let Ok(rss) = rss_bytes(pid) {
                    r.fetch_max(rss, Ordering::Relaxed);
                }
                // Listing 20,000 fds costs: every 10th sample.
                if n.is_multiple_of(10)
                    && let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/fd"))
                {
                    f.fetch_max(dir.count() as u64, Ordering::Relaxed);
                }
                n += 1;
                std::thread::sleep(Duration::from_millis(50));
            }
        });
        Self {
            stop,
            peak_rss,
            peak_fds,
            thread: Some(thread),
        }
    }

    fn finish(mut self) -> (u64, u64) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        (
            self.peak_rss.load(Ordering::Relaxed),
            self.peak_fds.load(Ordering::Relaxed),
        )
    }
}

fn rss_bytes(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .map(|kib| kib * 1024)
        .context("no VmRSS")
}

fn open_fds(pid: u32) -> u64 {
    std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count() as u64)
}

/// What became of one stalled socket.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Fate {
    /// Could not connect (or send its head).
    Failed,
    /// The server closed it this long after it connected.
    Closed(Duration),
    /// Still open when the bench stopped waiting.
    Open,
}

/// `/health` timed from a separate client, a new connection per probe, until `stop`.
async fn probe(url: String, every: Duration, stop: Arc<AtomicBool>) -> (Vec<u64>, u64) {
    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("a reqwest client");
    let (mut us, mut failed) = (Vec::new(), 0);
    while !stop.load(Ordering::Relaxed) {
        let started = Instant::now();
        match client.get(&url).send().await {
            Ok(r) if r.status().is_success() => {
                let _ = r.bytes().await;
                us.push(started.elapsed().as_micros() as u64);
            }
            _ => failed += 1,
        }
        tokio::time::sleep(every.saturating_sub(started.elapsed())).await;
    }
    (us, failed)
}

/// Section 6 rows: the stalled sockets, then the memory of load floods per allocator.
pub fn run(setup: &Setup, plan: &Plan) -> anyhow::Result<Vec<Row>> {
    let fd_limit = raise_fd_limit(plan.sockets as u64 * 2 + 8_192)?;
    let mut rows = vec![stalled_sockets(setup, plan, fd_limit)?];
    rows.extend(memory(setup, plan)?);
    Ok(rows)
}

fn stalled_sockets(setup: &Setup, plan: &Plan, fd_limit: u64) -> anyhow::Result<Row> {
    let spicepod = spicepod(setup, plan)?;
    let host = crate::host::start_host(
        &setup.dir,
        &spicepod,
        None,
        &setup.dir.join("codec-cache").to_string_lossy(),
        "host-hostile.log",
    )?;
    let pid = host.pid();
    std::thread::sleep(Duration::from_secs(2));
    let idle = rss_bytes(pid)?;
    let addr = host
        .url
        .strip_prefix("http://")
        .context("the host's URL")?
        .to_string();
    // The bench's own descriptors: the sockets, the probe's, wrk's; the rest is left.
    let sockets = plan
        .sockets
        .min(usize::try_from(fd_limit.saturating_sub(512)).unwrap_or(usize::MAX));
    eprintln!(
        "  hostile: {sockets} stalled sockets (fd limit {fd_limit}), header_read_timeout {}s",
        plan.header_timeout.as_secs()
    );

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let sampler = Sampler::start(pid);
    let stop = Arc::new(AtomicBool::new(false));
    // Its own thread and runtime: the probe's latency is the host's, not this process's
    // scheduling of 20,000 socket tasks.
    let prober = {
        let (url, every, stop) = (
            format!("{}/health", host.url),
            plan.probe_every,
            stop.clone(),
        );
        std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map(|rt| rt.block_on(probe(url, every, stop)))
        })
    };
    // Let the probe see the quiet host first.
    std::thread::sleep(Duration::from_millis(500));
    let wait_for_close = plan.header_timeout + Duration::from_secs(20);
    let open_now = Arc::new(AtomicU64::new(0));
    let open_peak = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let (fates, opened_in) = runtime.block_on(async {
        // Connect a few hundred at a time: the listen backlog is not 20,000 deep.
        let gate = Arc::new(tokio::sync::Semaphore::new(256));
        let mut tasks = Vec::with_capacity(sockets);
        let (opened_tx, mut opened_rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        for _ in 0..sockets {
            let (addr, gate, now, peak, tx) = (
                addr.clone(),
                gate.clone(),
                open_now.clone(),
                open_peak.clone(),
                opened_tx.clone(),
            );
            tasks.push(tokio::spawn(async move {
                let permit = gate.acquire_owned().await.expect("gate open");
                let connected = tokio::time::timeout(Duration::from_secs(10), async {
                    let mut s = tokio::net::TcpStream::connect(&addr).await?;
                    s.write_all(STALLED_HEAD).await?;
                    std::io::Result::Ok(s)
                })
                .await;
                drop(permit);
                let _ = tx.send(());
                let Ok(Ok(mut s)) = connected else {
                    return Fate::Failed;
                };
                let at = Instant::now();
                let n = now.fetch_add(1, Ordering::Relaxed) + 1;
                peak.fetch_max(n, Ordering::Relaxed);
                let mut buf = [0u8; 512];
                let fate = tokio::time::timeout(wait_for_close, async {
                    loop {
                        match s.read(&mut buf).await {
                            Ok(0) | Err(_) => return at.elapsed(),
                            Ok(_) => {}
                        }
                    }
                })
                .await
                .map_or(Fate::Open, Fate::Closed);
                now.fetch_sub(1, Ordering::Relaxed);
                fate
            }));
        }
        drop(opened_tx);
        let mut seen = 0;
        while opened_rx.recv().await.is_some() {
            seen += 1;
            if seen == sockets {
                break;
            }
        }
        let opened_in = started.elapsed();
        let mut fates = Vec::with_capacity(sockets);
        for t in tasks {
            fates.push(t.await.unwrap_or(Fate::Failed));
        }
        (fates, opened_in)
    });
    let all_done = started.elapsed();
    let fds_at_end = open_fds(pid);
    std::thread::sleep(plan.settle);
    stop.store(true, Ordering::Relaxed);
    let (mut health_us, health_failed) = prober
        .join()
        .map_err(|_| anyhow::anyhow!("the /health probe panicked"))??;
    let (peak, peak_fds) = sampler.finish();
    let after = rss_bytes(pid)?;
    let accept_errors = std::fs::read_to_string(setup.dir.join("host-hostile.log"))
        .unwrap_or_default()
        .matches("os error 24")
        .count();
    host.stop();

    health_us.sort_unstable();
    let failed = fates.iter().filter(|f| **f == Fate::Failed).count();
    let still_open = fates.iter().filter(|f| **f == Fate::Open).count();
    let closed: Vec<Duration> = fates
        .iter()
        .filter_map(|f| match f {
            Fate::Closed(d) => Some(*d),
            _ => None,
        })
        .collect();
    // The bench stamps a connect when its (busy) client task gets to it, up to ~0.6 s late
    // with 20,000 sockets on two cores: only a close a whole second early is early.
    const STAMP_SLACK: Duration = Duration::from_secs(1);
    let early = closed
        .iter()
        .filter(|d| **d + STAMP_SLACK < plan.header_timeout)
        .count();
    let (first, last) = (
        closed.iter().min().copied().unwrap_or_default(),
        closed.iter().max().copied().unwrap_or_default(),
    );
    let p = |q: f64| Duration::from_micros(percentile(&health_us, q));
    let max = Duration::from_micros(health_us.last().copied().unwrap_or(0));
    let peak_open = open_peak.load(Ordering::Relaxed);
    let ok = sockets == plan.sockets
        && failed == 0
        && peak_open as usize == sockets
        && closed.len() == sockets
        && early == 0
        && health_failed == 0
        && p(99.0) <= Duration::from_millis(100)
        && accept_errors == 0;
    let short = if sockets < plan.sockets {
        format!(
            " (only {sockets} of {}: the bench's open-files limit is {fd_limit})",
            plan.sockets
        )
    } else {
        String::new()
    };
    Ok(Row::new(
        "6",
        format!(
            "Hostile clients: {} stalled sockets (`GET /health HTTP/1.1\\r\\nHost: x\\r\\n`, then nothing), \
             `header_read_timeout: {}s`, `max_connections: {}`",
            plan.sockets,
            plan.header_timeout.as_secs(),
            plan.max_connections
        ),
        format!(
            "{sockets} opened{short} in {} ({failed} failed), **{peak_open}** open at once (host fds peak {peak_fds}); \
             `/health` from a separate client (a new connection every {} ms, {} probes, {health_failed} failed): \
             p50 {}, **p99 {}**, max {}; closed by the server: **{} of {sockets}**, {}–{} after connecting \
             ({early} over 1 s before the timeout, {still_open} still open {} s later), all done {} after the first connect; \
             host fds after: {fds_at_end}; `os error 24` in the host log: {accept_errors}. \
             RSS idle {}, peak {}, after (+{} s) {}",
            fmt_duration(opened_in),
            plan.probe_every.as_millis(),
            health_us.len() + health_failed as usize,
            fmt_duration(p(50.0)),
            fmt_duration(p(99.0)),
            fmt_duration(max),
            closed.len(),
            fmt_duration(first),
            fmt_duration(last),
            wait_for_close.as_secs(),
            fmt_duration(all_done),
            mib(idle),
            mib(peak),
            plan.settle.as_secs(),
            mib(after),
        ),
        "/health p99 ≤ 100 ms; every stalled socket closed once the header timeout passed, none before",
        Verdict::of(ok),
    ))
}

/// An allocator setting of the host process, chosen by environment variables (no rebuild).
pub struct Allocator {
    pub label: &'static str,
    pub env: Vec<(&'static str, String)>,
}

pub fn allocators() -> Vec<Allocator> {
    vec![
        Allocator {
            label: "jemalloc as shipped (`background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0`)",
            env: vec![],
        },
        // The same allocator with jemalloc's own defaults: no background thread, so pages are
        // purged only when an allocating thread passes by, after 10 s.
        Allocator {
            label: "jemalloc with its defaults (`_RJEM_MALLOC_CONF=background_thread:false,dirty_decay_ms:10000,muzzy_decay_ms:10000`)",
            env: vec![(
                "_RJEM_MALLOC_CONF",
                "background_thread:false,dirty_decay_ms:10000,muzzy_decay_ms:10000".into(),
            )],
        },
    ]
}

/// RSS idle / peak / after `flood_rounds` wrk floods (Titan at `flood_connections`, then
/// Cohere's ~1 MB answers at 256), one fresh host per allocator setting.
fn memory(setup: &Setup, plan: &Plan) -> anyhow::Result<Vec<Row>> {
    let cases = crate::host::cases()?;
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4);
    let mut rows = Vec::new();
    let mut baseline_rps = None;
    for alloc in allocators() {
        eprintln!("  memory: {}", alloc.label);
        let host = start_host_env(setup, &alloc.env)?;
        let url = format!("{}/v1/embeddings", host.url);
        std::thread::sleep(Duration::from_secs(2));
        let idle = host.rss_bytes()?;
        let sampler = Sampler::start(host.pid());
        let mut afters = Vec::new();
        let mut rps = Vec::new();
        let mut errors = 0;
        for _ in 0..plan.flood_rounds {
            let titan = crate::wrk::run(
                &setup.dir,
                &url,
                &cases[0].request,
                plan.flood_connections,
                threads,
                plan.flood_duration,
            )?;
            let cohere = crate::wrk::run(
                &setup.dir,
                &url,
                &cases[1].request,
                256,
                threads,
                plan.flood_duration,
            )?;
            rps.push(titan.per_second());
            errors += titan.errors + cohere.errors;
            std::thread::sleep(plan.settle);
            afters.push(host.rss_bytes()?);
        }
        let fds = open_fds(host.pid());
        std::thread::sleep(plan.quiet.saturating_sub(plan.settle));
        let quiet = host.rss_bytes()?;
        let quiet_fds = open_fds(host.pid());
        let (peak, _) = sampler.finish();
        host.stop();
        let mean_rps = rps.iter().sum::<f64>() / rps.len().max(1) as f64;
        let base = *baseline_rps.get_or_insert(mean_rps);
        let ratio = quiet as f64 / idle.max(1) as f64;
        rows.push(Row::new(
            "6",
            format!(
                "Memory after a flood, {}: {} rounds of wrk c={} Titan + c=256 Cohere 96 texts, {} s each",
                alloc.label,
                plan.flood_rounds,
                plan.flood_connections,
                plan.flood_duration.as_secs()
            ),
            format!(
                "RSS idle {}, peak {}, after each round (+{} s) {} with {fds} fds open; \
                 +{} s after the last: {} with {quiet_fds} fds, **{ratio:.2}× idle**; \
                 Titan {mean_rps:.0} req/s ({:.2}× the first setting's), {errors} errors",
                mib(idle),
                mib(peak),
                plan.settle.as_secs(),
                afters.iter().map(|b| mib(*b)).collect::<Vec<_>>().join(" → "),
                plan.quiet.as_secs(),
                mib(quiet),
                mean_rps / base.max(1e-9),
            ),
            "quiet ≤ 2× idle",
            Verdict::of(ratio <= 2.0),
        ));
    }
    Ok(rows)
}

fn start_host_env(setup: &Setup, env: &[(&'static str, String)]) -> anyhow::Result<Proc> {
    let empty = setup.dir.join("no-codecs");
    std::fs::create_dir_all(&empty)?;
    let mut cmd = Command::new(procs::sibling("bedrock-embed")?);
    cmd.current_dir(&setup.dir)
        .args(["run", "--http", "127.0.0.1:0", "--spicepod"])
        .arg(&setup.spicepod)
        .arg("--codecs")
        .arg(&empty)
        .env(
            "BEDROCK_EMBED_CODEC_CACHE",
            setup.dir.join("codec-cache").as_os_str(),
        );
    for (k, v) in env {
        cmd.env(k, v);
    }
    Proc::spawn(
        cmd,
        "bedrock-embed",
        &setup.dir.join("host-memory.log"),
        Duration::from_secs(120),
    )
}
