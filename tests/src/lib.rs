//! Shared harness for the end-to-end tests in this directory.

pub mod bin;
pub mod codec_dir;
pub mod codecs;
pub mod hosted;
pub mod redis_server;
pub mod replica;
