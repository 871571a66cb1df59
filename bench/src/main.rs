//! `bedrock-embed-bench [SECTION...] [--quick] [--out FILE]`: runs the benchmarks of
//! BENCHMARKS.md (all of them by default), prints the table and, with `--out`, writes it there.
//!
//! Sections: `codec` (1), `host` (2, and the peak RSS of 5), `instructions` (2, host
//! instructions per request under callgrind), `limiter` (3), `tokens` (3, the token limiter,
//! 2.5 min), `scale` (4), `startup` (5: start-up and hot-swap), `hostile` (6: stalled
//! sockets, memory after floods), `replicas` (7: shared limiter on Redis, embeddings-cache
//! cost). `just bench` runs
//! `target/release/bedrock-embed-bench --out BENCHMARKS.md` after a release build; it needs the
//! sibling binaries `bedrock-embed` and `bedrock-emulator` and `wrk` on PATH.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, bail};
use bedrock_embed_bench::report::{self, Row, Verdict};
use bedrock_embed_bench::stats::fmt_duration;
use bedrock_embed_bench::{
    codec, host, hostile, instructions, limiter, replicas, startup, tokens, wrk,
};

const SECTIONS: &[&str] = &[
    "codec",
    "host",
    "instructions",
    "limiter",
    "tokens",
    "scale",
    "startup",
    "hostile",
    "replicas",
];

fn main() -> anyhow::Result<()> {
    let mut wanted = Vec::new();
    let mut quick = false;
    let mut out: Option<PathBuf> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => quick = true,
            "--out" => out = Some(args.next().context("--out needs a file")?.into()),
            "-h" | "--help" => {
                println!(
                    "usage: bedrock-embed-bench [{}]... [--quick] [--out FILE]",
                    SECTIONS.join("|")
                );
                return Ok(());
            }
            // `cargo bench` passes --bench to every bench target; this is not one.
            "--bench" => {}
            s if SECTIONS.contains(&s) => wanted.push(s.to_string()),
            s => bail!("unknown argument {s:?} (sections: {})", SECTIONS.join(", ")),
        }
    }
    if wanted.is_empty() {
        wanted = SECTIONS.iter().map(|s| s.to_string()).collect();
    }
    let wants = |s: &str| wanted.iter().any(|w| w == s);

    let started = Instant::now();
    let work = tempfile::Builder::new()
        .prefix("bedrock-embed-bench-")
        .tempdir()?;
    eprintln!("bench work directory: {}", work.path().display());
    let machine = report::machine();
    let wrk_version = wrk::version().unwrap_or_else(|e| format!("{e:#}"));
    let mut rows: Vec<Row> = Vec::new();

    if wants("codec") {
        eprintln!("== 1. codec sandbox tax (criterion)");
        rows.extend(codec_rows(&work.path().join("criterion"), quick)?);
    }
    if wants("host")
        || wants("instructions")
        || wants("startup")
        || wants("hostile")
        || wants("replicas")
    {
        let setup = host::setup(work.path())?;
        if wants("host") {
            eprintln!("== 2. host tax (wrk vs direct aws-sdk), 5. peak RSS");
            let (tax, rss) = host::run(&setup, &host::Plan::new(quick))?;
            rows.extend(tax);
            rows.extend(rss);
        }
        if wants("instructions") {
            eprintln!("== 2. host instructions per request (callgrind)");
            rows.extend(instructions::run(&setup, &instructions::Plan::new(quick))?);
        }
        if wants("startup") {
            eprintln!("== 5. start-up and hot-swap");
            rows.extend(startup::run(&setup, if quick { 1 } else { 3 })?);
        }
        if wants("hostile") {
            eprintln!("== 6. hostile clients (stalled sockets, memory after floods)");
            rows.extend(hostile::run(&setup, &hostile::Plan::new(quick))?);
        }
        if wants("replicas") {
            eprintln!("== 7. replicas on Redis (shared limiter, embeddings-cache cost)");
            rows.extend(replicas::run(&setup, &replicas::Plan::new(quick))?);
        }
        setup.emulator.stop();
    }
    if wants("limiter") || wants("tokens") || wants("scale") {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?;
        if wants("limiter") {
            eprintln!("== 3. limiter precision");
            rows.extend(runtime.block_on(limiter::precision(&limiter::Plan::new(quick)))?);
        }
        if wants("tokens") {
            eprintln!("== 3. token limiter precision");
            rows.extend(runtime.block_on(tokens::precision(&tokens::Plan::new(quick)))?);
        }
        if wants("scale") {
            eprintln!("== 4. scale");
            rows.extend(runtime.block_on(limiter::scale(&limiter::ScalePlan::new(quick)))?);
        }
    }

    rows.sort_by_key(|r| r.section);
    let tools = format!(
        "criterion (in-process), {wrk_version}, aws-sdk-bedrockruntime (direct side), one \
         bedrock-emulator process for sections 2, 5, 6 and 7{}; the whole run took {}",
        if quick {
            "; **--quick** (short runs)"
        } else {
            ""
        },
        fmt_duration(started.elapsed())
    );
    let table = report::markdown(&machine, &tools, &rows);
    println!("\n{table}");
    match out {
        // A partial run would replace the whole table with a part of it.
        Some(path) if wanted.len() < SECTIONS.len() => {
            eprintln!("not writing {}: only some sections ran", path.display());
        }
        Some(path) => {
            report::write(&path, &table)?;
            eprintln!("wrote {}", path.display());
        }
        None => {}
    }
    Ok(())
}

fn codec_rows(dir: &std::path::Path, quick: bool) -> anyhow::Result<Vec<Row>> {
    let mut c = codec::criterion(dir, quick);
    codec::bench(&mut c);
    c.final_summary();
    let mut rows = Vec::new();
    for case in codec::cases()? {
        let wasm = codec::median(dir, case.group, "wasm")?;
        let native = codec::median(dir, case.group, "native")?;
        let ratio = wasm.as_secs_f64() / native.as_secs_f64();
        rows.push(Row::new(
            "1",
            format!(
                "Codec sandbox tax, {} (encode + decode, median)",
                case.label
            ),
            format!(
                "**{ratio:.2}×** — wasm {} (as the host calls it: `Codec::encode`/`decode`, warm instance pool), native {}",
                fmt_duration(wasm),
                fmt_duration(native)
            ),
            "wasm ≤ 1.3× native",
            Verdict::of(ratio <= 1.3),
        ));
    }
    Ok(rows)
}
