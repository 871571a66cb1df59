//! Shared harness for the end-to-end tests in this directory.

pub mod codecs;
pub mod hosted;
