//! bedrock-embed: serve Amazon Bedrock embeddings through an OpenAI-compatible API.
//!
//! The host owns everything that touches the outside world (secrets, AWS credentials, the rate
//! limiter, the signed InvokeModel call, HTTP). Each model family's wire format lives in a codec:
//! a sandboxed WebAssembly component implementing `wit/codec.wit`.

pub mod aws;
pub mod bulk;
pub mod cache;
pub mod codec;
pub mod commands;
pub mod embedder;
pub mod failure;
pub mod limiter;
pub mod model_id;
pub mod models;
pub mod redis_link;
pub mod secrets;
pub mod server;
pub mod spicepod;
