//! A loaded codec: a compiled, version-checked, pre-instantiated component, and the four
//! calls of the contract, each on a warm instance (recycled after a trap or
//! [`WARM_CALLS`] calls) with the contract's promises checked.

use std::fmt;
use std::sync::Mutex;

use anyhow::{Context as _, bail};
use sha2::{Digest, Sha256};
use wasmtime::Store;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use super::bindings::{
    CodecGuest, CodecGuestPre, CodecInfo, Embeddings, INTERFACE, INTERFACE_VERSION, Invocation,
    Param, RequestOptions,
};
use super::error::CodecError;
use super::sandbox::{Sandbox, SandboxState};

/// Bedrock refuses InvokeModel bodies above this size.
pub const MAX_BODY_BYTES: usize = 25_000_000;

/// Where a codec came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodecSource {
    BuiltIn,
    File(std::path::PathBuf),
}

impl fmt::Display for CodecSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BuiltIn => f.write_str("built-in"),
            Self::File(path) => write!(f, "{}", path.display()),
        }
    }
}

pub struct Codec {
    info: CodecInfo,
    interface_version: String,
    source: CodecSource,
    sha256: String,
    sandbox: Sandbox,
    pre: CodecGuestPre<SandboxState>,
    /// Idle instances, ready for the next call (see [`Codec::call`]).
    warm: Mutex<Vec<Warm>>,
    max_idle: usize,
}

/// An instance kept between calls. Calls are stateless, so reusing one is safe; a fresh store
/// per call costs ~25 µs of instantiation twice per request, more than a whole Titan
/// encode + decode natively (see BENCHMARKS.md).
struct Warm {
    store: Store<SandboxState>,
    guest: CodecGuest,
    output: MemoryOutputPipe,
    calls: u32,
}

/// Calls a warm instance makes before it is dropped for a fresh one: bounds whatever a
/// codec's heap accumulates.
pub const WARM_CALLS: u32 = 1000;

/// Idle instances kept per codec: enough for the calls that run at once on a machine this
/// size (codec calls are CPU work), few enough that their memory stays small.
fn max_idle() -> usize {
    std::thread::available_parallelism()
        .map_or(4, |n| n.get() * 2)
        .clamp(2, 16)
}

impl fmt::Debug for Codec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Codec")
            .field("name", &self.info.name)
            .field("version", &self.info.version)
            .field("source", &self.source)
            .finish_non_exhaustive()
    }
}

impl Codec {
    /// Compiles, checks the exported interface version, links, and asks the codec what it is.
    /// Every failure names the source.
    pub fn load(sandbox: &Sandbox, bytes: &[u8], source: CodecSource) -> anyhow::Result<Self> {
        Self::load_inner(sandbox, bytes, source.clone())
            .with_context(|| format!("loading codec {source}"))
    }

    fn load_inner(sandbox: &Sandbox, bytes: &[u8], source: CodecSource) -> anyhow::Result<Self> {
        let sha256 = hex::encode(Sha256::digest(bytes));
        let component = sandbox
            .compile_cached(bytes, &sha256)
            .context("not a valid WebAssembly component (build it with `cargo build --target wasm32-wasip2`)")?;
        let interface_version = exported_interface_version(sandbox, &component)?;
        let instance_pre = sandbox
            .linker()
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)
            .context("it imports something the codec sandbox does not provide (codecs get no capabilities)")?;
        let pre = CodecGuestPre::new(instance_pre)
            .map_err(anyhow::Error::from)
            .context("its exports do not match the codec interface")?;

        let mut codec = Self {
            info: CodecInfo {
                name: String::new(),
                version: String::new(),
                model_prefixes: vec![],
                params: vec![],
            },
            interface_version,
            source,
            sha256,
            sandbox: sandbox.clone(),
            pre,
            warm: Mutex::new(Vec::new()),
            max_idle: max_idle(),
        };
        codec.info = codec
            .call("info", "-", |guest, store| {
                guest.bedrock_embed_codec_codec().call_info(store)
            })
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        validate_info(&codec.info)?;
        Ok(codec)
    }

    pub fn info(&self) -> &CodecInfo {
        &self.info
    }

    pub fn name(&self) -> &str {
        &self.info.name
    }

    pub fn source(&self) -> &CodecSource {
        &self.source
    }

    /// Whether this is one of the codecs built into the binary (our own code, not a file).
    pub fn is_builtin(&self) -> bool {
        self.source == CodecSource::BuiltIn
    }

    pub fn sha256(&self) -> &str {
        &self.sha256
    }

    /// The version of `bedrock-embed:codec/codec` the component exports.
    pub fn interface_version(&self) -> &str {
        &self.interface_version
    }

    pub fn check(&self, model_id: &str, params: &[Param]) -> Result<(), CodecError> {
        self.call("check", model_id, |guest, store| {
            guest
                .bedrock_embed_codec_codec()
                .call_check(store, model_id, params)
        })?
        .map_err(|e| CodecError::from_guest(self.name(), e))
    }

    /// Bodies for `inputs`, with the contract checked: counts cover the inputs in order and
    /// no body is larger than Bedrock accepts.
    pub fn encode(
        &self,
        model_id: &str,
        params: &[Param],
        options: RequestOptions,
        inputs: &[String],
    ) -> Result<Vec<Invocation>, CodecError> {
        let invocations = self
            .call("encode", model_id, |guest, store| {
                guest
                    .bedrock_embed_codec_codec()
                    .call_encode(store, model_id, params, options, inputs)
            })?
            .map_err(|e| CodecError::from_guest(self.name(), e))?;
        let covered: u64 = invocations.iter().map(|i| u64::from(i.input_count)).sum();
        if covered != inputs.len() as u64 {
            return Err(self.contract(
                "encode",
                model_id,
                format!(
                    "its {} invocations cover {covered} inputs, but the request has {}",
                    invocations.len(),
                    inputs.len()
                ),
            ));
        }
        if let Some(i) = invocations.iter().position(|i| i.input_count == 0) {
            return Err(self.contract(
                "encode",
                model_id,
                format!("invocation {i} covers no input"),
            ));
        }
        if let Some(i) = invocations
            .iter()
            .position(|i| i.body.len() > MAX_BODY_BYTES)
        {
            return Err(self.contract(
                "encode",
                model_id,
                format!(
                    "invocation {i} has a {} byte body; Bedrock accepts at most {MAX_BODY_BYTES}",
                    invocations[i].body.len()
                ),
            ));
        }
        Ok(invocations)
    }

    /// Vectors from one response body, with the contract checked: one finite vector per input,
    /// all of one length.
    pub fn decode(
        &self,
        model_id: &str,
        params: &[Param],
        options: RequestOptions,
        body: &[u8],
        input_count: u32,
    ) -> Result<Embeddings, CodecError> {
        let embeddings = self
            .call("decode", model_id, |guest, store| {
                guest.bedrock_embed_codec_codec().call_decode(
                    store,
                    model_id,
                    params,
                    options,
                    body,
                    input_count,
                )
            })?
            .map_err(|e| CodecError::from_guest(self.name(), e))?;
        let vectors = &embeddings.vectors;
        if vectors.len() != input_count as usize {
            return Err(self.contract(
                "decode",
                model_id,
                format!(
                    "it returned {} vectors for {input_count} inputs",
                    vectors.len()
                ),
            ));
        }
        let dims = vectors.first().map_or(0, Vec::len);
        if dims == 0 {
            return Err(self.contract("decode", model_id, "it returned empty vectors".into()));
        }
        for (i, v) in vectors.iter().enumerate() {
            if v.len() != dims {
                return Err(self.contract(
                    "decode",
                    model_id,
                    format!("vector {i} has {} dimensions, vector 0 has {dims}", v.len()),
                ));
            }
            if v.iter().any(|x| !x.is_finite()) {
                return Err(self.contract(
                    "decode",
                    model_id,
                    format!("vector {i} holds NaN or infinity"),
                ));
            }
        }
        Ok(embeddings)
    }

    /// Runs one export on a warm instance (or a fresh one when none is idle). The instance goes
    /// back to the pool only after a clean call: a trap (or any output, which its pipe would
    /// keep) retires it, and so do [`WARM_CALLS`] calls.
    fn call<R>(
        &self,
        func: &'static str,
        model_id: &str,
        f: impl FnOnce(&CodecGuest, &mut Store<SandboxState>) -> wasmtime::Result<R>,
    ) -> Result<R, CodecError> {
        let idle = self.warm.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let instance = match idle {
            Some(mut warm) => {
                self.sandbox.arm_deadline(&mut warm.store);
                Ok(warm)
            }
            None => {
                let (mut store, output) = self.sandbox.new_store();
                match self.pre.instantiate(&mut store) {
                    Ok(guest) => Ok(Warm {
                        store,
                        guest,
                        output,
                        calls: 0,
                    }),
                    Err(err) => Err((err, output)),
                }
            }
        };
        let (result, output) = match instance {
            Ok(mut warm) => {
                let result = f(&warm.guest, &mut warm.store);
                warm.calls += 1;
                let output = warm.output.contents();
                if result.is_ok() && output.is_empty() && warm.calls < WARM_CALLS {
                    let mut idle = self.warm.lock().unwrap_or_else(|e| e.into_inner());
                    if idle.len() < self.max_idle {
                        idle.push(warm);
                    }
                }
                (result, output)
            }
            Err((err, output)) => (Err(err), output.contents()),
        };
        match result {
            Ok(value) => {
                if !output.is_empty() {
                    tracing::info!(codec = %self.info.name, func, "codec output: {}", String::from_utf8_lossy(&output).trim_end());
                }
                Ok(value)
            }
            Err(err) => {
                let reason = self.sandbox.describe_trap(&err, &output);
                tracing::warn!(codec = %self.info.name, source = %self.source, func, model_id, "codec call failed: {reason}");
                Err(CodecError::Trap {
                    codec: self.display_name(),
                    source_desc: self.source.to_string(),
                    func,
                    model_id: model_id.to_string(),
                    kind: Sandbox::trap_kind(&err),
                    reason,
                })
            }
        }
    }

    fn contract(&self, func: &'static str, model_id: &str, reason: String) -> CodecError {
        CodecError::Contract {
            codec: self.display_name(),
            source_desc: self.source.to_string(),
            func,
            model_id: model_id.to_string(),
            reason,
        }
    }

    fn display_name(&self) -> String {
        if self.info.name.is_empty() {
            "<unnamed>".into()
        } else {
            self.info.name.clone()
        }
    }
}

/// Finds `bedrock-embed:codec/codec@X.Y.Z` among the component's exports and checks that this
/// host can drive it (semver: same major, and for 0.x the same minor).
fn exported_interface_version(
    sandbox: &Sandbox,
    component: &wasmtime::component::Component,
) -> anyhow::Result<String> {
    let ty = component.component_type();
    let exports: Vec<String> = ty
        .exports(sandbox.engine())
        .map(|(name, _)| name.to_string())
        .collect();
    let prefix = format!("{INTERFACE}@");
    let Some(version) = exports.iter().find_map(|name| name.strip_prefix(&prefix)) else {
        bail!(
            "it does not export {INTERFACE} (it exports: {}); a codec must implement the world \
             `codec-guest` of wit/codec.wit",
            if exports.is_empty() {
                "nothing".to_string()
            } else {
                exports.join(", ")
            }
        );
    };
    if !compatible(version, INTERFACE_VERSION) {
        bail!(
            "it exports {INTERFACE}@{version}, but this host supports {INTERFACE}@{} \
             (semver-compatible versions); rebuild the codec against this host's wit/ or \
             upgrade bedrock-embed",
            supported_range()
        );
    }
    Ok(version.to_string())
}

fn compatible(theirs: &str, ours: &str) -> bool {
    let parse = |v: &str| -> Option<(u64, u64)> {
        let mut parts = v.split(['.', '-', '+']);
        Some((parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
    };
    match (parse(theirs), parse(ours)) {
        (Some((0, a)), Some((0, b))) => a == b,
        (Some((a, _)), Some((b, _))) => a == b,
        _ => false,
    }
}

fn supported_range() -> String {
    let mut parts = INTERFACE_VERSION.split('.');
    match (parts.next(), parts.next()) {
        (Some("0"), Some(minor)) => format!("0.{minor}.x"),
        (Some(major), _) => format!("{major}.x"),
        _ => INTERFACE_VERSION.to_string(),
    }
}

fn validate_info(info: &CodecInfo) -> anyhow::Result<()> {
    if info.name.trim().is_empty() {
        bail!("its info() returned an empty name");
    }
    if info.model_prefixes.is_empty() {
        bail!(
            "codec {} serves no model prefixes (info().model-prefixes is empty)",
            info.name
        );
    }
    if let Some(p) = info.model_prefixes.iter().find(|p| p.trim().is_empty()) {
        bail!("codec {} reports an empty model prefix {p:?}", info.name);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn semver_compatibility_of_the_interface() {
        assert!(compatible("0.1.0", "0.1.0"));
        assert!(compatible("0.1.7", "0.1.0"));
        assert!(!compatible("0.2.0", "0.1.0"));
        assert!(!compatible("1.0.0", "0.1.0"));
        assert!(compatible("1.4.0", "1.0.0"));
        assert!(!compatible("garbage", "0.1.0"));
        assert_eq!(supported_range(), "0.1.x");
    }
}
