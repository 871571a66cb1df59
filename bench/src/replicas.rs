//! Section 7, scale-out on Redis (issue 14): three `bedrock-embed run` replicas sharing one
//! real `redis-server` and one budget, as the emulator saw them; then CPU per request of an
//! embeddings-cache hit against a miss, and Redis round trips per request.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::host::{self, Setup};
use crate::procs::{CpuSpan, Proc};
use crate::report::{Row, Verdict};
use crate::stats::fmt_duration;

/// A `redis-server` on a free port of 127.0.0.1, nothing persisted; killed by PID on drop.
pub struct RedisServer {
    child: Child,
    pub port: u16,
}

impl RedisServer {
    pub fn start(dir: &Path) -> anyhow::Result<Self> {
        for _ in 0..5 {
            let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
            let mut child = Command::new("redis-server")
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"])
                .arg("--dir")
                .arg(dir)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .context("starting redis-server (`apt-get install -y redis-server`)")?;
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if child.try_wait()?.is_some() {
                    break;
                }
                if ping(port) {
                    return Ok(Self { child, port });
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = child.kill();
            let _ = child.wait();
        }
        bail!("redis-server did not start on a free port in 5 tries")
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    let mut buf = [0u8; 16];
    s.write_all(b"PING\r\n").is_ok()
        && s.read(&mut buf)
            .is_ok_and(|n| buf[..n].starts_with(b"+PONG"))
}

pub struct Plan {
    pub replicas: usize,
    pub per_min: u32,
    pub slots: u32,
    pub clients_per_replica: usize,
    /// Long enough for at least one full 60 s window.
    pub run: Duration,
    pub cache_duration: Duration,
}

impl Plan {
    pub fn new(quick: bool) -> Self {
        Self {
            replicas: 3,
            per_min: 600,
            slots: 8,
            clients_per_replica: 16,
            run: Duration::from_secs(if quick { 15 } else { 75 }),
            cache_duration: Duration::from_secs(if quick { 3 } else { 10 }),
        }
    }
}

fn redis_runtime(url: &str) -> String {
    format!("  redis:\n    url: {url}\n")
}

fn write_spicepod(dir: &Path, name: &str, text: &str) -> anyhow::Result<std::path::PathBuf> {
    let path = dir.join(name);
    std::fs::write(&path, text)?;
    Ok(path)
}

/// Section 7 rows.
pub fn run(setup: &Setup, plan: &Plan) -> anyhow::Result<Vec<Row>> {
    let redis = RedisServer::start(&setup.dir)?;
    let mut rows = vec![shared_limiter(&setup.dir, &redis, plan)?];
    rows.extend(cache_cost(setup, &redis, plan)?);
    Ok(rows)
}

/// (a) `replicas` hosts, one Redis, one in-process emulator whose call log shows every call.
fn shared_limiter(dir: &Path, redis: &RedisServer, plan: &Plan) -> anyhow::Result<Row> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let emu = runtime.block_on(crate::limiter::emulator(0))?;
    let text = format!(
        "{}runtime:\n{}",
        host::spicepod_text(&emu.endpoint_url(), plan.slots, plan.per_min),
        redis_runtime(&redis.url())
    );
    let spicepod = write_spicepod(dir, "spicepod-replicas.yaml", &text)?;
    let cache = dir.join("codec-cache").to_string_lossy().into_owned();
    let hosts: Vec<Proc> = (0..plan.replicas)
        .map(|i| host::start_host(dir, &spicepod, None, &cache, &format!("replica-{i}.log")))
        .collect::<anyhow::Result<_>>()?;
    eprintln!(
        "  replicas: {} hosts, {} clients each, {}/min shared, {:.0} s",
        plan.replicas,
        plan.clients_per_replica,
        plan.per_min,
        plan.run.as_secs_f64()
    );
    emu.reset();
    let urls: Vec<String> = hosts
        .iter()
        .map(|h| format!("{}/v1/embeddings", h.url))
        .collect();
    let (ok, failed, shed) = runtime.block_on(saturate(&urls, plan.clients_per_replica, plan.run));
    let stats = emu.stats();
    for h in hosts {
        h.stop();
    }
    runtime.block_on(emu.shutdown());

    let t = crate::limiter::arrivals(&stats);
    anyhow::ensure!(t.len() > 10, "only {} calls reached the emulator", t.len());
    let span = Duration::from_micros(t[t.len() - 1] - t[0]);
    let window = Duration::from_secs(60).min(span);
    let allowed = (u128::from(plan.per_min) * window.as_micros() / 60_000_000) as usize;
    let max_window = crate::limiter::max_in_window(&t, window);
    let max_10s = crate::limiter::max_in_window(&t, Duration::from_secs(10));
    let share = max_window as f64 / allowed.max(1) as f64;
    let full = window == Duration::from_secs(60);
    Ok(Row::new(
        "7",
        format!(
            "Shared limiter: {} replicas, one redis-server, {}/min and {} in flight, {} clients each, {:.0} s",
            plan.replicas,
            plan.per_min,
            plan.slots,
            plan.clients_per_replica,
            plan.run.as_secs_f64()
        ),
        format!(
            "max in any {} window **{max_window}** of {allowed} (+1 GCRA burst), **{:.1}%** used; \
             in any 10 s window {max_10s}; {} calls over {}; max in flight {} of {}; \
             requests {ok} ok, {shed} answered 429, {failed} failed otherwise",
            if full {
                "60 s".to_string()
            } else {
                format!("{:.1} s (the whole run)", window.as_secs_f64())
            },
            share * 100.0,
            t.len(),
            fmt_duration(span),
            stats.max_in_flight,
            plan.slots,
        ),
        "≤ budget + 1 in every 60 s window; ≥ 95% used",
        if full {
            Verdict::of(
                max_window <= allowed + 1
                    && share >= 0.95
                    && stats.max_in_flight <= u64::from(plan.slots)
                    && failed == 0,
            )
        } else {
            Verdict::Info
        },
    ))
}

/// `clients` tasks per URL posting one distinct Titan text each, back to back, until the
/// deadline. Returns (ok, failed, answered 429).
async fn saturate(urls: &[String], clients: usize, duration: Duration) -> (u64, u64, u64) {
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + duration;
    let mut tasks = Vec::new();
    for (r, url) in urls.iter().enumerate() {
        for c in 0..clients {
            let (client, url) = (client.clone(), url.clone());
            tasks.push(tokio::spawn(async move {
                let (mut ok, mut failed, mut shed) = (0u64, 0u64, 0u64);
                let mut n = 0;
                while tokio::time::Instant::now() < deadline {
                    n += 1;
                    let body = serde_json::json!({
                        "model": "titan",
                        "input": crate::text(5_000_000 + (r * 1_000 + c) * 100_000 + n, 12),
                    });
                    let call = client.post(&url).json(&body).send();
                    let Ok(answer) = tokio::time::timeout_at(deadline, call).await else {
                        break;
                    };
                    let Ok(resp) = answer else {
                        failed += 1;
                        continue;
                    };
                    let status = resp.status();
                    // Read the body, so the connection goes back to the pool.
                    let _ = resp.bytes().await;
                    match status.as_u16() {
                        200..=299 => ok += 1,
                        429 => shed += 1,
                        _ => failed += 1,
                    }
                }
                (ok, failed, shed)
            }));
        }
    }
    let mut total = (0, 0, 0);
    for t in tasks {
        if let Ok((a, b, c)) = t.await {
            total.0 += a;
            total.1 += b;
            total.2 += c;
        }
    }
    total
}

/// GET `base` + `path` over one HTTP/1.1 connection (`Connection: close`): the body.
fn http_get(base: &str, path: &str) -> anyhow::Result<String> {
    let addr = base.strip_prefix("http://").unwrap_or(base);
    let mut s = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
    s.set_read_timeout(Some(Duration::from_secs(10)))?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )?;
    let mut raw = String::new();
    s.read_to_string(&mut raw)?;
    let (head, body) = raw.split_once("\r\n\r\n").context("an HTTP answer")?;
    anyhow::ensure!(head.starts_with("HTTP/1.1 200"), "GET {path}: {head}");
    Ok(body.to_string())
}

/// Calls the emulator process has seen since it started (`/_emulator/stats`).
fn emulator_calls(setup: &Setup) -> anyhow::Result<u64> {
    let body = http_get(&setup.emulator.url, "/_emulator/stats")?;
    let v: serde_json::Value = serde_json::from_str(&body).context("the emulator's stats")?;
    v["attempted"]
        .as_u64()
        .context("no `attempted` in the emulator's stats")
}

/// `bedrock_embed_redis_calls_total{op=...}` from the host's /metrics.
fn redis_calls(base: &str) -> anyhow::Result<BTreeMap<String, f64>> {
    Ok(parse_redis_calls(&http_get(base, "/metrics")?))
}

/// The `bedrock_embed_redis_calls_total` counters of a Prometheus text page, summed per `op`.
fn parse_redis_calls(text: &str) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("bedrock_embed_redis_calls_total{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once("} ") else {
            continue;
        };
        let op = labels
            .split(',')
            .find_map(|kv| kv.strip_prefix("op=\""))
            .map(|v| v.trim_end_matches('"').to_string())
            .unwrap_or_else(|| labels.to_string());
        *out.entry(op).or_insert(0.0) += value.trim().parse::<f64>().unwrap_or(0.0);
    }
    out
}

fn per_request(before: &BTreeMap<String, f64>, after: &BTreeMap<String, f64>, n: u64) -> String {
    let n = n.max(1) as f64;
    let mut total = 0.0;
    let mut parts = Vec::new();
    for (op, v) in after {
        let d = v - before.get(op).copied().unwrap_or(0.0);
        if d > 0.0 {
            total += d;
            parts.push(format!("{op} {:.2}", d / n));
        }
    }
    if parts.is_empty() {
        "0".into()
    } else {
        format!("**{:.2}** ({})", total / n, parts.join(", "))
    }
}

/// (b) and (c): one host with the embeddings cache, alone and on Redis; wrk posting one text
/// again and again (after the first, every request a hit) and the same with
/// `Cache-Control: no-cache` (every request a miss: Bedrock called, the vector stored).
fn cache_cost(setup: &Setup, redis: &RedisServer, plan: &Plan) -> anyhow::Result<Vec<Row>> {
    let base = std::fs::read_to_string(&setup.spicepod)?;
    let caching = "  caching:\n    embeddings:\n      enabled: true\n";
    let threads = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(4);
    let request = host::cases()?.remove(0).request;
    let cache = setup.dir.join("codec-cache").to_string_lossy().into_owned();
    let mut rows = Vec::new();
    for (label, runtime) in [
        ("in-process cache", format!("runtime:\n{caching}")),
        (
            "cache and limiter on Redis",
            format!("runtime:\n{caching}{}", redis_runtime(&redis.url())),
        ),
    ] {
        let spicepod = write_spicepod(
            &setup.dir,
            "spicepod-cache.yaml",
            &format!("{base}{runtime}"),
        )?;
        let host = host::start_host(&setup.dir, &spicepod, None, &cache, "host-cache.log")?;
        let url = format!("{}/v1/embeddings", host.url);
        let mut figures = Vec::new();
        let mut cpu = Vec::new();
        for (kind, headers) in [
            ("hit", &[][..]),
            ("miss", &[("Cache-Control", "no-cache")][..]),
        ] {
            eprintln!("  cache cost: {label}, {kind}");
            // Warm-up, and for the hit run the one miss that stores the text.
            crate::wrk::run_with_headers(
                &setup.dir,
                &url,
                &request,
                headers,
                16,
                threads,
                Duration::from_secs(1),
            )?;
            let calls_before = redis_calls(&host.url)?;
            let emu_before = emulator_calls(setup)?;
            let span = CpuSpan::start(host.pid(), setup.emulator.pid())?;
            let stats = crate::wrk::run_with_headers(
                &setup.dir,
                &url,
                &request,
                headers,
                16,
                threads,
                plan.cache_duration,
            )?;
            let n = stats.requests + stats.errors;
            let used = span.per_request(n)?;
            let emu_calls = emulator_calls(setup)?.saturating_sub(emu_before);
            let calls_after = redis_calls(&host.url)?;
            cpu.push(used.side);
            figures.push(format!(
                "{kind}: host CPU **{}**/request (emulator {}), {:.0} req/s, p50 {}, {} errors, \
                 {:.2} Bedrock calls/request, Redis round trips/request {}",
                fmt_duration(used.side),
                fmt_duration(used.emulator),
                stats.per_second(),
                fmt_duration(stats.p50),
                stats.errors,
                emu_calls as f64 / n.max(1) as f64,
                per_request(&calls_before, &calls_after, n),
            ));
        }
        host.stop();
        let ratio = cpu[1].as_secs_f64() / cpu[0].as_secs_f64().max(1e-12);
        rows.push(Row::info(
            "7",
            format!(
                "Embeddings cache, {label}: CPU per request of a hit vs a miss (`Cache-Control: no-cache`), Titan 1 text, wrk c=16, {} s",
                plan.cache_duration.as_secs()
            ),
            format!(
                "a miss costs the host **{ratio:.1}×** a hit's CPU. {}",
                figures.join("; ")
            ),
        ));
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redis_calls_are_summed_per_op() {
        let page = "# TYPE bedrock_embed_redis_calls_total counter\n\
            bedrock_embed_redis_calls_total{op=\"gcra\",result=\"ok\"} 10\n\
            bedrock_embed_redis_calls_total{op=\"gcra\",result=\"error\"} 2\n\
            bedrock_embed_redis_calls_total{op=\"mget\"} 5\n\
            bedrock_embed_redis_up 1\n";
        let calls = parse_redis_calls(page);
        assert_eq!(calls.get("gcra"), Some(&12.0));
        assert_eq!(calls.get("mget"), Some(&5.0));
        assert_eq!(calls.len(), 2);
        let mut after = calls.clone();
        *after.get_mut("gcra").unwrap() += 4.0;
        assert_eq!(per_request(&calls, &after, 2), "**2.00** (gcra 2.00)");
    }
}
