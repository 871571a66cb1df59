//! `cargo bench -p bedrock-embed-bench --bench codec`: the codec sandbox tax alone (wasm
//! component as the host calls it vs the same core native). `just bench` runs the same code
//! from the `bedrock-embed-bench` binary, with everything else.

use criterion::{criterion_group, criterion_main};

criterion_group!(benches, bedrock_embed_bench::codec::bench);
criterion_main!(benches);
