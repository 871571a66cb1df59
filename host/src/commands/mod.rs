//! The bodies of the CLI subcommands (main.rs only parses arguments).

pub mod check;
pub mod codecs;
pub mod embed;
pub mod run;
pub mod setup;
pub mod signal;

use std::path::{Path, PathBuf};

/// `--codecs DIR` if given, else `./codecs` when it exists.
pub fn codecs_dir(flag: Option<&Path>) -> Option<PathBuf> {
    match flag {
        Some(dir) => Some(dir.to_path_buf()),
        None => Some(PathBuf::from("codecs")).filter(|d| d.is_dir()),
    }
}
