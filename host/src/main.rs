//! The `bedrock-embed` command line. Argument parsing only; the work is in the library.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "bedrock-embed",
    version,
    about = "Serve Amazon Bedrock embeddings through an OpenAI-compatible API, with model wire formats as sandboxed WebAssembly codecs"
)]
struct Cli {
    /// Log filter (tracing EnvFilter syntax), e.g. `info`, `debug`, `bedrock_embed=debug`.
    #[arg(long, global = true, env = "BEDROCK_EMBED_LOG", default_value = "info")]
    log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
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

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log);
    let result = match cli.command {
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

fn init_logging(filter: &str) {
    let filter = tracing_subscriber::EnvFilter::try_new(filter).unwrap_or_else(|err| {
        eprintln!("warning: invalid log filter {filter:?} ({err}); using `info`");
        tracing_subscriber::EnvFilter::new("info")
    });
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
