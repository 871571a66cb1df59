//! A `bedrock-embed run` child process (one replica), on an ephemeral port, with its own
//! directory, environment and captured log.

use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

use crate::bin::host_binary;
use crate::codec_dir::shared_cache;

pub struct Replica {
    child: Child,
    pub base: String,
    log: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

impl Replica {
    /// Writes `spicepod` into a fresh directory and runs `bedrock-embed run` on it with `env`
    /// (and nothing else of this process's environment).
    pub async fn start(spicepod: &str, env: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().expect("replica dir");
        let path = dir.path().join("spicepod.yaml");
        std::fs::write(&path, spicepod).expect("write spicepod");
        let mut cmd = Command::new(host_binary());
        cmd.env_clear()
            .current_dir(dir.path())
            .env("HOME", dir.path())
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("BEDROCK_EMBED_CODEC_CACHE", shared_cache())
            .env("RUST_LOG", "info")
            .args(["run", "--spicepod"])
            .arg(&path)
            .args(["--http", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("spawning bedrock-embed run");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("stderr");
        let sink = Arc::clone(&log);
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let mut all = sink.lock().unwrap();
                all.push_str(&line);
                all.push('\n');
            }
        });
        let mut stdout = BufReader::new(child.stdout.take().expect("stdout")).lines();
        let first = tokio::time::timeout(Duration::from_secs(120), stdout.next_line())
            .await
            .ok()
            .and_then(|l| l.ok().flatten());
        let Some(base) = first
            .as_deref()
            .and_then(|l| l.strip_prefix("bedrock-embed listening on "))
            .map(str::to_string)
        else {
            tokio::time::sleep(Duration::from_millis(200)).await;
            panic!(
                "bedrock-embed run did not start: stdout {first:?}, log:\n{}",
                log.lock().unwrap()
            );
        };
        Self {
            child,
            base,
            log,
            _dir: dir,
        }
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// `GET /metrics`.
    pub async fn metrics(&self, http: &reqwest::Client) -> String {
        http.get(format!("{}/metrics", self.base))
            .send()
            .await
            .expect("GET /metrics")
            .text()
            .await
            .unwrap_or_default()
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// `host:port` it listens on (for raw sockets).
    pub fn addr(&self) -> &str {
        self.base.strip_prefix("http://").unwrap_or(&self.base)
    }

    /// `base` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Sends SIGTERM to this child (by its PID), as a service manager does.
    pub fn terminate(&self) {
        let pid = self.pid().expect("the replica is running");
        let status = std::process::Command::new("kill")
            .args(["-TERM", &pid.to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -TERM {pid} failed");
    }

    /// Open file descriptors of the child (from /proc).
    pub fn open_fds(&self) -> usize {
        let pid = self.pid().expect("the replica is running");
        std::fs::read_dir(format!("/proc/{pid}/fd"))
            .map(|d| d.count())
            .unwrap_or(0)
    }

    /// Waits up to `within` for the child to exit (panics with its log if it does not): its
    /// exit status and everything it logged.
    pub async fn exit(mut self, within: Duration) -> (std::process::ExitStatus, String) {
        let status = match tokio::time::timeout(within, self.child.wait()).await {
            Ok(status) => status.expect("waiting for bedrock-embed"),
            Err(_) => panic!(
                "bedrock-embed did not exit within {within:?}:\n{}",
                self.log()
            ),
        };
        // Let the stderr reader catch the last lines.
        tokio::time::sleep(Duration::from_millis(200)).await;
        (status, self.log())
    }

    /// Kills it by PID (SIGKILL) and waits for it.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
}
