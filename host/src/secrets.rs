//! Secret values and `${ secrets:NAME }` / `${ env:NAME }` resolution.
//!
//! A spicepod param value may hold any number of references, with or without inner spaces:
//! `${ secrets:AWS_KEY }`, `${env:AWS_KEY}`, `prefix-${ env:STAGE }-suffix`. Both stores read the
//! same places, in order: the process environment, then `.env.local`, then `.env` beside the
//! spicepod file (the process environment wins). The `.env` files are parsed with `dotenvy`
//! without touching the process environment.
//!
//! Lookups go through [`SecretLookup`], so tests inject a map instead of mutating the process
//! environment. Nothing in this module ever puts a resolved value into an error or a warning.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A resolved secret. `Debug` never shows the value; `origin` says where it came from
/// (for error messages such as "the keys from param aws_access_key_id (secret AWS_KEY in .env)").
#[derive(Clone, PartialEq, Eq)]
pub struct Secret {
    value: String,
    origin: String,
}

impl Secret {
    pub fn new(value: impl Into<String>, origin: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            origin: origin.into(),
        }
    }

    /// The secret value. Call only where it is handed to the AWS SDK.
    pub fn expose(&self) -> &str {
        &self.value
    }

    /// Where the value came from, safe to print.
    pub fn origin(&self) -> &str {
        &self.origin
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Secret(<redacted>, from {})", self.origin)
    }
}

/// A value found by a [`SecretLookup`], with a printable label of where it was found
/// (`the process environment`, `/srv/pod/.env`).
#[derive(Clone, PartialEq, Eq)]
pub struct Found {
    pub value: String,
    pub source: String,
}

impl fmt::Debug for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Found(<redacted>, from {})", self.source)
    }
}

/// Where `${ secrets:NAME }` and `${ env:NAME }` are looked up.
pub trait SecretLookup {
    /// The value of `name`, or `None` when no source has it.
    fn lookup(&self, name: &str) -> Option<Found>;
    /// The places searched, in order, for "not found" messages.
    fn sources(&self) -> Vec<String>;
}

/// A plain map (tests, embedding): every value's source is the map's label.
impl SecretLookup for HashMap<String, String> {
    fn lookup(&self, name: &str) -> Option<Found> {
        self.get(name).map(|v| Found {
            value: v.clone(),
            source: "the test secrets".into(),
        })
    }
    fn sources(&self) -> Vec<String> {
        vec!["the test secrets".into()]
    }
}

enum Layer {
    ProcessEnv,
    Map {
        label: String,
        vars: HashMap<String, String>,
    },
}

/// Layered lookup: the first layer that has a name wins.
#[derive(Default)]
pub struct SecretStore {
    layers: Vec<Layer>,
}

impl fmt::Debug for SecretStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretStore")
            .field("sources", &self.sources())
            .finish()
    }
}

impl SecretStore {
    /// A store with no layers (every lookup misses).
    pub fn empty() -> Self {
        Self::default()
    }

    /// The store a spicepod at `spicepod_path` uses: the process environment, then `.env.local`,
    /// then `.env` in the spicepod's directory. Files that do not exist are skipped; a file that
    /// cannot be read or parsed is skipped with a warning (which never quotes its content).
    pub fn for_spicepod(spicepod_path: &Path) -> (Self, Vec<String>) {
        let dir = match spicepod_path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let mut warnings = Vec::new();
        let mut store = Self::empty().with_process_env();
        for file in [".env.local", ".env"] {
            let path = dir.join(file);
            match read_env_file(&path) {
                Ok(Some(vars)) => store = store.with_map(path.display().to_string(), vars),
                Ok(None) => {}
                Err(e) => warnings.push(e),
            }
        }
        (store, warnings)
    }

    /// Adds the process environment as the next layer.
    pub fn with_process_env(mut self) -> Self {
        self.layers.push(Layer::ProcessEnv);
        self
    }

    /// Adds a map as the next layer; `label` names it in messages.
    pub fn with_map(mut self, label: impl Into<String>, vars: HashMap<String, String>) -> Self {
        self.layers.push(Layer::Map {
            label: label.into(),
            vars,
        });
        self
    }
}

impl SecretLookup for SecretStore {
    fn lookup(&self, name: &str) -> Option<Found> {
        self.layers.iter().find_map(|layer| match layer {
            Layer::ProcessEnv => std::env::var_os(name)
                .and_then(|v| v.into_string().ok())
                .map(|value| Found {
                    value,
                    source: "the process environment".into(),
                }),
            Layer::Map { label, vars } => vars.get(name).map(|v| Found {
                value: v.clone(),
                source: label.clone(),
            }),
        })
    }

    fn sources(&self) -> Vec<String> {
        self.layers
            .iter()
            .map(|layer| match layer {
                Layer::ProcessEnv => "the process environment".to_string(),
                Layer::Map { label, .. } => label.clone(),
            })
            .collect()
    }
}

/// Reads a dotenv file without touching the process environment. `Ok(None)` when it does not
/// exist. The error is a printable warning that names the file and the line, never its content.
pub fn read_env_file(path: &Path) -> Result<Option<HashMap<String, String>>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(format!(
                "{}: cannot read it ({e}); its secrets are not used",
                path.display()
            ));
        }
    };
    let iter = dotenvy::from_read_iter(text.as_bytes());
    let mut vars = HashMap::new();
    for item in iter {
        match item {
            Ok((k, v)) => {
                vars.insert(k, v);
            }
            Err(dotenvy::Error::LineParse(bad, _)) => {
                let line = text
                    .find(bad.trim_end_matches(['\n', '\r']))
                    .map(|at| text[..at].matches('\n').count() + 1);
                let at = line.map(|l| format!(":{l}")).unwrap_or_default();
                return Err(format!(
                    "{}{at}: cannot parse this line (expected KEY=value; check quotes); the file's \
                     secrets are not used",
                    path.display()
                ));
            }
            Err(_) => {
                return Err(format!(
                    "{}: cannot parse it (expected KEY=value lines); its secrets are not used",
                    path.display()
                ));
            }
        }
    }
    Ok(Some(vars))
}

/// The store a reference names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Store {
    /// `${ secrets:NAME }`
    Secrets,
    /// `${ env:NAME }`
    Env,
}

impl Store {
    pub fn as_str(self) -> &'static str {
        match self {
            Store::Secrets => "secrets",
            Store::Env => "env",
        }
    }
}

/// One resolved reference in a value (name and where it was found; never the value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRef {
    pub store: Store,
    pub name: String,
    pub source: String,
}

impl fmt::Display for SecretRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let what = match self.store {
            Store::Secrets => "secret",
            Store::Env => "env",
        };
        write!(f, "{what} {} from {}", self.name, self.source)
    }
}

/// A value with its references replaced.
#[derive(Clone, PartialEq, Eq)]
pub struct Resolved {
    pub value: String,
    /// The references that were replaced, in order (empty: the value was literal).
    pub refs: Vec<SecretRef>,
}

impl fmt::Debug for Resolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Resolved")
            .field("value", &"<redacted>")
            .field("refs", &self.refs)
            .finish()
    }
}

/// Why a reference could not be resolved. Display is safe to print (no values).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RefError {
    #[error("{} `{name}` is not set (looked in {searched})", store_word(*store))]
    Missing {
        store: Store,
        name: String,
        searched: String,
    },
    #[error("{} `{name}` is set but empty in {found_in}", store_word(*store))]
    Empty {
        store: Store,
        name: String,
        found_in: String,
    },
    #[error(
        "`${{ {store}:{name} }}` uses secret store `{store}`, which bedrock-embed does not have: \
         use `${{ secrets:{name} }}` or `${{ env:{name} }}` (process environment, .env.local, .env)"
    )]
    UnknownStore { store: String, name: String },
    #[error("`${{{text}}}` names no store: write `${{ secrets:{text} }}` or `${{ env:{text} }}`")]
    Bare { text: String },
    #[error(
        "`${{{text}}}` is not a valid reference: write `${{ secrets:NAME }}` or `${{ env:NAME }}`"
    )]
    Invalid { text: String },
    #[error("`${{` without a closing `}}`: write `${{ secrets:NAME }}` or `${{ env:NAME }}`")]
    Unclosed,
}

fn store_word(store: Store) -> &'static str {
    match store {
        Store::Secrets => "secret",
        Store::Env => "environment variable",
    }
}

/// True when `value` contains `${` (a reference, valid or not).
pub fn has_reference(value: &str) -> bool {
    value.contains("${")
}

/// Replaces every `${ store:NAME }` in `value`. All problems of the value are returned together.
/// A found but empty value is an error: an empty string is never handed on as a credential.
pub fn resolve(value: &str, lookup: &dyn SecretLookup) -> Result<Resolved, Vec<RefError>> {
    let mut out = String::with_capacity(value.len());
    let mut refs = Vec::new();
    let mut errors = Vec::new();
    let mut rest = value;
    while let Some(start) = rest.find("${") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else {
            errors.push(RefError::Unclosed);
            rest = "";
            break;
        };
        let inner = &after[..end];
        rest = &after[end + 1..];
        match parse_inner(inner) {
            Ok((store, name)) => match lookup.lookup(name) {
                Some(found) if found.value.is_empty() => errors.push(RefError::Empty {
                    store,
                    name: name.to_string(),
                    found_in: found.source,
                }),
                Some(found) => {
                    out.push_str(&found.value);
                    refs.push(SecretRef {
                        store,
                        name: name.to_string(),
                        source: found.source,
                    });
                }
                None => errors.push(RefError::Missing {
                    store,
                    name: name.to_string(),
                    searched: lookup.sources().join(", "),
                }),
            },
            Err(e) => errors.push(e),
        }
    }
    out.push_str(rest);
    if errors.is_empty() {
        Ok(Resolved { value: out, refs })
    } else {
        Err(errors)
    }
}

fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '/'))
}

fn parse_inner(inner: &str) -> Result<(Store, &str), RefError> {
    let trimmed = inner.trim();
    let Some((store, name)) = trimmed.split_once(':') else {
        return Err(if valid_name(trimmed) {
            RefError::Bare {
                text: trimmed.to_string(),
            }
        } else {
            RefError::Invalid {
                text: inner.to_string(),
            }
        });
    };
    let (store, name) = (store.trim(), name.trim());
    if !valid_name(name) {
        return Err(RefError::Invalid {
            text: inner.to_string(),
        });
    }
    match store {
        "secrets" => Ok((Store::Secrets, name)),
        "env" => Ok((Store::Env, name)),
        other
            if !other.is_empty()
                && other.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') =>
        {
            Err(RefError::UnknownStore {
                store: other.to_string(),
                name: name.to_string(),
            })
        }
        _ => Err(RefError::Invalid {
            text: inner.to_string(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn secret_debug_is_redacted() {
        let s = Secret::new(
            "AKIASECRETVALUE",
            "param aws_access_key_id (secret K from .env)",
        );
        let dbg = format!("{s:?}");
        assert!(!dbg.contains("AKIASECRETVALUE"), "{dbg}");
        assert!(dbg.contains("param aws_access_key_id"));
        assert_eq!(s.expose(), "AKIASECRETVALUE");
    }

    #[test]
    fn resolves_with_and_without_spaces_and_in_the_middle() {
        let m = map(&[("A", "alpha"), ("B", "beta")]);
        for (input, want) in [
            ("${ secrets:A }", "alpha"),
            ("${secrets:A}", "alpha"),
            ("${env:B}", "beta"),
            ("${  env : B  }", "beta"),
            ("x-${ secrets:A }-${env:B}-y", "x-alpha-beta-y"),
            ("plain", "plain"),
            ("", ""),
        ] {
            let r = resolve(input, &m).unwrap_or_else(|e| panic!("{input}: {e:?}"));
            assert_eq!(r.value, want, "{input}");
        }
        let r = resolve("${ secrets:A }${ env:B }", &m).expect("resolves");
        assert_eq!(r.refs.len(), 2);
        assert_eq!(r.refs[0].store, Store::Secrets);
        assert_eq!(r.refs[1].to_string(), "env B from the test secrets");
    }

    #[test]
    fn all_errors_of_a_value_are_reported_and_never_contain_values() {
        let m = map(&[("EMPTY", ""), ("SET", "topsecret")]);
        let errs = resolve(
            "${ secrets:MISSING }${ env:EMPTY }${ vault:X }${ FOO }${ a b }${ secrets:SET }${",
            &m,
        )
        .expect_err("errors");
        assert_eq!(errs.len(), 6, "{errs:?}");
        assert!(matches!(&errs[0], RefError::Missing { name, .. } if name == "MISSING"));
        assert!(matches!(&errs[1], RefError::Empty { name, .. } if name == "EMPTY"));
        assert!(matches!(&errs[2], RefError::UnknownStore { store, .. } if store == "vault"));
        assert!(matches!(&errs[3], RefError::Bare { text } if text == "FOO"));
        assert!(matches!(&errs[4], RefError::Invalid { .. }));
        assert!(matches!(&errs[5], RefError::Unclosed));
        for e in &errs {
            assert!(!e.to_string().contains("topsecret"));
        }
        assert_eq!(
            errs[0].to_string(),
            "secret `MISSING` is not set (looked in the test secrets)"
        );
        assert!(errs[3].to_string().contains("${ env:FOO }"), "{}", errs[3]);
    }

    #[test]
    fn store_layers_first_wins() {
        let store = SecretStore::empty()
            .with_map("/pod/.env.local", map(&[("K", "local")]))
            .with_map("/pod/.env", map(&[("K", "dotenv"), ("J", "j")]));
        assert_eq!(
            store.lookup("K").map(|f| (f.value, f.source)),
            Some(("local".into(), "/pod/.env.local".into()))
        );
        assert_eq!(
            store.lookup("J").map(|f| f.source),
            Some("/pod/.env".into())
        );
        assert!(store.lookup("NOPE").is_none());
        assert_eq!(
            store.sources(),
            vec!["/pod/.env.local".to_string(), "/pod/.env".to_string()]
        );
    }

    #[test]
    fn process_env_layer_reads_without_mutating() {
        // PATH is set in any test environment; nothing is written to the environment.
        let store = SecretStore::empty()
            .with_process_env()
            .with_map("m", map(&[("PATH", "shadowed")]));
        let found = store.lookup("PATH").expect("PATH is set");
        assert_eq!(found.source, "the process environment");
        assert_ne!(found.value, "shadowed");
    }

    #[test]
    fn env_files_beside_the_spicepod() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join(".env"),
            "A=from-env\nB=\"quoted b\"\n# comment\nC=c\n",
        )
        .expect("write");
        std::fs::write(dir.path().join(".env.local"), "A=from-local\n").expect("write");
        let (store, warnings) = SecretStore::for_spicepod(&dir.path().join("spicepod.yaml"));
        assert!(warnings.is_empty(), "{warnings:?}");
        let name = "BEDROCK_EMBED_TEST_SURELY_UNSET_A";
        assert!(store.lookup(name).is_none());
        let a = store.lookup("A").expect("A");
        assert_eq!(a.value, "from-local");
        assert!(a.source.ends_with(".env.local"));
        assert_eq!(store.lookup("B").map(|f| f.value), Some("quoted b".into()));
        assert_eq!(store.sources().len(), 3);
    }

    #[test]
    fn bad_env_file_warns_with_line_but_no_content() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join(".env"),
            "OK=1\nGOOD=2\nBAD=\"unterminated-topsecret\n",
        )
        .expect("write");
        let (store, warnings) = SecretStore::for_spicepod(&dir.path().join("spicepod.yaml"));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains(".env:3:"), "{}", warnings[0]);
        assert!(!warnings[0].contains("topsecret"));
        // The broken file is skipped as a whole: only the process environment is searched.
        assert_eq!(store.sources(), vec!["the process environment".to_string()]);
    }

    #[test]
    fn missing_env_files_are_skipped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (store, warnings) = SecretStore::for_spicepod(&dir.path().join("spicepod.yaml"));
        assert!(warnings.is_empty());
        assert_eq!(store.sources(), vec!["the process environment".to_string()]);
        let (store, _) = SecretStore::for_spicepod(Path::new("spicepod.yaml"));
        assert!(!store.sources().is_empty());
    }
}
