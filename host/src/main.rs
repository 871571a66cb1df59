//! The `bedrock-embed` command line. Argument parsing only; the work is in the library.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use bedrock_embed::commands::{self, setup, setup::SetupArgs};
use clap::{Parser, Subcommand};

/// jemalloc, returning freed memory to the OS: a background thread purges pages unused for a
/// second (`dirty_decay_ms:1000`) and drops them at once instead of keeping them as "muzzy"
/// (`muzzy_decay_ms:0`). After a flood of connections glibc's malloc kept ~10× the idle RSS, and
/// jemalloc with these settings ~3× of it (BENCHMARKS.md, section 6 "hostile", compares them in
/// one run). `_RJEM_MALLOC_CONF` in the environment overrides these settings.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Read by jemalloc at its first allocation (tikv-jemallocator's symbols carry the `_rjem_`
/// prefix). A NUL-terminated C string.
#[allow(non_upper_case_globals)]
#[unsafe(export_name = "_rjem_malloc_conf")]
pub static malloc_conf: &[u8] = b"background_thread:true,dirty_decay_ms:1000,muzzy_decay_ms:0\0";

#[derive(Parser)]
#[command(
    name = "bedrock-embed",
    version,
    about = "Serve Amazon Bedrock embeddings through an OpenAI-compatible API, with model wire formats as sandboxed WebAssembly codecs"
)]
struct Cli {
    /// Log filter (tracing EnvFilter syntax), e.g. `info`, `debug`, `bedrock_embed=debug`.
    /// The AWS SDK's own credential-chain warnings are off by default: bedrock-embed reports
    /// credential problems itself, once, with the fix.
    #[arg(
        long,
        global = true,
        env = "BEDROCK_EMBED_LOG",
        default_value = "info,aws_config=error"
    )]
    log: String,
    #[command(subcommand)]
    command: Command,
}

/// Where the models come from: shared by run, check and embed.
#[derive(clap::Args, Clone)]
struct Load {
    /// The spicepod file (or a directory holding spicepod.yaml).
    #[arg(long, value_name = "PATH", default_value = "spicepod.yaml")]
    spicepod: PathBuf,
    /// Directory of codec .wasm files that extend or override the built-in codecs
    /// [default: ./codecs when it exists].
    #[arg(long, value_name = "DIR")]
    codecs: Option<PathBuf>,
    /// Serve every model from a local Bedrock emulator started in-process (no AWS account,
    /// no network; deterministic stand-in vectors).
    #[arg(long)]
    offline: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the spicepod's models through the OpenAI-compatible HTTP API until SIGINT/SIGTERM.
    Run {
        #[command(flatten)]
        load: Load,
        /// Address to listen on (`127.0.0.1:0` picks a free port; the chosen address is printed).
        #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8090")]
        http: std::net::SocketAddr,
    },
    /// Load and validate everything (spicepod, secrets, codec params, credentials) without
    /// calling Bedrock. Exits 0 when good; lists every problem otherwise.
    Check {
        #[command(flatten)]
        load: Load,
    },
    /// Embed TEXTs with one model and print the vectors as JSON, or embed every line of a file
    /// (--input FILE --output FILE), resumably.
    #[command(after_help = bedrock_embed::bulk::HELP_AFTER)]
    Embed {
        /// The model's `name` in the spicepod.
        #[arg(long)]
        model: String,
        /// Vector size, for models that offer several (e.g. 256 for Titan v2).
        #[arg(long)]
        dimensions: Option<u32>,
        #[command(flatten)]
        load: Load,
        /// The texts to embed (or use --input).
        #[arg(required_unless_present = "input", conflicts_with = "input")]
        texts: Vec<String>,
        #[command(flatten)]
        file: bedrock_embed::bulk::FileArgs,
    },
    /// List the codecs: name, version, WIT interface version, model prefixes, and source.
    Codecs {
        /// Directory of codec .wasm files that extend or override the built-in codecs
        /// [default: ./codecs when it exists].
        #[arg(long, value_name = "DIR")]
        codecs: Option<PathBuf>,
        /// Print JSON (with params and sha256) instead of a table.
        #[arg(long)]
        json: bool,
    },
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log);
    let result = match cli.command {
        Command::Run { load, http } => match setup_args(&load).await {
            Ok((args, _emulator)) => commands::run::run(args, http).await,
            Err(err) => Err(err),
        },
        Command::Check { load } => match setup_args(&load).await {
            Ok((args, _emulator)) => commands::check::run(args, &mut std::io::stdout()).await,
            Err(err) => Err(err),
        },
        Command::Embed {
            model,
            dimensions,
            load,
            texts,
            file,
        } => match setup_args(&load).await {
            Ok((args, _emulator)) => {
                match bedrock_embed::bulk::Job::new(&model, dimensions, file) {
                    Some(job) => return bedrock_embed::bulk::command(args, job).await,
                    None => {
                        commands::embed::run(
                            args,
                            &model,
                            texts,
                            dimensions,
                            &mut std::io::stdout(),
                        )
                        .await
                    }
                }
            }
            Err(err) => Err(err),
        },
        Command::Codecs { codecs, json } => {
            let dir = bedrock_embed::commands::codecs_dir(codecs.as_deref());
            bedrock_embed::commands::codecs::run(
                dir.as_deref(),
                json,
                &mut std::io::stdout().lock(),
            )
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

/// The shared load arguments, with the in-process emulator started for `--offline` (kept
/// alive by the caller for as long as the models are used).
async fn setup_args(
    load: &Load,
) -> anyhow::Result<(SetupArgs, Option<bedrock_emulator::Emulator>)> {
    let (emulator, offline) = if load.offline {
        let (emulator, target) = setup::start_offline_emulator().await?;
        (Some(emulator), Some(target))
    } else {
        (None, None)
    };
    let args = SetupArgs {
        spicepod: load.spicepod.clone(),
        codecs_dir: commands::codecs_dir(load.codecs.as_deref()),
        offline,
    };
    Ok((args, emulator))
}

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|err| {
        eprintln!("warning: invalid log filter {filter:?} ({err}); using `info`");
        tracing_subscriber::EnvFilter::new("info")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .init();
}
