//! `SpicepodError`: every problem of one file, each with its location, entry, key and fix.

use std::fmt;
use std::path::{Path, PathBuf};

/// What kind of problem (stable, for tests and for callers that map problems to exit codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ProblemKind {
    // The file.
    NotFound,
    Unreadable,
    Syntax,
    EmptyFile,
    NotAMapping,
    // Top level.
    UnknownTopLevelKey,
    BadVersion,
    BadKind,
    BadPodName,
    NoEmbeddings,
    EmbeddingsNotAList,
    // An entry.
    EntryNotAMapping,
    UnknownEntryKey,
    MissingFrom,
    BadFrom,
    UnsupportedProvider,
    EmptyModelId,
    BadModelId,
    MissingName,
    BadName,
    DuplicateName,
    BadDescription,
    ParamsNotAMapping,
    // Params.
    BadParamKey,
    BadParamValue,
    UnknownAwsParam,
    InvalidRegion,
    InvalidEndpoint,
    InvalidLimit,
    IncompleteCredentials,
    InvalidCredential,
    EmptyParam,
    // `runtime:`.
    BadRuntime,
    // Secrets.
    MissingSecret,
    EmptySecret,
    BadSecretRef,
    // Warnings.
    UnknownParam,
    Notice,
}

impl From<&crate::secrets::RefError> for ProblemKind {
    /// The kind of problem a `${ secrets:… }` reference that did not resolve is.
    fn from(e: &crate::secrets::RefError) -> Self {
        use crate::secrets::RefError;
        match e {
            RefError::Missing { .. } => Self::MissingSecret,
            RefError::Empty { .. } => Self::EmptySecret,
            _ => Self::BadSecretRef,
        }
    }
}

/// The entry a problem is about: `embeddings[index]` and its name when known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryRef {
    pub index: usize,
    pub name: Option<String>,
}

/// One problem (or warning). `message` says what is wrong and how to fix it / the allowed
/// values; it quotes the value as written in the file, never a resolved secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub kind: ProblemKind,
    /// 1-based line in the file, when known.
    pub line: Option<usize>,
    /// 1-based column (YAML syntax errors only).
    pub column: Option<usize>,
    pub entry: Option<EntryRef>,
    /// `from`, `name`, `params.aws_region`, or a top-level key such as `kind`.
    pub key: Option<String>,
    /// The bad value as written in the file (`None` for credentials and when there is none).
    pub value: Option<String>,
    pub message: String,
}

impl Problem {
    pub(crate) fn new(kind: ProblemKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            line: None,
            column: None,
            entry: None,
            key: None,
            value: None,
            message: message.into(),
        }
    }

    pub(crate) fn at(mut self, line: Option<usize>) -> Self {
        self.line = line;
        self
    }

    pub(crate) fn entry(mut self, entry: &EntryRef) -> Self {
        self.entry = Some(entry.clone());
        self
    }

    pub(crate) fn key(mut self, key: impl Into<String>) -> Self {
        self.key = Some(key.into());
        self
    }

    pub(crate) fn value(mut self, value: impl Into<String>) -> Self {
        self.value = Some(value.into());
        self
    }

    /// `path:line[:col]: embeddings[i] "name": key: message`
    pub fn render(&self, path: &Path) -> String {
        let mut s = path.display().to_string();
        if let Some(line) = self.line {
            s.push_str(&format!(":{line}"));
            if let Some(col) = self.column {
                s.push_str(&format!(":{col}"));
            }
        }
        s.push_str(": ");
        if let Some(e) = &self.entry {
            s.push_str(&format!("embeddings[{}]", e.index));
            if let Some(name) = &e.name {
                s.push_str(&format!(" {name:?}"));
            }
            s.push_str(": ");
        }
        if let Some(key) = &self.key {
            s.push_str(key);
            s.push_str(": ");
        }
        s.push_str(&self.message);
        s
    }
}

/// All problems of one spicepod file. Display prints one problem per line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct SpicepodError {
    pub path: PathBuf,
    pub problems: Vec<Problem>,
}

impl SpicepodError {
    pub(crate) fn one(path: &Path, problem: Problem) -> Self {
        Self {
            path: path.to_path_buf(),
            problems: vec![problem],
        }
    }

    /// The kinds of all problems, in order (handy in tests).
    pub fn kinds(&self) -> Vec<ProblemKind> {
        self.problems.iter().map(|p| p.kind).collect()
    }
}

impl fmt::Display for SpicepodError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            f.write_str(&p.render(&self.path))?;
        }
        Ok(())
    }
}

/// `value` quoted the way messages show values: `"0"`, `"us-east-1a"`.
pub(crate) fn q(value: &str) -> String {
    format!("{value:?}")
}
