//! A loaded codec: a compiled, version-checked, pre-instantiated component, and the four
//! calls of the contract, each on a warm instance (recycled after a trap or
//! [`WARM_CALLS`] calls) with the contract's promises checked.
//!
//! A codec of any WIT version this host serves ([`WitVersion`]) is driven through its own
//! bindings ([`Guest`]); the rest of the host sees the current version's types only.

use std::fmt;
use std::sync::Mutex;

use anyhow::{Context as _, bail};
use sha2::{Digest, Sha256};
use wasmtime::Store;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;

use super::bindings::{
    CodecInfo, EmbeddingType, GuestError, INTERFACE, Invocation, Param, RequestOptions, Vectors,
    WitVersion, v0_1, v0_2,
};
use super::embedding_type::{fits, type_name, type_rule};
use super::error::CodecError;
use super::sandbox::{Sandbox, SandboxState};
use super::spans;

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

/// One response's vectors, read and checked: one per input of the invocation, in order.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub vectors: Vec<Vec<f32>>,
    /// The type of every value (integers are held as exact f32s).
    pub embedding_type: EmbeddingType,
    pub input_tokens: Option<u32>,
}

pub struct Codec {
    info: CodecInfo,
    interface_version: String,
    wit: WitVersion,
    source: CodecSource,
    sha256: String,
    sandbox: Sandbox,
    pre: Pre,
    /// Idle instances, ready for the next call (see [`Codec::call`]).
    warm: Mutex<Vec<Warm>>,
    max_idle: usize,
}

/// An instance kept between calls. Calls are stateless, so reusing one is safe; a fresh store
/// per call costs ~25 µs of instantiation twice per request, more than a whole Titan
/// encode + decode natively (see BENCHMARKS.md).
struct Warm {
    store: Store<SandboxState>,
    guest: Guest,
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
        let (interface_version, wit) = exported_interface_version(sandbox, &component)?;
        let instance_pre = sandbox
            .linker()
            .instantiate_pre(&component)
            .map_err(anyhow::Error::from)
            .context("it imports something the codec sandbox does not provide (codecs get no capabilities)")?;
        let pre = Pre::new(wit, instance_pre)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("its exports do not match {INTERFACE}@{interface_version}"))?;

        let mut codec = Self {
            info: CodecInfo {
                name: String::new(),
                version: String::new(),
                model_prefixes: vec![],
                params: vec![],
            },
            interface_version,
            wit,
            source,
            sha256,
            sandbox: sandbox.clone(),
            pre,
            warm: Mutex::new(Vec::new()),
            max_idle: max_idle(),
        };
        codec.info = codec
            .call("info", "-", |guest, store| guest.info(store))
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
            guest.check(store, model_id, params)
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
        self.check_options(options)?;
        let invocations = self
            .call("encode", model_id, |guest, store| {
                guest.encode(store, model_id, params, options, inputs)
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

    /// Vectors from one response body, with the contract checked: one vector per input, all
    /// of one length, every value fitting its type, of the type the request asked for. Spans
    /// a codec points at are read here, natively.
    pub fn decode(
        &self,
        model_id: &str,
        params: &[Param],
        options: RequestOptions,
        body: &[u8],
        input_count: u32,
    ) -> Result<Embeddings, CodecError> {
        self.check_options(options)?;
        let decoded = self
            .call("decode", model_id, |guest, store| {
                guest.decode(store, model_id, params, options, body, input_count)
            })?
            .map_err(|e| CodecError::from_guest(self.name(), e))?;
        let contract = |reason: String| self.contract("decode", model_id, reason);
        let vectors = match decoded.vectors {
            Vectors::Values(vectors) => vectors,
            Vectors::Spans(spans) => {
                let mut vectors: Vec<Vec<f32>> = Vec::with_capacity(spans.len());
                for (i, span) in spans.into_iter().enumerate() {
                    // Sized as the vector before it: all have one length (checked below), and
                    // growing each one from empty was ~12 reallocations a vector.
                    let mut v = Vec::with_capacity(vectors.last().map_or(0, Vec::len));
                    spans::slice(body, span)
                        .and_then(|bytes| spans::parse_array(bytes, &mut v))
                        .map_err(|e| contract(format!("vector {i}: {e}")))?;
                    vectors.push(v);
                }
                vectors
            }
        };
        if vectors.len() != input_count as usize {
            return Err(contract(format!(
                "it returned {} vectors for {input_count} inputs",
                vectors.len()
            )));
        }
        let embedding_type = decoded.embedding_type;
        if let Some(asked) = options.embedding_type
            && asked != embedding_type
        {
            return Err(contract(format!(
                "it returned {} vectors where the request asked for {}",
                type_name(embedding_type),
                type_name(asked)
            )));
        }
        let dims = vectors.first().map_or(0, Vec::len);
        if dims == 0 {
            return Err(contract("it returned empty vectors".into()));
        }
        for (i, v) in vectors.iter().enumerate() {
            if v.len() != dims {
                return Err(contract(format!(
                    "vector {i} has {} dimensions, vector 0 has {dims}",
                    v.len()
                )));
            }
            if let Some(x) = v.iter().find(|x| !fits(embedding_type, **x)) {
                return Err(contract(if embedding_type == EmbeddingType::Float {
                    format!("vector {i} holds NaN or infinity")
                } else {
                    format!(
                        "vector {i} holds {x}, which is not {} ({} vectors)",
                        type_rule(embedding_type),
                        type_name(embedding_type)
                    )
                }));
            }
        }
        Ok(Embeddings {
            vectors,
            embedding_type,
            input_tokens: decoded.input_tokens,
        })
    }

    /// A 0.1 codec has no embedding types: a request for one is the client's error, named.
    fn check_options(&self, options: RequestOptions) -> Result<(), CodecError> {
        match (self.wit, options.embedding_type) {
            (WitVersion::V0_1, Some(t)) if t != EmbeddingType::Float => {
                Err(CodecError::InvalidParam {
                    codec: self.name().to_string(),
                    message: format!(
                        "embedding_type {:?} is not available: codec {} implements \
                         {INTERFACE}@{}, which has float vectors only; use \"float\" or a codec \
                         built against {INTERFACE}@{}",
                        type_name(t),
                        self.name(),
                        self.interface_version,
                        WitVersion::current().version()
                    ),
                })
            }
            _ => Ok(()),
        }
    }

    /// Runs one export on a warm instance (or a fresh one when none is idle). The instance goes
    /// back to the pool only after a clean call: a trap (or any output, which its pipe would
    /// keep) retires it, and so do [`WARM_CALLS`] calls.
    fn call<R>(
        &self,
        func: &'static str,
        model_id: &str,
        f: impl FnOnce(&Guest, &mut Store<SandboxState>) -> wasmtime::Result<R>,
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

/// Finds `bedrock-embed:codec/codec@X.Y.Z` among the component's exports and the bindings
/// that drive it (semver: same major, and for 0.x the same minor, as one this host serves).
fn exported_interface_version(
    sandbox: &Sandbox,
    component: &wasmtime::component::Component,
) -> anyhow::Result<(String, WitVersion)> {
    let ty = component.component_type();
    let exports: Vec<String> = ty
        .exports(sandbox.engine())
        .map(|(name, _)| name.to_string())
        .collect();
    let prefix = format!("{INTERFACE}@");
    let Some(version) = exports.iter().find_map(|name| name.strip_prefix(&prefix)) else {
        bail!(
            "it does not export {INTERFACE} (it exports: {}); a codec must implement the world \
             `codec-guest` of wit/v{}/codec.wit",
            if exports.is_empty() {
                "nothing".to_string()
            } else {
                exports.join(", ")
            },
            WitVersion::current().version()
        );
    };
    let Some(wit) = WitVersion::for_export(version) else {
        bail!(
            "it exports {INTERFACE}@{version}, but this host supports {} (semver-compatible \
             versions); rebuild the codec against wit/v{}/ of this host or upgrade bedrock-embed",
            WitVersion::supported(),
            WitVersion::current().version()
        );
    };
    Ok((version.to_string(), wit))
}

/// The pre-instantiated component, through the bindings of its WIT version.
enum Pre {
    V0_1(v0_1::CodecGuestPre<SandboxState>),
    V0_2(v0_2::CodecGuestPre<SandboxState>),
}

impl Pre {
    fn new(
        wit: WitVersion,
        pre: wasmtime::component::InstancePre<SandboxState>,
    ) -> wasmtime::Result<Self> {
        Ok(match wit {
            WitVersion::V0_1 => Self::V0_1(v0_1::CodecGuestPre::new(pre)?),
            WitVersion::V0_2 => Self::V0_2(v0_2::CodecGuestPre::new(pre)?),
        })
    }

    fn instantiate(&self, store: &mut Store<SandboxState>) -> wasmtime::Result<Guest> {
        Ok(match self {
            Self::V0_1(pre) => Guest::V0_1(pre.instantiate(store)?),
            Self::V0_2(pre) => Guest::V0_2(pre.instantiate(store)?),
        })
    }
}

/// An instance, and the four calls in the current version's types. An older version's values
/// are converted field by field: what it cannot express (embedding types) is refused before
/// the call ([`Codec::check_options`]).
enum Guest {
    V0_1(v0_1::CodecGuest),
    V0_2(v0_2::CodecGuest),
}

/// What `decode` answered, before the host reads spans and checks the contract.
type GuestDecoded = v0_2::bedrock_embed::codec::types::Embeddings;

impl Guest {
    fn info(&self, store: &mut Store<SandboxState>) -> wasmtime::Result<CodecInfo> {
        match self {
            Self::V0_2(g) => g.bedrock_embed_codec_codec().call_info(store),
            Self::V0_1(g) => {
                let i = g.bedrock_embed_codec_codec().call_info(store)?;
                Ok(CodecInfo {
                    name: i.name,
                    version: i.version,
                    model_prefixes: i.model_prefixes,
                    params: i
                        .params
                        .into_iter()
                        .map(|p| super::bindings::ParamSpec {
                            name: p.name,
                            description: p.description,
                            default_value: p.default_value,
                            allowed: p.allowed,
                        })
                        .collect(),
                })
            }
        }
    }

    fn check(
        &self,
        store: &mut Store<SandboxState>,
        model_id: &str,
        params: &[Param],
    ) -> wasmtime::Result<Result<(), GuestError>> {
        match self {
            Self::V0_2(g) => g
                .bedrock_embed_codec_codec()
                .call_check(store, model_id, params),
            Self::V0_1(g) => Ok(g
                .bedrock_embed_codec_codec()
                .call_check(store, model_id, &v1_params(params))?
                .map_err(v1_error)),
        }
    }

    fn encode(
        &self,
        store: &mut Store<SandboxState>,
        model_id: &str,
        params: &[Param],
        options: RequestOptions,
        inputs: &[String],
    ) -> wasmtime::Result<Result<Vec<Invocation>, GuestError>> {
        match self {
            Self::V0_2(g) => g
                .bedrock_embed_codec_codec()
                .call_encode(store, model_id, params, options, inputs),
            Self::V0_1(g) => Ok(g
                .bedrock_embed_codec_codec()
                .call_encode(
                    store,
                    model_id,
                    &v1_params(params),
                    v1_options(options),
                    inputs,
                )?
                .map(|invocations| {
                    invocations
                        .into_iter()
                        .map(|i| Invocation {
                            body: i.body,
                            input_count: i.input_count,
                        })
                        .collect()
                })
                .map_err(v1_error)),
        }
    }

    fn decode(
        &self,
        store: &mut Store<SandboxState>,
        model_id: &str,
        params: &[Param],
        options: RequestOptions,
        body: &[u8],
        input_count: u32,
    ) -> wasmtime::Result<Result<GuestDecoded, GuestError>> {
        match self {
            Self::V0_2(g) => g.bedrock_embed_codec_codec().call_decode(
                store,
                model_id,
                params,
                options,
                body,
                input_count,
            ),
            Self::V0_1(g) => Ok(g
                .bedrock_embed_codec_codec()
                .call_decode(
                    store,
                    model_id,
                    &v1_params(params),
                    v1_options(options),
                    body,
                    input_count,
                )?
                .map(|e| GuestDecoded {
                    vectors: Vectors::Values(e.vectors),
                    embedding_type: EmbeddingType::Float,
                    input_tokens: e.input_tokens,
                })
                .map_err(v1_error)),
        }
    }
}

fn v1_params(params: &[Param]) -> Vec<v0_1::bedrock_embed::codec::types::Param> {
    params
        .iter()
        .map(|p| v0_1::bedrock_embed::codec::types::Param {
            name: p.name.clone(),
            value: p.value.clone(),
        })
        .collect()
}

fn v1_options(options: RequestOptions) -> v0_1::bedrock_embed::codec::types::RequestOptions {
    v0_1::bedrock_embed::codec::types::RequestOptions {
        dimensions: options.dimensions,
    }
}

fn v1_error(error: v0_1::bedrock_embed::codec::types::CodecError) -> GuestError {
    use v0_1::bedrock_embed::codec::types::CodecError as E;
    match error {
        E::InvalidParam(m) => GuestError::InvalidParam(m),
        E::InvalidInput(m) => GuestError::InvalidInput(m),
        E::BadResponse(m) => GuestError::BadResponse(m),
        E::UnsupportedModel(m) => GuestError::UnsupportedModel(m),
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
