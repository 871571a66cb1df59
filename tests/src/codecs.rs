//! The real codec runtime with the built-in codecs and the hostile test guests, compiled once
//! per test process (a debug-build compile of a codec costs real time).

use std::sync::{Arc, LazyLock};

use bedrock_embed::codec::{self, Codec, CodecSource, Param, Registry, RequestOptions, Sandbox};

/// Test guests built from guests/testing by tests/guest-artifacts.
pub const HOSTILE: &[&str] = &["test_loop_forever", "test_memory_hog", "test_panics"];

pub struct Loaded {
    pub sandbox: Sandbox,
    pub registry: Registry,
}

static LOADED: LazyLock<Loaded> = LazyLock::new(|| {
    let sandbox = crate::codec_dir::sandbox(None);
    let mut codecs: Vec<Arc<Codec>> = codec::builtin::load_all(&sandbox)
        .expect("built-in codecs load")
        .into_iter()
        .map(Arc::new)
        .collect();
    for name in HOSTILE {
        let path = bedrock_embed_guest_artifacts::wasm_path(name);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        codecs.push(Arc::new(
            Codec::load(&sandbox, &bytes, CodecSource::File(path)).expect("test guest loads"),
        ));
    }
    let registry = Registry::new(codecs).expect("no prefix conflicts");
    Loaded { sandbox, registry }
});

pub fn loaded() -> &'static Loaded {
    &LOADED
}

pub fn params(pairs: &[(&str, &str)]) -> Vec<Param> {
    pairs
        .iter()
        .map(|(n, v)| Param {
            name: n.to_string(),
            value: v.to_string(),
        })
        .collect()
}

pub fn no_options() -> RequestOptions {
    RequestOptions {
        dimensions: None,
        embedding_type: None,
    }
}
