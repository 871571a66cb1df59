//! Hot-swap of the codecs directory, end to end: real codec files, the real watcher, the real
//! HTTP API and aws-sdk against the emulator on 127.0.0.1.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use bedrock_embed::codec::{Catalog, Outcome, RouteError};
use bedrock_embed_tests::codec_dir::{
    Served, builtin_wasm, embedder_over, guest_wasm, install, load_catalog, row, sandbox, vectors,
    wait_for,
};
use bedrock_embed_tests::hosted::{emulator_secrets, entry, spicepod_text};
use serde_json::json;
use sha2::{Digest, Sha256};

const TITAN_V2: &str = "amazon.titan-embed-text-v2:0";

fn sha(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// The sha256 of the codec serving Titan v2 right now.
fn serving_sha(catalog: &Catalog) -> String {
    catalog
        .registry()
        .load()
        .route(TITAN_V2, None)
        .map(|r| r.codec.sha256().to_string())
        .unwrap_or_default()
}

/// Which codec answered: the real Titan codec returns the emulator's vector, the test codec
/// its negation. `reference` is the real one's vector for the same text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Answer {
    Titan,
    Negated,
}

fn classify(vector: &[f32], reference: &[f32]) -> Option<Answer> {
    let (i, r) = reference
        .iter()
        .enumerate()
        .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))?;
    let v = *vector.get(i)?;
    if (v - r).abs() < 1e-6 {
        Some(Answer::Titan)
    } else if (v + r).abs() < 1e-6 {
        Some(Answer::Negated)
    } else {
        None
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn titan_replaced_20_times_under_load_fails_no_request_and_a_corrupt_file_changes_nothing() {
    let emulator = bedrock_emulator::spawn(bedrock_emulator::Config::new())
        .await
        .expect("emulator");
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    let titan = builtin_wasm("titan_codec");
    let negated = guest_wasm("test_titan_negated");
    // Start from a file copy of the real Titan codec (it overrides the built-in one).
    install(dir.path(), "titan.wasm", &titan);
    let catalog = load_catalog(sandbox(Some(cache.path())), dir.path()).await;
    assert_eq!(serving_sha(&catalog), sha(&titan));

    let text = spicepod_text(
        &emulator,
        &entry("titan", TITAN_V2, "      dimensions: 256\n"),
    );
    let embedder = embedder_over(&catalog, &text, &emulator_secrets(&emulator))
        .await
        .expect("models build");
    let _watch = catalog.watch().expect("watching the codecs directory");
    let served = Arc::new(Served::start(Arc::new(embedder)).await);

    let (status, body) = served.embed("titan", json!("hot swap under load")).await;
    assert_eq!(status, 200, "{body}");
    let reference = vectors(&body).remove(0);
    assert_eq!(reference.len(), 256);

    // A steady stream of requests from 3 clients until the swaps are done.
    let stop = Arc::new(AtomicBool::new(false));
    let failed = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for _ in 0..3 {
        let (served, stop, failed, reference) = (
            served.clone(),
            stop.clone(),
            failed.clone(),
            reference.clone(),
        );
        clients.push(tokio::spawn(async move {
            let (mut ok, mut seen) = (0usize, [0usize; 2]);
            while !stop.load(Ordering::Relaxed) {
                let (status, body) = served.embed("titan", json!(["hot swap under load"])).await;
                match (
                    status,
                    vectors(&body).first().and_then(|v| classify(v, &reference)),
                ) {
                    (200, Some(answer)) => {
                        ok += 1;
                        seen[answer as usize] += 1;
                    }
                    _ => {
                        eprintln!("failed request: {status} {body}");
                        failed.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            (ok, seen)
        }));
    }

    // 20 swaps, alternating the two codecs; each lands as a rename (the way to replace a file).
    let mut latencies = Vec::new();
    for i in 0..20 {
        let (bytes, expect) = if i % 2 == 0 {
            (&negated, Answer::Negated)
        } else {
            (&titan, Answer::Titan)
        };
        let want = sha(bytes);
        let landed = Instant::now();
        install(dir.path(), "titan.wasm", bytes);
        let took = wait_for(Duration::from_secs(10), || serving_sha(&catalog) == want)
            .unwrap_or_else(|| {
                panic!(
                    "swap {i} not serving after 10 s: {:?}",
                    row(&catalog, "titan.wasm")
                )
            });
        latencies.push(landed.elapsed().max(took));
        // The next request shows the switch.
        let (status, body) = served.embed("titan", json!("hot swap under load")).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            classify(&vectors(&body)[0], &reference),
            Some(expect),
            "swap {i}"
        );
        tokio::time::sleep(Duration::from_millis(30)).await;
    }

    // A corrupt replacement changes nothing: the previous codec keeps serving, the listing says why.
    let before = serving_sha(&catalog);
    install(
        dir.path(),
        "titan.wasm",
        b"\0asm\x0d\0\x01\0 this is not a component",
    );
    let failed_row = wait_for(Duration::from_secs(10), || {
        row(&catalog, "titan.wasm").is_some_and(|r| r.last_error.is_some())
    });
    assert!(failed_row.is_some(), "the corrupt file was not reported");
    let listing = row(&catalog, "titan.wasm").unwrap();
    let error = listing.last_error.clone().unwrap();
    assert!(
        error.contains("titan.wasm") && error.contains("not a valid WebAssembly component"),
        "{error}"
    );
    assert_eq!(
        listing.sha256.as_deref(),
        Some(before.as_str()),
        "the previous codec still listed as serving"
    );
    assert_eq!(serving_sha(&catalog), before);
    let (status, body) = served.embed("titan", json!("hot swap under load")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        classify(&vectors(&body)[0], &reference),
        Some(Answer::Titan)
    );

    stop.store(true, Ordering::Relaxed);
    let (mut ok, mut seen) = (0, [0usize; 2]);
    for client in clients {
        let (n, s) = client.await.unwrap();
        ok += n;
        seen[0] += s[0];
        seen[1] += s[1];
    }
    assert_eq!(
        failed.load(Ordering::Relaxed),
        0,
        "requests failed during the swaps"
    );
    assert!(ok >= 40, "only {ok} requests made it during the swaps");
    assert!(
        seen[0] > 0 && seen[1] > 0,
        "the clients saw both codecs: {seen:?}"
    );

    latencies.sort();
    println!(
        "hot-swap latency, file renamed into place → new requests use it ({} swaps, debounce {} ms \
         included, compiled-codec cache on): min {:?}, median {:?}, p90 {:?}, max {:?}; {ok} requests \
         served during the swaps, 0 failed",
        latencies.len(),
        bedrock_embed::codec::DEBOUNCE.as_millis(),
        latencies[0],
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.9),
        latencies[latencies.len() - 1],
    );
    Arc::try_unwrap(served)
        .ok()
        .expect("clients done")
        .stop()
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_overrides_a_builtin_and_removing_it_falls_back() {
    let dir = tempfile::tempdir().unwrap();
    let catalog = load_catalog(sandbox(None), dir.path()).await;
    let route = || {
        catalog
            .registry()
            .load()
            .route(TITAN_V2, None)
            .unwrap()
            .codec
    };
    assert_eq!(route().source().to_string(), "built-in");

    install(dir.path(), "titan.wasm", &guest_wasm("test_titan_negated"));
    let outcome = catalog.reload_file(&dir.path().join("titan.wasm"));
    assert!(
        matches!(outcome, Outcome::Loaded { ref name, .. } if name == "titan"),
        "{outcome:?}"
    );
    assert_eq!(route().info().version, "99.0.0-negated");
    let listing = catalog.listing();
    let builtin = listing
        .iter()
        .find(|c| c.builtin && c.name.as_deref() == Some("titan"))
        .unwrap();
    assert!(
        builtin.serves.is_empty(),
        "the built-in titan is overridden: {builtin:?}"
    );
    // Same bytes again: nothing to do.
    assert_eq!(
        catalog.reload_file(&dir.path().join("titan.wasm")),
        Outcome::Unchanged
    );

    std::fs::remove_file(dir.path().join("titan.wasm")).unwrap();
    let outcome = catalog.reload_file(&dir.path().join("titan.wasm"));
    assert_eq!(
        outcome,
        Outcome::Removed {
            name: Some("titan".into())
        }
    );
    assert_eq!(route().source().to_string(), "built-in");
    assert!(row(&catalog, "titan.wasm").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn removing_a_codec_no_builtin_replaces_answers_503_naming_the_prefix() {
    let emulator = bedrock_emulator::spawn(bedrock_emulator::Config::new())
        .await
        .expect("emulator");
    let dir = tempfile::tempdir().unwrap();
    // The template codec serves the made-up family example.echo-embed-*.
    install(dir.path(), "template.wasm", &guest_wasm("codec_template"));
    let catalog = load_catalog(sandbox(None), dir.path()).await;
    let text = spicepod_text(
        &emulator,
        &(entry("echo", "example.echo-embed-v1", "") + &entry("titan", TITAN_V2, "")),
    );
    let embedder = embedder_over(&catalog, &text, &emulator_secrets(&emulator))
        .await
        .expect("models build");
    let _watch = catalog.watch().unwrap();
    let served = Served::start(Arc::new(embedder)).await;

    std::fs::remove_file(dir.path().join("template.wasm")).unwrap();
    let gone = wait_for(Duration::from_secs(10), || {
        catalog
            .registry()
            .load()
            .route("example.echo-embed-v1", None)
            .is_err()
    });
    assert!(gone.is_some(), "the removed codec still serves");
    let err = catalog
        .registry()
        .load()
        .route("example.echo-embed-v1", None)
        .unwrap_err();
    assert!(
        matches!(err, RouteError::RemovedPrefix { ref prefix, .. } if prefix == "example.echo-embed-"),
        "{err:?}"
    );

    let (status, body) = served.embed("echo", json!("anyone there?")).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "codec_unavailable", "{body}");
    assert!(body["error"]["request_id"].is_string(), "{body}");
    // The client hears which prefix has no codec; the removed file's path is the operator's
    // (it is in the route error above, which the log gets).
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("\"example.echo-embed-\""), "{message}");
    assert!(
        !message.contains(&dir.path().display().to_string()),
        "{message}"
    );
    // The other models keep serving.
    let (status, body) = served.embed("titan", json!("still here")).await;
    assert_eq!(status, 200, "{body}");

    // Putting it back serves again.
    install(dir.path(), "template.wasm", &guest_wasm("codec_template"));
    let back = wait_for(Duration::from_secs(10), || {
        catalog
            .registry()
            .load()
            .route("example.echo-embed-v1", None)
            .is_ok()
    });
    assert!(back.is_some(), "the codec did not come back");
    served.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_swap_that_would_break_a_model_is_refused_and_changes_nothing() {
    let emulator = bedrock_emulator::spawn(bedrock_emulator::Config::new())
        .await
        .expect("emulator");
    let dir = tempfile::tempdir().unwrap();
    let catalog = load_catalog(sandbox(None), dir.path()).await;
    // Titan text v1: the built-in codec serves it; the negated test codec knows only v2.
    let text = spicepod_text(&emulator, &entry("v1", "amazon.titan-embed-text-v1", ""));
    let embedder = embedder_over(&catalog, &text, &emulator_secrets(&emulator))
        .await
        .expect("models build");

    install(dir.path(), "titan.wasm", &guest_wasm("test_titan_negated"));
    let outcome = catalog.reload_file(&dir.path().join("titan.wasm"));
    let Outcome::Failed(reason) = outcome else {
        panic!("expected the swap to be refused, got {outcome:?}");
    };
    assert!(
        reason.contains("titan.wasm")
            && reason.contains("\"v1\"")
            && reason.contains("refuses its params"),
        "{reason}"
    );
    assert_eq!(
        catalog
            .registry()
            .load()
            .route("amazon.titan-embed-text-v1", None)
            .unwrap()
            .codec
            .source()
            .to_string(),
        "built-in"
    );
    let embedded = embedder
        .embed("v1", vec!["still served".into()], None)
        .await
        .expect("v1 still served");
    assert_eq!(embedded.vectors[0].len(), 1536);
    assert!(row(&catalog, "titan.wasm").unwrap().last_error.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_files_claiming_one_prefix_name_both_and_the_second_loads_once_the_first_is_gone() {
    let dir = tempfile::tempdir().unwrap();
    let negated = guest_wasm("test_titan_negated");
    install(dir.path(), "a.wasm", &negated);
    install(dir.path(), "b.wasm", &negated);
    let catalog = load_catalog(sandbox(None), dir.path()).await;
    let failures = catalog.failures();
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert!(failures[0].path.ends_with("b.wasm"));
    let reason = &failures[0].reason;
    assert!(
        reason.contains("a.wasm")
            && reason.contains("b.wasm")
            && reason.contains("amazon.titan-embed-"),
        "{reason}"
    );

    std::fs::remove_file(dir.path().join("a.wasm")).unwrap();
    catalog.remove_file(&dir.path().join("a.wasm"));
    assert!(catalog.failures().is_empty(), "{:?}", catalog.failures());
    let serving = catalog
        .registry()
        .load()
        .route(TITAN_V2, None)
        .unwrap()
        .codec;
    assert!(serving.source().to_string().ends_with("b.wasm"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_loads_codecs_from_the_compiled_codec_cache() {
    let dir = tempfile::tempdir().unwrap();
    let cache = tempfile::tempdir().unwrap();
    install(dir.path(), "titan.wasm", &guest_wasm("test_titan_negated"));
    let first = Instant::now();
    let catalog = load_catalog(sandbox(Some(cache.path())), dir.path()).await;
    let first = first.elapsed();
    let entries = cache_entries(cache.path());
    // The built-ins and the file: one <sha256>.cwasm each, in one engine directory.
    assert_eq!(entries.len(), 3, "{entries:?}");
    assert!(
        entries
            .iter()
            .all(|(p, _)| p.extension().is_some_and(|e| e == "cwasm"))
    );
    drop(catalog);

    let second = Instant::now();
    let catalog = load_catalog(sandbox(Some(cache.path())), dir.path()).await;
    let second = second.elapsed();
    assert!(catalog.failures().is_empty());
    // A compile stores its result under a new temporary file renamed over the entry (a new
    // inode): the same inodes mean every codec was loaded from the cache, none compiled.
    assert_eq!(
        cache_entries(cache.path()),
        entries,
        "nothing compiled again"
    );
    println!("catalog load (2 built-ins + 1 file): compiled {first:?}, from the cache {second:?}");
}

/// The files of the cache with their inode, sorted by path.
fn cache_entries(dir: &std::path::Path) -> Vec<(std::path::PathBuf, u64)> {
    use std::os::unix::fs::MetadataExt as _;
    let mut entries: Vec<_> = walk(dir)
        .into_iter()
        .map(|p| {
            let ino = std::fs::metadata(&p).unwrap().ino();
            (p, ino)
        })
        .collect();
    entries.sort();
    entries
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
