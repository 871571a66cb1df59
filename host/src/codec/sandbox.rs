//! The sandbox codecs run in: one engine, WASI p2 with an empty context, and per store a memory
//! cap and a CPU deadline re-armed before every call (stores are kept warm by
//! [`super::loaded`]).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{
    Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig, ProfilingStrategy,
    ResourceLimiter, Store, Trap,
};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use super::cache::CompiledCache;

/// Limits the host enforces on every codec call.
#[derive(Debug, Clone, Copy)]
pub struct SandboxLimits {
    /// Linear memory a codec instance may grow to.
    pub memory_bytes: usize,
    /// CPU time one call may take before it is interrupted.
    pub call_timeout: Duration,
    /// Bytes of stdout+stderr kept per call (the rest is dropped; the guest sees a closed stream).
    pub output_bytes: usize,
}

impl Default for SandboxLimits {
    fn default() -> Self {
        Self {
            memory_bytes: 64 << 20,
            call_timeout: Duration::from_secs(2),
            output_bytes: 16 << 10,
        }
    }
}

/// How often the epoch ticks; deadlines are whole ticks.
const EPOCH_TICK: Duration = Duration::from_millis(10);
/// Codec instances the pooling allocator keeps slots for (tokio's blocking pool runs at most
/// 512 calls at once).
const POOLED_INSTANCES: u32 = 1000;

/// Per-call store data: an empty WASI context and the limits.
pub struct SandboxState {
    wasi: WasiCtx,
    table: ResourceTable,
    limits: MemoryCap,
}

impl WasiView for SandboxState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

/// The engine and linker all codecs share.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Engine,
    linker: Linker<SandboxState>,
    limits: SandboxLimits,
    pooling: bool,
    cache: Option<CompiledCache>,
}

impl Sandbox {
    /// A sandbox that compiles every codec it loads (no compiled-codec cache).
    pub fn new(limits: SandboxLimits) -> anyhow::Result<Self> {
        Self::with_cache(limits, None)
    }

    /// A sandbox that keeps the native code it compiles in the compiled-codec cache under
    /// `cache_root` (see [`super::cache`]), so a restart does not compile again. A cache that
    /// cannot be opened is logged and left off.
    pub fn with_cache(limits: SandboxLimits, cache_root: Option<&Path>) -> anyhow::Result<Self> {
        let (engine, pooling) = match Engine::new(&engine_config(&limits, true)) {
            Ok(engine) => (engine, true),
            Err(err) => {
                // Pooling reserves address space up front; some machines (ulimit -v, small
                // vm.max_map_count) refuse that. On-demand allocation works everywhere.
                tracing::warn!(
                    "pooling allocator unavailable ({err:#}); using on-demand instance allocation"
                );
                (
                    Engine::new(&engine_config(&limits, false)).map_err(anyhow::Error::from)?,
                    false,
                )
            }
        };
        let mut linker = Linker::new(&engine);
        // Rust std guests import wasi:cli/io even when the world imports nothing. Linking WASI
        // is safe because the context is empty: no preopens, no env, no args, sockets denied.
        wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
            .map_err(anyhow::Error::from)
            .context("linking WASI p2")?;
        start_epoch_ticker(&engine);
        let cache = cache_root.and_then(|root| match CompiledCache::open(root, &engine) {
            Ok(cache) => {
                tracing::debug!("compiled-codec cache: {}", cache.dir().display());
                Some(cache)
            }
            Err(err) => {
                tracing::warn!("compiled-codec cache off: {err:#}");
                None
            }
        });
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                linker,
                limits,
                pooling,
                cache,
            }),
        })
    }

    pub fn engine(&self) -> &Engine {
        &self.inner.engine
    }

    pub fn linker(&self) -> &Linker<SandboxState> {
        &self.inner.linker
    }

    pub fn limits(&self) -> SandboxLimits {
        self.inner.limits
    }

    /// Whether the pooling allocator is in use (reported in logs and benchmarks).
    pub fn pooling(&self) -> bool {
        self.inner.pooling
    }

    /// The compiled-codec cache, when on.
    pub fn cache(&self) -> Option<&CompiledCache> {
        self.inner.cache.as_ref()
    }

    pub fn compile(&self, bytes: &[u8]) -> anyhow::Result<Component> {
        Component::new(&self.inner.engine, bytes).map_err(anyhow::Error::from)
    }

    /// Compiles `bytes` (whose SHA-256 is `sha256`), through the compiled-codec cache when on.
    pub fn compile_cached(&self, bytes: &[u8], sha256: &str) -> anyhow::Result<Component> {
        match &self.inner.cache {
            Some(cache) => cache.get_or_compile(&self.inner.engine, sha256, || self.compile(bytes)),
            None => self.compile(bytes),
        }
    }

    /// A store for one call, with its output pipe. The deadline is set here, right before the
    /// call: a store with epochs on and no deadline would trap at once.
    pub fn new_store(&self) -> (Store<SandboxState>, MemoryOutputPipe) {
        let limits = &self.inner.limits;
        let output = MemoryOutputPipe::new(limits.output_bytes);
        // WasiCtxBuilder::new() grants nothing: no preopened dirs, no env, no args, no
        // network (every socket address is denied, name lookup is off).
        let wasi = WasiCtxBuilder::new()
            .stdout(output.clone())
            .stderr(output.clone())
            .build();
        let state = SandboxState {
            wasi,
            table: ResourceTable::new(),
            limits: MemoryCap {
                max_bytes: limits.memory_bytes,
            },
        };
        let mut store = Store::new(&self.inner.engine, state);
        store.limiter(|s| &mut s.limits);
        store.set_epoch_deadline(deadline_ticks(limits.call_timeout));
        store.epoch_deadline_trap();
        (store, output)
    }

    /// Re-arms the CPU deadline of a warm store before its next call (a store with epochs on
    /// must get a fresh deadline before **every** call).
    pub fn arm_deadline(&self, store: &mut Store<SandboxState>) {
        store.set_epoch_deadline(deadline_ticks(self.inner.limits.call_timeout));
    }

    /// What kind of fault `err` is, read from its type (never from its text).
    pub fn trap_kind(err: &wasmtime::Error) -> TrapKind {
        if err.downcast_ref::<MemoryLimitExceeded>().is_some() {
            return TrapKind::MemoryLimit;
        }
        match err.downcast_ref::<Trap>() {
            Some(Trap::Interrupt) => TrapKind::TimeLimit,
            Some(Trap::StackOverflow) => TrapKind::StackOverflow,
            Some(Trap::UnreachableCodeReached) => TrapKind::Panic,
            Some(_) => TrapKind::Fault,
            None => TrapKind::Other,
        }
    }

    /// Turns a trap into a sentence a user can act on, with the guest's own output (a panic
    /// message, usually) appended.
    pub fn describe_trap(&self, err: &wasmtime::Error, output: &[u8]) -> String {
        let limits = &self.inner.limits;
        let mut reason = match Self::trap_kind(err) {
            TrapKind::TimeLimit => format!(
                "it ran past its time limit of {} ms and was stopped",
                limits.call_timeout.as_millis()
            ),
            TrapKind::MemoryLimit => format!(
                "it tried to use more than its memory limit of {} MiB",
                limits.memory_bytes >> 20
            ),
            TrapKind::StackOverflow => "it overflowed its stack".to_string(),
            TrapKind::Panic => {
                "it trapped (unreachable; a Rust guest does this when it panics)".to_string()
            }
            TrapKind::Fault => match err.downcast_ref::<Trap>() {
                Some(trap) => format!("it trapped: {trap}"),
                None => format!("{err:#}"),
            },
            TrapKind::Other => format!("{err:#}"),
        };
        let output = String::from_utf8_lossy(output);
        let output = output.trim();
        if !output.is_empty() {
            reason.push_str("; its output: ");
            reason.push_str(&truncate(output, 1000));
        }
        reason
    }
}

/// Why a codec call trapped, as a type the HTTP layer and the bulk job can both read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TrapKind {
    /// It ran past its CPU deadline (epoch interruption).
    TimeLimit,
    /// It asked for more linear memory than the cap (at instantiation or `memory.grow`).
    MemoryLimit,
    StackOverflow,
    /// `unreachable`: what a Rust guest's panic ends in.
    Panic,
    /// Any other wasm trap (out-of-bounds access, division by zero, ...).
    Fault,
    /// A host-side failure of the call (instantiation, a canonical-ABI check, ...).
    Other,
}

/// The memory cap of one store. Past it, growth fails with [`MemoryLimitExceeded`], which the
/// trap then carries as its error type (wasmtime's `StoreLimits` reports only a string).
pub struct MemoryCap {
    max_bytes: usize,
}

/// The error a codec's memory growth fails with past [`SandboxLimits::memory_bytes`].
#[derive(Debug, thiserror::Error)]
#[error("the codec asked for {desired} bytes of linear memory; its limit is {limit}")]
pub struct MemoryLimitExceeded {
    pub desired: usize,
    pub limit: usize,
}

impl ResourceLimiter for MemoryCap {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_bytes {
            return Err(MemoryLimitExceeded {
                desired,
                limit: self.max_bytes,
            }
            .into());
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        _desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(true)
    }
}

fn engine_config(limits: &SandboxLimits, pooling: bool) -> Config {
    let mut config = Config::new();
    config.epoch_interruption(true);
    if let Some(strategy) = profiler_from_env() {
        config.profiler(strategy);
    }
    if pooling {
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(POOLED_INSTANCES)
            // A wasip2 Rust component is a handful of core instances (the code, the WASI
            // adapter, shims) with one or two memories and tables.
            .max_core_instances_per_component(16)
            .max_memories_per_component(4)
            .max_tables_per_component(8)
            .total_core_instances(POOLED_INSTANCES * 8)
            .total_memories(POOLED_INSTANCES * 2)
            .total_tables(POOLED_INSTANCES * 4)
            .max_memory_size(limits.memory_bytes);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// `BEDROCK_EMBED_WASM_PROFILER=perfmap` (or `jitdump`) names the codecs' compiled functions
/// for `perf`, as `wasmtime --profile=perfmap` does; off by default. See BENCHMARKS.md.
const PROFILER_ENV: &str = "BEDROCK_EMBED_WASM_PROFILER";

fn profiler_from_env() -> Option<ProfilingStrategy> {
    let value = std::env::var(PROFILER_ENV).ok()?;
    parse_profiler(&value).unwrap_or_else(|message| {
        tracing::warn!("{message}");
        None
    })
}

/// The strategy a [`PROFILER_ENV`] value names, or the warning for a value it does not know.
fn parse_profiler(value: &str) -> Result<Option<ProfilingStrategy>, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "" | "none" => Ok(None),
        "perfmap" => Ok(Some(ProfilingStrategy::PerfMap)),
        "jitdump" => Ok(Some(ProfilingStrategy::JitDump)),
        _ => Err(format!(
            "{PROFILER_ENV}={value:?} ignored: use perfmap, jitdump or none"
        )),
    }
}

fn deadline_ticks(timeout: Duration) -> u64 {
    (timeout.as_millis() / EPOCH_TICK.as_millis()).max(1) as u64 + 1
}

/// Advances the engine's epoch every tick for as long as the engine lives.
fn start_epoch_ticker(engine: &Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("codec-epoch".into())
        .spawn(move || {
            while let Some(engine) = weak.upgrade() {
                engine.increment_epoch();
                drop(engine);
                std::thread::sleep(EPOCH_TICK);
            }
        })
        .expect("spawning the epoch thread");
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} more bytes)", &s[..end], s.len() - end)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_profiler_variable_names_a_strategy_or_says_what_it_takes() {
        assert_eq!(
            parse_profiler(" PerfMap "),
            Ok(Some(ProfilingStrategy::PerfMap))
        );
        assert_eq!(
            parse_profiler("jitdump"),
            Ok(Some(ProfilingStrategy::JitDump))
        );
        assert_eq!(parse_profiler("none"), Ok(None));
        assert_eq!(
            parse_profiler("vtune"),
            Err(
                "BEDROCK_EMBED_WASM_PROFILER=\"vtune\" ignored: use perfmap, jitdump or none"
                    .into()
            )
        );
    }
}
