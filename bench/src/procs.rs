//! The processes a run starts (the emulator, the host), each killed when dropped.

use std::fs::File;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

/// A child process started by the bench; killed (by its own pid) on drop.
pub struct Proc {
    child: Child,
    /// The address it printed (`... listening on http://ADDR`).
    pub url: String,
    /// From spawn to the printed line.
    pub ready_after: Duration,
}

impl Proc {
    /// Spawns `cmd` with stderr to `log`, and waits (at most `timeout`) for the stdout line
    /// `<prefix> listening on http://ADDR`.
    pub fn spawn(
        mut cmd: Command,
        prefix: &str,
        log: &Path,
        timeout: Duration,
    ) -> anyhow::Result<Self> {
        let stderr = File::create(log).with_context(|| format!("creating {}", log.display()))?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let started = Instant::now();
        let mut child = cmd.spawn().with_context(|| format!("starting {cmd:?}"))?;
        let stdout = child.stdout.take().context("piped stdout")?;
        let (tx, rx) = mpsc::channel();
        // Reads stdout to the end (so the child never blocks on a full pipe).
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let _ = tx.send(line);
            }
        });
        let wanted = format!("{prefix} listening on ");
        loop {
            let left = timeout.saturating_sub(started.elapsed());
            match rx.recv_timeout(left) {
                Ok(line) => {
                    if let Some(url) = line.strip_prefix(&wanted) {
                        return Ok(Self {
                            child,
                            url: url.trim().to_string(),
                            ready_after: started.elapsed(),
                        });
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    let log_text = std::fs::read_to_string(log).unwrap_or_default();
                    bail!(
                        "{prefix} did not report ready within {timeout:?}; its log ({}):\n{}",
                        log.display(),
                        tail(&log_text, 3000)
                    );
                }
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Peak resident set size so far (VmHWM of /proc/PID/status).
    pub fn peak_rss_bytes(&self) -> anyhow::Result<u64> {
        proc_status_kib(self.pid(), "VmHWM:").map(|kib| kib * 1024)
    }

    /// Current resident set size (VmRSS).
    pub fn rss_bytes(&self) -> anyhow::Result<u64> {
        proc_status_kib(self.pid(), "VmRSS:").map(|kib| kib * 1024)
    }

    /// SIGTERM (a graceful shutdown), then waits up to 10 s before killing.
    pub fn stop(mut self) {
        self.terminate(Duration::from_secs(10));
    }

    /// [`Proc::stop`] with a longer wait (a process under valgrind exits slowly).
    pub fn stop_within(mut self, wait: Duration) {
        self.terminate(wait);
    }

    fn terminate(&mut self, wait: Duration) {
        if let Ok(None) = self.child.try_wait() {
            let _ = Command::new("kill")
                .arg("-TERM")
                .arg(self.child.id().to_string())
                .status();
            let until = Instant::now() + wait;
            while Instant::now() < until {
                if let Ok(Some(_)) = self.child.try_wait() {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        self.terminate(Duration::from_secs(10));
    }
}

/// Linux reports CPU times in /proc in units of USER_HZ, which is 100 on every architecture
/// Rust targets (it is part of the ABI, independent of the kernel's HZ).
const USER_HZ: u64 = 100;

/// CPU time (user + system, every thread) process `pid` has used so far (/proc/PID/stat).
pub fn cpu_time(pid: u32) -> anyhow::Result<Duration> {
    stat_ticks(pid, 11, 12)
}

/// CPU time the children this process has waited for used (cutime + cstime of
/// /proc/self/stat): a load generator run to completion, such as `wrk`.
pub fn waited_children_cpu_time() -> anyhow::Result<Duration> {
    stat_ticks(std::process::id(), 13, 14)
}

/// The sum of two tick fields of /proc/PID/stat, as a duration.
fn stat_ticks(pid: u32, a: usize, b: usize) -> anyhow::Result<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis,
    // where field 3 (state) is index 0, so utime (14) is 11, stime (15) is 12, cutime (16) 13
    // and cstime (17) 14.
    let after = stat
        .rsplit_once(')')
        .with_context(|| format!("unexpected /proc/{pid}/stat"))?
        .1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<u64> {
        fields
            .get(i)
            .and_then(|v| v.parse().ok())
            .with_context(|| format!("no field {} in /proc/{pid}/stat", i + 3))
    };
    let total = ticks(a)? + ticks(b)?;
    Ok(Duration::from_micros(total * 1_000_000 / USER_HZ))
}

/// CPU two processes use over a measured run: the side under test (the host, or this process
/// for the direct SDK driver) and the emulator both sides share.
/// Also the load generator's, when it is a child process run to completion (`wrk`).
pub struct CpuSpan {
    pids: [u32; 2],
    before: [Duration; 2],
    children_before: Duration,
}

/// CPU per request of a run (see [`CpuSpan`]).
#[derive(Debug, Clone, Copy)]
pub struct CpuPerRequest {
    pub side: Duration,
    pub emulator: Duration,
    /// The waited-for child load generator's (zero for the in-process direct driver, whose
    /// CPU is `side`).
    pub load_generator: Duration,
}

impl CpuPerRequest {
    /// Everything this machine spent per request.
    pub fn total(&self) -> Duration {
        self.side + self.emulator + self.load_generator
    }
}

impl CpuSpan {
    pub fn start(side_pid: u32, emulator_pid: u32) -> anyhow::Result<Self> {
        Ok(Self {
            pids: [side_pid, emulator_pid],
            before: [cpu_time(side_pid)?, cpu_time(emulator_pid)?],
            children_before: waited_children_cpu_time()?,
        })
    }

    pub fn per_request(&self, requests: u64) -> anyhow::Result<CpuPerRequest> {
        let n = u32::try_from(requests.max(1)).unwrap_or(u32::MAX);
        let used = |i: usize| -> anyhow::Result<Duration> {
            Ok(cpu_time(self.pids[i])?.saturating_sub(self.before[i]) / n)
        };
        Ok(CpuPerRequest {
            side: used(0)?,
            emulator: used(1)?,
            load_generator: waited_children_cpu_time()?.saturating_sub(self.children_before) / n,
        })
    }
}

fn proc_status_kib(pid: u32, key: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    status
        .lines()
        .find_map(|l| l.strip_prefix(key))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .with_context(|| format!("no {key} in /proc/{pid}/status"))
}

/// The directory of this executable: `target/release`, where `cargo build --release
/// --workspace` also put `bedrock-embed` and `bedrock-emulator`.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe
        .parent()
        .context("the executable has a directory")?
        .to_path_buf())
}

/// Path of a sibling binary, checked to exist.
pub fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let path = bin_dir()?.join(name);
    if !path.exists() {
        bail!(
            "{} is missing: run `cargo build --release --workspace` first",
            path.display()
        );
    }
    Ok(path)
}

/// Starts `bedrock-emulator --listen 127.0.0.1:0` (the default keys, no faults).
pub fn emulator(log: &Path) -> anyhow::Result<Proc> {
    let mut cmd = Command::new(sibling("bedrock-emulator")?);
    cmd.args(["--listen", "127.0.0.1:0"])
        .env("RUST_LOG", "warn");
    Proc::spawn(cmd, "bedrock-emulator", log, Duration::from_secs(30))
}

fn tail(s: &str, max: usize) -> &str {
    let mut start = s.len().saturating_sub(max);
    while !s.is_char_boundary(start) {
        start += 1;
    }
    &s[start..]
}
