//! The compiled-codec cache: native code this host compiled from a codec, kept on disk so a
//! restart does not compile again.
//!
//! Layout: `<root>/<engine>/<sha256>.cwasm`, where `<engine>` is a digest of
//! [`wasmtime::Engine::precompile_compatibility_hash`] (compiler, CPU flags, tunables, wasm
//! features, wasmtime version) and `<sha256>` is the digest of the codec's `.wasm` bytes as the
//! host read them. A different engine or different bytes never meet an old entry.
//!
//! # Trust model
//!
//! Loading precompiled code skips validation: whoever can write a `.cwasm` the host loads can
//! run native code in the host. So the cache only ever holds what this host wrote, and the
//! rule that keeps it so is filesystem ownership, stated honestly (no HMAC):
//! - every directory of the cache is created mode `0700`; a directory (or file) that is not
//!   owned by the host's user, or that group or others may write, disables the cache (logged);
//! - only regular files named exactly `<sha256>.cwasm` inside the engine's directory are read,
//!   and `<sha256>` is computed by the host from the bytes it is about to use;
//! - entries are written to a temporary file in the same directory and renamed into place, so
//!   a reader never sees half a file, and a file is never modified after it lands (the code is
//!   memory-mapped while the codec lives);
//! - a `.cwasm` that fails to load (truncated, another wasmtime) is deleted and the codec is
//!   compiled from its `.wasm` again.
//!
//! Anyone who can write files as the host's user can already change the host itself, so this
//! adds no new way in. Never point the cache at a directory other users can write.

use std::hash::Hasher;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// The environment variable that moves (or, set to `off`, disables) the cache.
pub const CACHE_DIR_ENV: &str = "BEDROCK_EMBED_CODEC_CACHE";

/// The compiled-codec cache of one engine.
#[derive(Debug, Clone)]
pub struct CompiledCache {
    dir: PathBuf,
}

/// Where the cache lives unless told otherwise: `$BEDROCK_EMBED_CODEC_CACHE`, else
/// `$XDG_CACHE_HOME/bedrock-embed/codecs`, else `~/.cache/bedrock-embed/codecs`. `None` when the
/// variable is `off` (or empty) or no home directory is known.
pub fn default_root() -> Option<PathBuf> {
    if let Some(value) = std::env::var_os(CACHE_DIR_ENV) {
        if value.is_empty() || value == "off" {
            return None;
        }
        return Some(PathBuf::from(value));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .filter(|v| !v.is_empty())
                .map(|home| PathBuf::from(home).join(".cache"))
        })?;
    Some(base.join("bedrock-embed").join("codecs"))
}

impl CompiledCache {
    /// Opens (creating, mode 0700) `<root>/<engine digest>`.
    pub fn open(root: &Path, engine: &Engine) -> anyhow::Result<Self> {
        let dir = root.join(engine_digest(engine));
        create_private_dir(&dir)
            .with_context(|| format!("opening the compiled-codec cache {}", dir.display()))?;
        Ok(Self { dir })
    }

    /// The engine's directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The entry for a codec whose `.wasm` bytes hash to `sha256` (64 lowercase hex digits).
    pub fn path_for(&self, sha256: &str) -> Option<PathBuf> {
        let valid = sha256.len() == 64
            && sha256
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        valid.then(|| self.dir.join(format!("{sha256}.cwasm")))
    }

    /// The compiled codec, from the cache when this host compiled these bytes before, else
    /// compiled now and stored. Cache trouble is logged, never fatal.
    pub fn get_or_compile(
        &self,
        engine: &Engine,
        sha256: &str,
        compile: impl FnOnce() -> anyhow::Result<Component>,
    ) -> anyhow::Result<Component> {
        let Some(path) = self.path_for(sha256) else {
            return compile();
        };
        match self.load(engine, &path) {
            Ok(Some(component)) => return Ok(component),
            Ok(None) => {}
            Err(err) => {
                tracing::warn!(
                    "ignoring compiled-codec cache entry {}: {err:#}",
                    path.display()
                );
                let _ = std::fs::remove_file(&path);
            }
        }
        let component = compile()?;
        if let Err(err) = self.store(&path, &component) {
            tracing::warn!(
                "could not write compiled-codec cache entry {}: {err:#}",
                path.display()
            );
        }
        Ok(component)
    }

    fn load(&self, engine: &Engine, path: &Path) -> anyhow::Result<Option<Component>> {
        let meta = match std::fs::symlink_metadata(path) {
            Ok(meta) => meta,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(err.into()),
        };
        if !meta.file_type().is_file() {
            bail!("not a regular file");
        }
        check_private(&meta)?;
        // SAFETY: the file is a `Component::serialize` output this host wrote (see the trust
        // model above: a private directory, a name derived from the bytes being loaded), it was
        // renamed into place whole and is never modified afterwards, so the mapping stays valid.
        let component =
            unsafe { Component::deserialize_file(engine, path) }.map_err(anyhow::Error::from)?;
        Ok(Some(component))
    }

    fn store(&self, path: &Path, component: &Component) -> anyhow::Result<()> {
        let bytes = component.serialize().map_err(anyhow::Error::from)?;
        let mut tmp = tempfile_in(&self.dir)?;
        tmp.1.write_all(&bytes)?;
        tmp.1.sync_all()?;
        drop(tmp.1);
        std::fs::rename(&tmp.0, path).inspect_err(|_| {
            let _ = std::fs::remove_file(&tmp.0);
        })?;
        Ok(())
    }
}

/// A new file in `dir`, mode 0600, that no one else could have created.
fn tempfile_in(dir: &Path) -> anyhow::Result<(PathBuf, std::fs::File)> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    for attempt in 0..16u32 {
        let name = format!(".tmp-{}-{}-{attempt}", std::process::id(), nanos());
        let path = dir.join(name);
        match options.open(&path) {
            Ok(file) => return Ok((path, file)),
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => continue,
            Err(err) => return Err(err.into()),
        }
    }
    bail!("could not create a temporary file in {}", dir.display())
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

/// Creates `dir` and its missing parents with mode 0700, then checks that `dir` itself is
/// private to this user.
fn create_private_dir(dir: &Path) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt as _;
        builder.mode(0o700);
    }
    builder.create(dir)?;
    let meta = std::fs::symlink_metadata(dir)?;
    if !meta.is_dir() {
        bail!("not a directory");
    }
    check_private(&meta)
}

#[cfg(unix)]
fn check_private(meta: &std::fs::Metadata) -> anyhow::Result<()> {
    use std::os::unix::fs::MetadataExt as _;
    // SAFETY: geteuid has no preconditions; std does not expose it.
    let uid = unsafe { geteuid() };
    if meta.uid() != uid {
        bail!("owned by uid {}, not by this user (uid {uid})", meta.uid());
    }
    if meta.mode() & 0o022 != 0 {
        bail!(
            "group or others may write it (mode {:o})",
            meta.mode() & 0o7777
        );
    }
    Ok(())
}

#[cfg(unix)]
unsafe extern "C" {
    fn geteuid() -> u32;
}

#[cfg(not(unix))]
fn check_private(_meta: &std::fs::Metadata) -> anyhow::Result<()> {
    Ok(())
}

/// A stable digest of the engine's precompile compatibility hash (SHA-256 rather than
/// `DefaultHasher`, whose output may change between Rust releases).
fn engine_digest(engine: &Engine) -> String {
    struct Sha(Sha256);
    impl Hasher for Sha {
        fn finish(&self) -> u64 {
            0
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut hasher = Sha(Sha256::new());
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut hasher);
    hex::encode(&hasher.0.finalize()[..12])
}

#[cfg(test)]
mod tests {
    use super::*;

    const WAT: &str = r#"(component (core module (func (export "f"))))"#;

    #[test]
    fn compiles_once_then_loads_what_it_wrote() {
        let root = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let cache = CompiledCache::open(root.path(), &engine).unwrap();
        let sha = hex::encode(Sha256::digest(WAT));
        let mut compiled = 0;
        for _ in 0..2 {
            cache
                .get_or_compile(&engine, &sha, || {
                    compiled += 1;
                    Ok(Component::new(&engine, WAT)?)
                })
                .unwrap();
        }
        assert_eq!(compiled, 1);
        assert!(cache.path_for(&sha).unwrap().is_file());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(cache.dir()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o700);
        }
    }

    #[test]
    fn a_corrupt_entry_is_replaced_and_odd_names_are_never_read() {
        let root = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let cache = CompiledCache::open(root.path(), &engine).unwrap();
        let sha = hex::encode(Sha256::digest(WAT));
        let path = cache.path_for(&sha).unwrap();
        std::fs::write(&path, b"not native code").unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let mut compiled = 0;
        cache
            .get_or_compile(&engine, &sha, || {
                compiled += 1;
                Ok(Component::new(&engine, WAT)?)
            })
            .unwrap();
        assert_eq!(compiled, 1, "the corrupt entry was recompiled");
        assert!(cache.path_for("../../etc/passwd").is_none());
        assert!(cache.path_for(&sha.to_uppercase()).is_none());
    }

    #[cfg(unix)]
    #[test]
    fn a_directory_others_may_write_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let root = tempfile::tempdir().unwrap();
        let engine = Engine::default();
        let dir = root.path().join(engine_digest(&engine));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o777)).unwrap();
        let err = CompiledCache::open(root.path(), &engine).unwrap_err();
        assert!(format!("{err:#}").contains("others may write"), "{err:#}");
    }
}
