//! `bedrock-embed embed --input FILE --output FILE` end to end: the real binary with
//! `--offline` (its own in-process emulator, deterministic vectors), killed with SIGKILL midway
//! and resumed; bad lines into the rejects file with the documented exit statuses; and the
//! Ctrl-C path in-process.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use bedrock_embed::aws::RetryBudget;
use bedrock_embed::bulk::{self, Fields, Job, Outcome};
use bedrock_embed_tests::hosted::{build, emulator_secrets, entry, spicepod_text};
use serde_json::{Value, json};

/// The `bedrock-embed` binary (`BEDROCK_EMBED_BIN`, else built once per test process).
fn bin() -> std::path::PathBuf {
    bedrock_embed_tests::bin::host_binary()
}

/// A spicepod for `--offline`: Cohere v3 slowed to 10 calls/s (96 texts each), Titan v2 as is.
const SPICEPOD: &str = "\
version: v1
kind: Spicepod
name: bulk-test
embeddings:
  - from: bedrock:cohere.embed-english-v3
    name: cohere
    params:
      input_type: search_document
      requests_per_min_limit: \"600\"
      max_concurrent_invocations: \"4\"
  - from: bedrock:amazon.titan-embed-text-v2:0
    name: titan
  - from: bedrock:cohere.embed-english-v3
    name: cohere-int8
    params:
      input_type: search_document
      embedding_type: int8
";

struct Dir {
    dir: tempfile::TempDir,
}

impl Dir {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("spicepod.yaml"), SPICEPOD).unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `bedrock-embed embed --offline --spicepod .. ARGS`, stderr to a file, stdin closed.
    fn embed(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin());
        cmd.current_dir(self.dir.path())
            .args(["embed", "--offline", "--spicepod", "spicepod.yaml"])
            .args(args)
            .env("BEDROCK_EMBED_LOG", "info,aws_config=error")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.embed(args).output().expect("run bedrock-embed")
    }
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn read_jsonl(path: &Path) -> Vec<Value> {
    std::fs::read_to_string(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .lines()
        .map(|l| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{}: bad line {l:.80}: {e}", path.display()))
        })
        .collect()
}

fn complete_lines(path: &Path) -> usize {
    std::fs::read(path)
        .map(|b| b.iter().filter(|&&c| c == b'\n').count())
        .unwrap_or(0)
}

fn vector(v: &Value) -> Vec<f32> {
    serde_json::from_value(v["embedding"].clone()).expect("embedding is a list of floats")
}

fn text_of(i: usize) -> String {
    const TOPICS: &[&str] = &[
        "rivers",
        "compilers",
        "bread",
        "violins",
        "glaciers",
        "tax law",
        "beetles",
    ];
    format!(
        "document {i} is about {} and {}",
        TOPICS[i % TOPICS.len()],
        TOPICS[(i / 7) % TOPICS.len()]
    )
}

#[test]
fn killed_midway_with_sigkill_then_resumed_gives_every_line_once_in_order() {
    const LINES: usize = 5_000;
    let dir = Dir::new();
    let input: String = (0..LINES)
        .map(|i| {
            format!(
                "{}\n",
                json!({"id": format!("doc-{i}"), "text": text_of(i)})
            )
        })
        .collect();
    std::fs::write(dir.path("docs.jsonl"), input).unwrap();
    let out = dir.path("vectors.jsonl");
    let args = [
        "--model",
        "cohere",
        "--input",
        "docs.jsonl",
        "--output",
        "vectors.jsonl",
    ];

    // 53 Cohere calls at 10/s: ~5 s. Kill it once some chunks are written.
    let mut child = dir
        .embed(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            panic!(
                "the job ended ({status}) before it could be killed, with {} lines",
                complete_lines(&out)
            );
        }
        if complete_lines(&out) >= 500 {
            break;
        }
        assert!(Instant::now() < deadline, "no progress in 60 s");
        std::thread::sleep(Duration::from_millis(10));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let before = complete_lines(&out);
    assert!((500..LINES).contains(&before), "killed with {before} lines");
    // Whatever the kill left, add a torn record as a write cut mid-line would.
    let mut bytes = std::fs::read(&out).unwrap();
    bytes.extend_from_slice(br#"{"index":4321,"id":"doc-43"#);
    std::fs::write(&out, bytes).unwrap();

    let resumed = dir.run(&args);
    let log = stderr(&resumed);
    assert_eq!(resumed.status.code(), Some(0), "{log}");
    assert!(log.contains("resuming vectors.jsonl at line"), "{log}");
    assert!(log.contains(&format!("embedded {LINES} lines")), "{log}");

    let lines = read_jsonl(&out);
    assert_eq!(lines.len(), LINES);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["index"], i, "line {i}");
        assert_eq!(line["id"], format!("doc-{i}"), "line {i}");
        assert_eq!(
            vector(line),
            // The spicepod sends input_type search_document, which the emulator embeds as.
            bedrock_emulator::embed_as(&text_of(i), 1024, true, Some("search_document")),
            "line {i}"
        );
    }
    assert!(!dir.path("vectors.jsonl.rejects.jsonl").exists());

    // A finished job rerun is a no-op.
    let again = dir.run(&args);
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("(0 in this run)"),
        "{}",
        stderr(&again)
    );
    assert_eq!(complete_lines(&out), LINES);
}

#[test]
fn bad_lines_go_to_the_rejects_file_with_exit_status_3() {
    let dir = Dir::new();
    let long = "x".repeat(50_001); // over Titan v2's 50,000 characters: the codec refuses it
    let many_tokens = "a ".repeat(9_000); // 9,000 tokens > 8,192: Bedrock's ValidationException
    let lines = [
        json!({"id": "a", "text": "the first good line"}).to_string(),
        "{not json".to_string(),
        json!({"id": "c"}).to_string(),
        json!({"id": "d", "text": "   "}).to_string(),
        json!({"id": "e", "text": long}).to_string(),
        json!({"id": "f", "text": many_tokens}).to_string(),
        json!({"id": "g", "text": "a good line after the bad ones"}).to_string(),
        String::new(),
        json!({"id": "i", "text": "the last good line"}).to_string(),
    ];
    std::fs::write(dir.path("bad.jsonl"), lines.join("\n") + "\n").unwrap();
    let args = [
        "--model",
        "titan",
        "--input",
        "bad.jsonl",
        "--output",
        "out.jsonl",
        "--batch",
        "4",
    ];

    let run = dir.run(&args);
    let log = stderr(&run);
    assert_eq!(run.status.code(), Some(3), "{log}");
    assert!(
        log.contains("6 lines rejected (listed in out.jsonl.rejects.jsonl)"),
        "{log}"
    );
    assert!(log.contains("line 2: invalid JSON"), "{log}");

    let out = read_jsonl(&dir.path("out.jsonl"));
    let embedded: Vec<(u64, &str)> = out
        .iter()
        .map(|l| (l["index"].as_u64().unwrap(), l["id"].as_str().unwrap()))
        .collect();
    assert_eq!(embedded, vec![(0, "a"), (6, "g"), (8, "i")]);
    for l in &out {
        let text = lines[l["index"].as_u64().unwrap() as usize].clone();
        let text: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            vector(l),
            bedrock_emulator::embed(text["text"].as_str().unwrap(), 1024, true)
        );
    }
    let rejects = read_jsonl(&dir.path("out.jsonl.rejects.jsonl"));
    let got: Vec<(u64, Value)> = rejects
        .iter()
        .map(|r| (r["line"].as_u64().unwrap(), r["id"].clone()))
        .collect();
    assert_eq!(
        got,
        vec![
            (2, Value::Null),
            (3, json!("c")),
            (4, json!("d")),
            (5, json!("e")),
            (6, json!("f")),
            (8, Value::Null)
        ]
    );
    let errors: Vec<&str> = rejects
        .iter()
        .map(|r| r["error"].as_str().unwrap())
        .collect();
    assert!(errors[0].starts_with("invalid JSON"), "{errors:?}");
    assert_eq!(errors[1], "missing field \"text\"");
    assert_eq!(errors[2], "empty text in field \"text\"");
    assert!(
        errors[3].contains("50000") || errors[3].contains("50,000"),
        "{errors:?}"
    );
    assert!(errors[4].contains("Too many input tokens"), "{errors:?}");

    // Rerun: the job is done; same rejects, same status, nothing rewritten.
    let again = dir.run(&args);
    assert_eq!(again.status.code(), Some(3), "{}", stderr(&again));
    assert_eq!(read_jsonl(&dir.path("out.jsonl.rejects.jsonl")).len(), 6);

    // The same output with other arguments is refused, and --overwrite starts over.
    let other = dir.run(&[&args[..], &["--dimensions", "256"]].concat());
    assert_eq!(other.status.code(), Some(1), "{}", stderr(&other));
    assert!(
        stderr(&other).contains("--output") && stderr(&other).contains("--overwrite"),
        "{}",
        stderr(&other)
    );
    let over = dir.run(&[&args[..], &["--dimensions", "256", "--overwrite"]].concat());
    assert_eq!(over.status.code(), Some(3), "{}", stderr(&over));
    let out = read_jsonl(&dir.path("out.jsonl"));
    assert_eq!(out.len(), 3);
    assert!(out.iter().all(|l| vector(l).len() == 256));

    // --strict stops at the first bad line with status 1, keeping the lines before it.
    let strict = dir.run(&[
        "--model",
        "titan",
        "--input",
        "bad.jsonl",
        "--output",
        "strict.jsonl",
        "--strict",
    ]);
    let log = stderr(&strict);
    assert_eq!(strict.status.code(), Some(1), "{log}");
    assert!(
        log.contains("stopped at line 2 of 9: invalid JSON") && log.contains("(--strict)"),
        "{log}"
    );
    assert_eq!(read_jsonl(&dir.path("strict.jsonl")).len(), 1);
    assert!(!dir.path("strict.jsonl.rejects.jsonl").exists());
}

#[test]
fn plain_text_from_stdin_and_the_help_text() {
    let dir = Dir::new();
    let mut child = dir
        .embed(&[
            "--model",
            "titan",
            "--input",
            "-",
            "--output",
            "out.jsonl",
            "--include-text",
            "--dimensions",
            "256",
        ])
        .stdin(Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().unwrap();
        stdin.write_all(b"alpha beta\r\ngamma\n").unwrap();
    }
    let run = child.wait_with_output().unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    let out = read_jsonl(&dir.path("out.jsonl"));
    assert_eq!(out.len(), 2);
    assert_eq!(out[0]["text"], "alpha beta");
    assert_eq!(out[1]["id"], Value::Null);
    assert_eq!(vector(&out[1]), bedrock_emulator::embed("gamma", 256, true));

    let help = Command::new(bin())
        .args(["embed", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    for needle in [
        "--input <FILE>",
        "--output <FILE>",
        "--strict",
        "--rejects <PATH>",
        "Exit status",
        "130",
    ] {
        assert!(
            help.contains(needle),
            "{needle} missing from embed --help:\n{help}"
        );
    }
    // TEXT and --input are exclusive.
    let both = dir.run(&[
        "--model", "titan", "--input", "x.txt", "--output", "o.jsonl", "hello",
    ]);
    assert_eq!(
        both.status.code(),
        Some(2),
        "clap usage error: {}",
        stderr(&both)
    );
}

#[test]
fn a_compact_embedding_type_is_written_as_json_integers() {
    let dir = Dir::new();
    std::fs::write(dir.path("in.txt"), "alpha beta\ngamma\n").unwrap();
    for (model, out) in [("cohere", "float.jsonl"), ("cohere-int8", "int8.jsonl")] {
        let run = dir.run(&["--model", model, "--input", "in.txt", "--output", out]);
        assert_eq!(run.status.code(), Some(0), "{}", stderr(&run));
    }
    let float = read_jsonl(&dir.path("float.jsonl"));
    let int8 = read_jsonl(&dir.path("int8.jsonl"));
    assert_eq!(int8.len(), 2);
    for (f, i) in float.iter().zip(&int8) {
        let want: Vec<Value> = bedrock_emulator::vectors::cohere_int8(&vector(f))
            .into_iter()
            .map(|x| json!(x))
            .collect();
        // Integers in the file (`12`, not `12.0`), equal to what Bedrock derived from the floats.
        assert_eq!(i["embedding"], Value::Array(want), "line {}", i["index"]);
        assert!(i["embedding"][0].is_i64(), "{}", i["embedding"][0]);
    }
}

/// Ctrl-C, in-process: the job stops with only complete, in-order lines written, says how to
/// resume, and the rerun finishes it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_job_resumes() {
    const LINES: usize = 2_000;
    let emulator = bedrock_emulator::spawn(bedrock_emulator::Config::new())
        .await
        .unwrap();
    let pod = spicepod_text(
        &emulator,
        &entry(
            "cohere",
            "cohere.embed-english-v3",
            "      input_type: search_document\n      requests_per_min_limit: \"600\"\n      max_concurrent_invocations: \"2\"\n",
        ),
    );
    let embedder = build(&pod, &emulator_secrets(&emulator), RetryBudget::default())
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("docs.txt");
    std::fs::write(
        &input,
        (0..LINES).map(|i| text_of(i) + "\n").collect::<String>(),
    )
    .unwrap();
    let output = dir.path().join("out.jsonl");
    let job = Job {
        model: "cohere".into(),
        dimensions: None,
        input: input.clone(),
        output: output.clone(),
        format: None,
        fields: Fields {
            text: "text".into(),
            id: "id".into(),
        },
        include_text: false,
        rejects: bulk::resume::default_rejects_path(&output),
        strict: false,
        batch: 96,
        overwrite: false,
    };

    let watched = output.clone();
    let ctrl_c = async move {
        while complete_lines(&watched) < 300 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    };
    let outcome = bulk::run(&embedder, &job, false, ctrl_c).await.unwrap();
    let Outcome::Interrupted { done, total } = outcome else {
        panic!("not interrupted: {outcome:?}")
    };
    assert_eq!(total, Some(LINES as u64));
    assert!((300..LINES as u64).contains(&done), "{done}");
    assert_eq!(
        complete_lines(&output) as u64,
        done,
        "only complete lines, all of them done"
    );
    let message = bulk::report(&job, &outcome);
    assert_eq!(
        message,
        format!(
            "interrupted at line {} of {LINES}; rerun the same command to resume",
            done + 1
        )
    );
    assert_eq!(outcome.exit_code(), 130);

    let outcome = bulk::run(&embedder, &job, false, std::future::pending())
        .await
        .unwrap();
    let Outcome::Finished {
        embedded,
        this_run,
        ref rejects,
    } = outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(
        (embedded, this_run, rejects.count),
        (LINES as u64, LINES as u64 - done, 0)
    );
    let lines = read_jsonl(&output);
    assert_eq!(lines.len(), LINES);
    for (i, line) in lines.iter().enumerate() {
        assert_eq!(line["index"], i);
        assert_eq!(
            vector(line),
            // The spicepod sends input_type search_document, which the emulator embeds as.
            bedrock_emulator::embed_as(&text_of(i), 1024, true, Some("search_document")),
            "line {i}"
        );
    }
}
