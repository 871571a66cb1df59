//! `bedrock-embed embed --input FILE --output FILE`: embed every line of a file, resumably.
//!
//! The input is cut into chunks of `--batch` lines; several chunks are embedded at once through
//! the same [`Embedder`] as the server (codec batching, the model's limiter, retries), enough to
//! keep the model's `max_concurrent_invocations` busy, and their results are written strictly
//! in input order: one output line per embedded line, one rejects line per bad line. What is in
//! those two files is what is done, so a rerun continues where a run stopped, however it
//! stopped (see [`resume`]).
//!
//! A chunk that the model refuses because of one of its texts (codec `InvalidInput`, Bedrock
//! `ValidationException`) is split in halves until the bad lines are found, so good lines are
//! not lost. Any other failure (credentials, access, throttling after every retry, a bad
//! `--dimensions`) stops the job: what is written stays, and a rerun resumes.

pub mod input;
pub mod output;
pub mod progress;
pub mod rejects;
pub mod resume;

pub use self::input::{Fields, InputFormat};

use std::future::Future;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use futures::StreamExt;
use futures::future::BoxFuture;
use futures::stream::FuturesOrdered;
use tokio::sync::mpsc;

use self::input::{Line, LineReader};
use self::output::{Sink, output_line};
use self::progress::Progress;
use self::rejects::{Reject, Summary};
use self::resume::Fingerprint;
use crate::commands::setup::{self, SetupArgs};
use crate::embedder::{EmbedError, Embedder};
use crate::failure::Failure;

/// Every line embedded.
pub const EXIT_OK: u8 = 0;
/// A fatal error (bad arguments, credentials, access, throttled after every retry, a bad line
/// with `--strict`, ...). What was written stays; rerun to resume.
pub const EXIT_FATAL: u8 = 1;
/// Bad command-line arguments (clap's usage errors exit 2; so it is not used for rejects).
pub const EXIT_USAGE: u8 = 2;
/// The job finished, but some lines were rejected (see the rejects file).
pub const EXIT_REJECTS: u8 = 3;
/// Interrupted (Ctrl-C or SIGTERM); rerun the same command to resume.
pub const EXIT_INTERRUPTED: u8 = 130;

/// Input lines per embed call, by default: one Cohere InvokeModel call, or 96 Titan calls.
pub const DEFAULT_BATCH: u32 = 96;

/// The `embed --help` epilogue.
pub const HELP_AFTER: &str = "\
File mode (--input FILE --output FILE):
  Every input line gets one output line {\"index\", \"id\", \"embedding\"[, \"text\"]}, in input
  order (index = 0-based input line; id = the --id-field value, null when absent and for plain
  text), or one record {\"line\", \"error\", \"id\"} in the rejects file (line = 1-based).
  Rejected: invalid JSON, a missing or non-string text field, an empty text, a text the model
  refuses. Interrupted or killed at any point, the same command resumes where it stopped; the
  job's identity is kept in <output>.progress.

Exit status (file mode):
  0    every line embedded
  1    fatal error (or a bad line with --strict); what was written stays: rerun to resume
  2    bad command-line arguments
  3    finished, with rejected lines (see the rejects file)
  130  interrupted (Ctrl-C or SIGTERM): rerun the same command to resume";

/// The file-mode flags of `embed`.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "File mode")]
pub struct FileArgs {
    /// Embed every line of FILE (JSONL or plain text; `-` for stdin) instead of TEXTs.
    #[arg(long, value_name = "FILE", requires = "output")]
    pub input: Option<PathBuf>,
    /// Where the vectors go (JSONL, one line per input line, in order). Resumed if it belongs to
    /// the same job.
    #[arg(long, value_name = "FILE", requires = "input")]
    pub output: Option<PathBuf>,
    /// The input's format [default: jsonl for .jsonl/.ndjson/.json, else text; text for stdin].
    #[arg(long, value_enum, requires = "input")]
    pub input_format: Option<InputFormat>,
    /// The JSONL field holding the text.
    #[arg(long, value_name = "NAME", default_value = "text", requires = "input")]
    pub text_field: String,
    /// The JSONL field holding the id copied to the output (null when absent).
    #[arg(long, value_name = "NAME", default_value = "id", requires = "input")]
    pub id_field: String,
    /// Copy each text into its output line.
    #[arg(long, requires = "input")]
    pub include_text: bool,
    /// Where rejected lines are recorded [default: <output>.rejects.jsonl].
    #[arg(long, value_name = "PATH", requires = "input")]
    pub rejects: Option<PathBuf>,
    /// Stop at the first bad line (exit 1) instead of recording it and going on.
    #[arg(long, requires = "input")]
    pub strict: bool,
    /// Input lines per embed call; enough calls run at once to keep the model's
    /// max_concurrent_invocations busy.
    #[arg(long, value_name = "N", default_value_t = DEFAULT_BATCH, value_parser = clap::value_parser!(u32).range(1..=100_000), requires = "input")]
    pub batch: u32,
    /// Start over: delete the output, rejects and journal of an earlier job.
    #[arg(long, requires = "input")]
    pub overwrite: bool,
}

/// One bulk job.
#[derive(Debug, Clone)]
pub struct Job {
    pub model: String,
    pub dimensions: Option<u32>,
    pub input: PathBuf,
    pub output: PathBuf,
    pub format: Option<InputFormat>,
    pub fields: Fields,
    pub include_text: bool,
    pub rejects: PathBuf,
    pub strict: bool,
    pub batch: usize,
    pub overwrite: bool,
}

impl Job {
    /// The job of `embed --model MODEL [--dimensions N] --input .. --output ..`.
    pub fn new(model: &str, dimensions: Option<u32>, args: FileArgs) -> Option<Self> {
        let (input, output) = (args.input?, args.output?);
        Some(Self {
            model: model.to_string(),
            dimensions,
            rejects: args
                .rejects
                .unwrap_or_else(|| resume::default_rejects_path(&output)),
            input,
            output,
            format: args.input_format,
            fields: Fields {
                text: args.text_field,
                id: args.id_field,
            },
            include_text: args.include_text,
            strict: args.strict,
            batch: args.batch.max(1) as usize,
            overwrite: args.overwrite,
        })
    }
}

/// How a job ended (fatal errors are `Err`).
#[derive(Debug)]
pub enum Outcome {
    Finished {
        embedded: u64,
        this_run: u64,
        rejects: Summary,
    },
    Interrupted {
        done: u64,
        total: Option<u64>,
    },
}

impl Outcome {
    pub fn exit_code(&self) -> u8 {
        match self {
            Self::Finished { rejects, .. } if rejects.count > 0 => EXIT_REJECTS,
            Self::Finished { .. } => EXIT_OK,
            Self::Interrupted { .. } => EXIT_INTERRUPTED,
        }
    }
}

/// The whole `embed --input` command: load the models, run the job, report, exit status.
pub async fn command(setup_args: SetupArgs, job: Job) -> ExitCode {
    let result = async {
        let mut setup = setup::load(&setup_args).await?;
        for warning in &setup.warnings {
            tracing::warn!("{warning}");
        }
        let embedder = setup.embedder();
        run(
            &embedder,
            &job,
            std::io::stderr().is_terminal(),
            interrupted(),
        )
        .await
    }
    .await;
    match result {
        Ok(outcome) => {
            eprintln!("{}", report(&job, &outcome));
            ExitCode::from(outcome.exit_code())
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::from(EXIT_FATAL)
        }
    }
}

/// Resolves on Ctrl-C (or SIGTERM); never if the signals cannot be watched.
async fn interrupted() {
    crate::commands::signal::shutdown_signal().await;
}

/// The closing message of a job.
pub fn report(job: &Job, outcome: &Outcome) -> String {
    match outcome {
        Outcome::Finished {
            embedded,
            this_run,
            rejects,
        } => {
            let mut out = format!(
                "embedded {embedded} line{} into {} ({this_run} in this run)",
                if *embedded == 1 { "" } else { "s" },
                job.output.display()
            );
            if rejects.count > 0 {
                out.push_str(&format!("; {}", rejects.render(&job.rejects)));
            }
            out
        }
        Outcome::Interrupted { done, total } => {
            let of = total.map(|t| format!(" of {t}")).unwrap_or_default();
            format!(
                "interrupted at line {}{of}; rerun the same command to resume",
                done + 1
            )
        }
    }
}

/// A line's fate.
type LineResult = Result<Vec<f32>, String>;

/// Vectors (or per-line errors) for texts, in order.
struct Embeds {
    results: Vec<LineResult>,
    retries: u64,
    invocations: usize,
    /// Input tokens Bedrock billed.
    tokens: u64,
}

/// A chunk embedded, or the line it stopped at and why.
struct ChunkDone {
    lines: Vec<Line>,
    embeds: Result<Embeds, EmbedError>,
}

/// Runs a job until it finishes, fails, or `interrupt` resolves.
pub async fn run(
    embedder: &Embedder,
    job: &Job,
    terminal: bool,
    interrupt: impl Future<Output = ()>,
) -> anyhow::Result<Outcome> {
    let model = embedder.model(&job.model)?.clone();
    let format = job
        .format
        .unwrap_or_else(|| InputFormat::detect(&job.input));
    let stdin = input::is_stdin(&job.input);
    if input::is_stdin(&job.output) {
        anyhow::bail!(
            "--output must be a file: the job resumes from it (stdout cannot be resumed)"
        );
    }
    if !stdin && same_file(&job.input, &job.output) {
        anyhow::bail!("--output {} is the input file", job.output.display());
    }
    let opened = input::open(&job.input)
        .map_err(|e| anyhow::anyhow!("--input {}: {e}", job.input.display()))?;
    let fingerprint = Fingerprint {
        input: if stdin {
            "-".into()
        } else {
            std::path::absolute(&job.input)
                .unwrap_or_else(|_| job.input.clone())
                .display()
                .to_string()
        },
        input_size: opened.size,
        input_head_sha256: opened.head_sha256,
        input_format: format.name().into(),
        text_field: job.fields.text.clone(),
        id_field: job.fields.id.clone(),
        include_text: job.include_text,
        model: job.model.clone(),
        model_id: model.model_id.clone(),
        dimensions: job.dimensions,
    };
    let start = resume::prepare(&job.output, &job.rejects, &fingerprint, job.overwrite)?;
    // The model's `embedding_type` param decides the type for the whole job.
    let embedding_type = model.embedding_type;
    let total = if stdin {
        None
    } else {
        Some(
            input::count_lines(&job.input)
                .map_err(|e| anyhow::anyhow!("--input {}: {e}", job.input.display()))?,
        )
    };
    if start.done > 0 {
        tracing::info!(
            "resuming {} at line {}{} ({} embedded, {} rejected before)",
            job.output.display(),
            start.done + 1,
            total.map(|t| format!(" of {t}")).unwrap_or_default(),
            start.embedded,
            start.rejects.count
        );
    }

    let mut sink = Sink::open(&job.output, &job.rejects)
        .map_err(|e| anyhow::anyhow!("--output {}: {e}", job.output.display()))?;
    let mut progress = Progress::new(terminal, total, start.done, start.rejects.count);
    let mut rejects = start.rejects;
    let mut embedded = start.embedded;
    let mut done = start.done;

    // The reader: a plain thread (stdin may block forever), parsing as it reads.
    let (tx, mut rx) = mpsc::channel::<Result<Vec<Line>, String>>(4);
    {
        let (mut reader, skip, batch, fields) = (
            LineReader::new(opened.reader),
            start.done,
            job.batch,
            job.fields.clone(),
        );
        let input_name = job.input.display().to_string();
        std::thread::spawn(move || {
            let mut read = || -> Result<(), String> {
                let skipped = reader
                    .skip(skip)
                    .map_err(|e| format!("--input {input_name}: {e}"))?;
                if skipped < skip {
                    return Err(format!(
                        "--input {input_name} has {skipped} lines but the output already covers {skip}: is it the same input?"
                    ));
                }
                loop {
                    let mut chunk = Vec::with_capacity(batch);
                    while chunk.len() < batch {
                        match reader
                            .next_line()
                            .map_err(|e| format!("--input {input_name}: {e}"))?
                        {
                            Some((number, bytes)) => chunk.push(Line {
                                number,
                                doc: input::parse_line(format, &fields, bytes),
                            }),
                            None => break,
                        }
                    }
                    let last = chunk.len() < batch;
                    if !chunk.is_empty() && tx.blocking_send(Ok(chunk)).is_err() {
                        return Ok(());
                    }
                    if last {
                        return Ok(());
                    }
                }
            };
            if let Err(e) = read() {
                let _ = tx.blocking_send(Err(e));
            }
        });
    }

    let max_concurrent = model.limiter.limits().max_concurrent_invocations.max(1) as usize;
    let mut in_flight = 2usize;
    let mut pending = FuturesOrdered::new();
    let mut input_done = false;
    let mut stop: Option<anyhow::Error> = None;
    let mut was_interrupted = false;
    let this_run_start = embedded;
    tokio::pin!(interrupt);

    while !(input_done && pending.is_empty()) {
        tokio::select! {
            biased;
            () = &mut interrupt => {
                was_interrupted = true;
                break;
            }
            Some(chunk) = pending.next(), if !pending.is_empty() => {
                let ChunkDone { lines, embeds } = chunk;
                let first_line = lines.first().map_or(done + 1, |l: &Line| l.number);
                let embeds = match embeds {
                    Ok(e) => e,
                    Err(err) => {
                        stop = Some(anyhow::anyhow!("{}", stopped_at(first_line, total, &err.to_string())));
                        break;
                    }
                };
                // Enough chunks in flight to keep every invocation slot busy, plus one queued.
                let per_chunk = embeds.invocations.max(1);
                in_flight = in_flight.max((max_concurrent.div_ceil(per_chunk) + 1).min(max_concurrent + 1));
                let (mut chunk_done, mut chunk_rejected) = (0u64, 0u64);
                let mut results = embeds.results.into_iter();
                let write = || -> anyhow::Result<()> {
                    for line in lines {
                        let (id, error) = match line.doc {
                            Ok(doc) => match results.next().expect("one result per good line") {
                                Ok(vector) => {
                                    let text = job.include_text.then_some(doc.text.as_str());
                                    sink.write_vector(&output_line(line.number - 1, &doc.id, &vector, embedding_type, text))?;
                                    embedded += 1;
                                    chunk_done += 1;
                                    continue;
                                }
                                Err(error) => (doc.id, error),
                            },
                            Err(bad) => (bad.id, bad.error),
                        };
                        if job.strict {
                            anyhow::bail!("{}", stopped_at(line.number, total, &format!("{error} (--strict)")));
                        }
                        let reject = Reject { line: line.number, error, id };
                        sink.write_reject(&reject)?;
                        rejects.add(&reject);
                        chunk_done += 1;
                        chunk_rejected += 1;
                    }
                    Ok(())
                };
                let written = write();
                done += chunk_done;
                progress.advance(chunk_done, chunk_rejected, embeds.retries, embeds.tokens);
                if let Err(err) = written {
                    stop = Some(err);
                    break;
                }
                sink.flush()?;
            }
            chunk = rx.recv(), if !input_done && pending.len() < in_flight => match chunk {
                Some(Ok(lines)) => pending.push_back(embed_chunk(embedder, &job.model, job.dimensions, lines)),
                Some(Err(err)) => {
                    stop = Some(anyhow::anyhow!("{}", stopped_at(done + 1, total, &err)));
                    break;
                }
                None => input_done = true,
            },
        }
    }
    drop(pending);
    progress.finish();
    sink.sync()
        .map_err(|e| anyhow::anyhow!("--output {}: {e}", job.output.display()))?;
    if let Some(err) = stop {
        return Err(err);
    }
    if was_interrupted {
        return Ok(Outcome::Interrupted { done, total });
    }
    if rejects.count == 0 && std::fs::metadata(&job.rejects).is_ok_and(|m| m.len() == 0) {
        let _ = std::fs::remove_file(&job.rejects);
    }
    Ok(Outcome::Finished {
        embedded,
        this_run: embedded - this_run_start,
        rejects,
    })
}

fn stopped_at(line: u64, total: Option<u64>, error: &str) -> String {
    let of = total.map(|t| format!(" of {t}")).unwrap_or_default();
    format!(
        "stopped at line {line}{of}: {error}\nwhat was written is kept: fix the cause and rerun the same command to resume"
    )
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    }
}

/// Embeds the good lines of a chunk.
async fn embed_chunk(
    embedder: &Embedder,
    model: &str,
    dimensions: Option<u32>,
    lines: Vec<Line>,
) -> ChunkDone {
    let texts: Vec<String> = lines
        .iter()
        .filter_map(|l| l.doc.as_ref().ok().map(|d| d.text.clone()))
        .collect();
    let embeds = if texts.is_empty() {
        Ok(Embeds {
            results: Vec::new(),
            retries: 0,
            invocations: 0,
            tokens: 0,
        })
    } else {
        embed_texts(embedder, model, dimensions, texts).await
    };
    ChunkDone { lines, embeds }
}

/// True when the error is about one of the texts (so the others can still be embedded).
fn is_line_error(err: &EmbedError) -> bool {
    Failure::of(err).is_input_fault()
}

/// Embeds `texts`; when the model refuses the batch because of a text, splits it in halves
/// until each refused text stands alone and is reported as that line's error.
fn embed_texts<'a>(
    embedder: &'a Embedder,
    model: &'a str,
    dimensions: Option<u32>,
    texts: Vec<String>,
) -> BoxFuture<'a, Result<Embeds, EmbedError>> {
    Box::pin(async move {
        let n = texts.len();
        let (left, right) = match embedder.embed(model, texts.clone(), dimensions).await {
            Ok(e) => {
                return Ok(Embeds {
                    results: e.vectors.into_iter().map(Ok).collect(),
                    retries: u64::from(e.attempts).saturating_sub(e.invocations as u64),
                    invocations: e.invocations,
                    tokens: e.prompt_tokens,
                });
            }
            Err(err) if is_line_error(&err) && n == 1 => {
                return Ok(Embeds {
                    results: vec![Err(err.to_string())],
                    retries: 0,
                    invocations: 1,
                    tokens: 0,
                });
            }
            Err(err) if is_line_error(&err) => {
                let mut texts = texts;
                let right = texts.split_off(n / 2);
                (texts, right)
            }
            Err(err) => return Err(err),
        };
        tracing::debug!(
            lines = n,
            "the model refused a batch; splitting it to find the bad lines"
        );
        let (a, b) = futures::join!(
            embed_texts(embedder, model, dimensions, left),
            embed_texts(embedder, model, dimensions, right)
        );
        let (mut a, b) = (a?, b?);
        a.results.extend(b.results);
        a.retries += b.retries;
        a.tokens += b.tokens;
        a.invocations = a.invocations.max(b.invocations);
        Ok(a)
    })
}
