//! `just bench`: the figures of BENCHMARKS.md, measured side by side in one run.
//!
//! These machines are noisy, so every figure that has a target is a ratio of two things
//! measured in the same run, not an absolute time:
//! - [`codec`]: the codec sandbox tax (criterion), wasm component vs the same core native;
//! - [`host`]: the host tax, `/v1/embeddings` (load from `wrk`) vs direct aws-sdk calls (load
//!   from [`direct`]) against the same emulator process at the same concurrency;
//! - [`instructions`]: host instructions per request, counted by callgrind;
//! - [`limiter`]: limiter precision as the emulator saw it, and 10,000 texts at scale;
//! - [`tokens`]: the token limiter against the emulator's tokens-per-minute quota;
//! - [`startup`]: start-up to ready (compiled-codec cache cold and warm), hot-swap latency;
//! - [`hostile`]: 20,000 stalled sockets against `run`, `/health` latency meanwhile, and RSS
//!   idle / peak / after a flood per allocator setting;
//! - [`replicas`]: three replicas on one redis-server (shared-limiter precision), and the CPU
//!   and Redis round trips per request of an embeddings-cache hit vs a miss.
//!
//! [`report`] turns the rows into the table printed and written to BENCHMARKS.md.

pub mod codec;
pub mod direct;
pub mod host;
pub mod hostile;
pub mod instructions;
pub mod limiter;
pub mod procs;
pub mod replicas;
pub mod report;
pub mod startup;
pub mod stats;
pub mod tokens;
pub mod wrk;

/// The emulator's default key pair (bedrock-emulator's README), used by every side.
pub const ACCESS_KEY_ID: &str = bedrock_emulator::DEFAULT_ACCESS_KEY_ID;
pub const SECRET_ACCESS_KEY: &str = bedrock_emulator::DEFAULT_SECRET_ACCESS_KEY;

/// A deterministic English-like text of about `words` words, different per `seed`.
pub fn text(seed: usize, words: usize) -> String {
    const WORDS: &[&str] = &[
        "the",
        "quick",
        "brown",
        "fox",
        "jumps",
        "over",
        "lazy",
        "dog",
        "embedding",
        "vector",
        "search",
        "index",
        "query",
        "document",
        "model",
        "bedrock",
        "cosine",
        "similar",
        "semantic",
        "retrieval",
        "cluster",
        "river",
        "mountain",
        "city",
        "music",
        "garden",
        "energy",
        "market",
        "history",
        "science",
        "ocean",
        "winter",
    ];
    let mut state = (seed as u64)
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(1);
    let mut out = String::with_capacity(words * 8);
    for i in 0..words {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        if i > 0 {
            out.push(' ');
        }
        out.push_str(WORDS[(state % WORDS.len() as u64) as usize]);
    }
    out
}
