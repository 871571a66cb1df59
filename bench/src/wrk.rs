//! The HTTP side of the host tax: `wrk` (Debian's package) posting one body over
//! `connections` keep-alive connections, its summary printed as JSON by a Lua `done` hook.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, bail};

use crate::stats::LoadStats;

/// The wrk version line, or an error saying how to install it.
pub fn version() -> anyhow::Result<String> {
    let out = Command::new("wrk")
        .arg("--version")
        .output()
        .context("wrk is not installed (`apt-get install -y wrk`; `just bench` does it)")?;
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    Ok(text.lines().next().unwrap_or("wrk").trim().to_string())
}

/// POSTs `body` (JSON) to `url` for `duration` over `connections` connections and `threads`
/// threads.
pub fn run(
    dir: &Path,
    url: &str,
    body: &[u8],
    connections: usize,
    threads: usize,
    duration: Duration,
) -> anyhow::Result<LoadStats> {
    run_with_headers(dir, url, body, &[], connections, threads, duration)
}

/// [`run`] with extra request headers (e.g. `Cache-Control: no-cache`).
pub fn run_with_headers(
    dir: &Path,
    url: &str,
    body: &[u8],
    headers: &[(&str, &str)],
    connections: usize,
    threads: usize,
    duration: Duration,
) -> anyhow::Result<LoadStats> {
    let script = dir.join(format!("post-{}-{}.lua", body.len(), headers.len()));
    std::fs::write(&script, lua(body, headers)?)?;
    let out = Command::new("wrk")
        .arg(format!("-t{}", threads.min(connections).max(1)))
        .arg(format!("-c{connections}"))
        .arg(format!("-d{}s", duration.as_secs().max(1)))
        .arg("--timeout")
        .arg("60s")
        .arg("-s")
        .arg(&script)
        .arg(url)
        .output()
        .context("running wrk")?;
    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "wrk failed: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let line = stdout
        .lines()
        .find_map(|l| l.strip_prefix("BENCH_JSON "))
        .with_context(|| format!("no summary in wrk's output: {stdout}"))?;
    let v: serde_json::Value = serde_json::from_str(line)?;
    let n = |k: &str| v[k].as_u64().unwrap_or(0);
    let errors = n("errors");
    Ok(LoadStats {
        requests: n("requests").saturating_sub(n("non2xx")),
        errors,
        seconds: n("duration_us") as f64 / 1e6,
        p50: Duration::from_micros(n("p50_us")),
        p99: Duration::from_micros(n("p99_us")),
    })
}

fn lua(body: &[u8], headers: &[(&str, &str)]) -> anyhow::Result<String> {
    let body = std::str::from_utf8(body).context("the body is JSON text")?;
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("wrk.headers[{k:?}] = {v:?}\n"))
        .collect();
    let mut level = String::from("=");
    while body.contains(&format!("]{level}]")) {
        level.push('=');
    }
    Ok(format!(
        r#"wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{extra}wrk.body = [{level}[{body}]{level}]
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "BENCH_JSON {{\"requests\":%d,\"duration_us\":%d,\"p50_us\":%d,\"p99_us\":%d,\"errors\":%d,\"non2xx\":%d}}\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout + e.status, e.status))
end
"#
    ))
}
