//! Start-up to ready (spawn → the `listening` line, printed once models are loaded and the
//! socket is bound) with the compiled-codec cache cold, warm and off; hot-swap latency (a codec
//! file renamed into the codecs directory → `GET /v1/codecs` shows it serving).

use std::path::Path;
use std::time::{Duration, Instant};

use bedrock_embed::codec::builtin::BUILTIN;

use crate::host::{Setup, start_host};
use crate::report::{Row, Verdict};
use crate::stats::fmt_duration;

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort_unstable();
    v[v.len() / 2]
}

fn cwasm_files(dir: &Path) -> usize {
    fn walk(dir: &Path, n: &mut usize) {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        for entry in entries.flatten() {
            let path = entry.path();
            if path.is_dir() {
                walk(&path, n);
            } else if path.extension().is_some_and(|e| e == "cwasm") {
                *n += 1;
            }
        }
    }
    let mut n = 0;
    walk(dir, &mut n);
    n
}

/// Section 5: start-up (cache off, cold, warm) and hot-swap.
pub fn run(setup: &Setup, runs: usize) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    let dir = &setup.dir;

    let mut off = Vec::new();
    let mut cold = Vec::new();
    let mut warm = Vec::new();
    let mut cache_used = false;
    for i in 0..runs {
        let host = start_host(dir, &setup.spicepod, None, "off", "startup-off.log")?;
        off.push(host.ready_after);
        host.stop();

        let cache = dir.join(format!("startup-cache-{i}"));
        let _ = std::fs::remove_dir_all(&cache);
        let host = start_host(
            dir,
            &setup.spicepod,
            None,
            &cache.to_string_lossy(),
            "startup-cold.log",
        )?;
        cold.push(host.ready_after);
        host.stop();
        cache_used |= cwasm_files(&cache) > 0;

        let host = start_host(
            dir,
            &setup.spicepod,
            None,
            &cache.to_string_lossy(),
            "startup-warm.log",
        )?;
        warm.push(host.ready_after);
        host.stop();
    }
    let (off, cold, warm) = (median(off), median(cold), median(warm));
    rows.push(Row::info(
        "5",
        format!("Start-up to ready, compiled-codec cache off (median of {runs})"),
        format!("**{}**", fmt_duration(off)),
    ));
    if cache_used {
        rows.push(Row::info(
            "5",
            format!("Start-up to ready, cache cold → warm (median of {runs})"),
            format!(
                "cold **{}**, warm **{}** ({:.1}× faster warm)",
                fmt_duration(cold),
                fmt_duration(warm),
                cold.as_secs_f64() / warm.as_secs_f64().max(1e-9)
            ),
        ));
    } else {
        rows.push(Row::new(
            "5",
            "Start-up to ready, cache cold → warm",
            format!(
                "cold {} / warm {}, but `bedrock-embed run` wrote no compiled codec to \
                 BEDROCK_EMBED_CODEC_CACHE: the cache is not wired into start-up in this build",
                fmt_duration(cold),
                fmt_duration(warm)
            ),
            "",
            Verdict::Pending,
        ));
    }

    rows.push(hot_swap(setup)?);
    Ok(rows)
}

/// A copy of the built-in Titan codec with a custom section appended (different bytes, so a
/// different hash: compiled afresh, not found in any cache), still a valid component.
fn distinct_titan(tag: &str) -> Vec<u8> {
    let (_, bytes) = BUILTIN
        .iter()
        .find(|(name, _)| *name == "titan_codec.wasm")
        .expect("built-in titan");
    let mut out = bytes.to_vec();
    let name = b"bedrock-embed-bench";
    let mut payload = Vec::new();
    leb(&mut payload, name.len() as u64);
    payload.extend_from_slice(name);
    payload.extend_from_slice(tag.as_bytes());
    out.push(0); // custom section
    leb(&mut out, payload.len() as u64);
    out.extend_from_slice(&payload);
    out
}

fn leb(out: &mut Vec<u8>, mut v: u64) {
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

fn hot_swap(setup: &Setup) -> anyhow::Result<Row> {
    let dir = &setup.dir;
    let codecs = dir.join("hot-codecs");
    let _ = std::fs::remove_dir_all(&codecs);
    std::fs::create_dir_all(&codecs)?;
    let cache = dir.join("hot-cache");
    let _ = std::fs::remove_dir_all(&cache);
    let tag = format!("{}-{:?}", std::process::id(), std::time::SystemTime::now());
    let host = start_host(
        dir,
        &setup.spicepod,
        Some(&codecs),
        &cache.to_string_lossy(),
        "hot-swap.log",
    )?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let client = reqwest::Client::new();
    let codecs_url = format!("{}/v1/codecs", host.url);
    let probe =
        runtime.block_on(async { client.get(&codecs_url).send().await.map(|r| r.status()) })?;
    if !probe.is_success() {
        return Ok(Row::new(
            "5",
            "Hot-swap latency (file landed → serving)",
            format!(
                "GET /v1/codecs answers {probe}: the codec watcher is not wired into `run` in this build"
            ),
            "",
            Verdict::Pending,
        ));
    }
    let mut figures = Vec::new();
    for (i, label) in [
        "new codec (compiled)",
        "same bytes again (compiled-codec cache)",
    ]
    .iter()
    .enumerate()
    {
        let file = codecs.join(format!("bench-titan-{i}.wasm"));
        // The same new bytes both times: compiled the first time, from the cache the second.
        let bytes = distinct_titan(&tag);
        // Write beside, rename into place: the watcher sees one finished file.
        let tmp = codecs.join(format!(".bench-titan-{i}.tmp"));
        std::fs::write(&tmp, &bytes)?;
        let landed = Instant::now();
        std::fs::rename(&tmp, &file)?;
        let name = format!("/bench-titan-{i}.wasm");
        let sha256 = {
            use sha2::Digest as _;
            hex::encode(sha2::Sha256::digest(&bytes))
        };
        let seen = runtime.block_on(async {
            while landed.elapsed() < Duration::from_secs(10) {
                if let Ok(r) = client.get(&codecs_url).send().await
                    && let Ok(list) = r.json::<serde_json::Value>().await
                    && serving(&list, &name, &sha256)
                {
                    return Some(landed.elapsed());
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
            None
        });
        let Some(t) = seen else {
            host.stop();
            return Ok(Row::new(
                "5",
                "Hot-swap latency (file landed → serving)",
                "a codec file renamed into the codecs directory was not serving after 10 s: \
                 `bedrock-embed run` does not start the codecs-directory watcher in this build",
                "",
                Verdict::Pending,
            ));
        };
        figures.push(format!("{label}: **{}**", fmt_duration(t)));
        // Remove it again (back to the built-in), and let the watcher settle.
        std::fs::remove_file(&file)?;
        std::thread::sleep(Duration::from_millis(500));
    }
    host.stop();
    Ok(Row::info(
        "5",
        "Hot-swap latency (file renamed into ./codecs → GET /v1/codecs shows it; includes the watcher's debounce)",
        figures.join("; "),
    ))
}

/// Whether `GET /v1/codecs` (`list`) shows the file whose path ends in `name` loaded with these
/// bytes and serving prefixes. A file that failed to load is listed too (with `last_error`): being named
/// is not being swapped in.
fn serving(list: &serde_json::Value, name: &str, sha256: &str) -> bool {
    list["data"].as_array().is_some_and(|rows| {
        rows.iter().any(|row| {
            row["source"].as_str().is_some_and(|s| s.ends_with(name))
                && row["sha256"] == sha256
                && row["last_error"].is_null()
                && row["serves"].as_array().is_some_and(|p| !p.is_empty())
        })
    })
}
