"""Shared pytest fixtures: start project binaries on 127.0.0.1 and stop exactly those processes.

The emulator fixture runs ``target/debug/bedrock-emulator --listen 127.0.0.1:0`` (override the
path with ``BEDROCK_EMULATOR_BIN``), reads its ``bedrock-emulator listening on http://...`` line
and terminates that PID at the end. ``start_listening_binary`` is generic so other binaries that
print a "listening on URL" line (the host) can get fixtures the same way.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import signal
import subprocess
import tempfile
import threading
import urllib.request
from dataclasses import dataclass, field
from typing import Any

import pytest

REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]
LISTENING_RE = re.compile(r"listening on (http://\S+)")

EMULATOR_ACCESS_KEY_ID = "AKIAIOSFODNN7EXAMPLE"
EMULATOR_SECRET_ACCESS_KEY = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
EMULATOR_API_KEY = "emulator-test-api-key"
EMULATOR_EXPIRED_TOKEN = "emulator-expired-session-token"


def emulator_bin() -> str:
    return os.environ.get("BEDROCK_EMULATOR_BIN", str(REPO_ROOT / "target" / "debug" / "bedrock-emulator"))


def host_bin() -> str:
    return os.environ.get("BEDROCK_EMBED_BIN", str(REPO_ROOT / "target" / "debug" / "bedrock-embed"))


def require_binary(path: str) -> None:
    """Fails the test when ``path`` is not built. In CI (``CI`` set) this is always a failure, so a
    run whose binaries are elsewhere (another ``CARGO_TARGET_DIR``) cannot pass by skipping;
    by hand it is a skip that names the binary and the command, repeated in the summary."""
    if os.path.isfile(path):
        return
    why = (
        f"{path} is not built: run `cargo build --workspace --bins`, or set BEDROCK_EMBED_BIN / "
        "BEDROCK_EMULATOR_BIN to the built binaries (tests/run.sh sets both)"
    )
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(f"CI: {why}", pytrace=False)
    MISSING_BINARIES.add(why)
    pytest.skip(why)


# Why tests were skipped for a missing binary, printed again at the end of a run by hand.
MISSING_BINARIES: set[str] = set()


def pytest_terminal_summary(terminalreporter) -> None:
    for why in sorted(MISSING_BINARIES):
        terminalreporter.write_line(f"SKIPPED (not run, not passed): {why}", red=True, bold=True)


@dataclass
class RunningBinary:
    """A started process and the URL it announced."""

    proc: subprocess.Popen
    url: str
    stderr_path: str
    argv: list[str] = field(default_factory=list)

    def stderr(self) -> str:
        try:
            return pathlib.Path(self.stderr_path).read_text(errors="replace")
        except OSError:
            return ""

    def stop(self, timeout: float = 10.0) -> int | None:
        """SIGTERM this PID (only), then SIGKILL it if it does not exit in time."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=timeout)
        try:
            os.unlink(self.stderr_path)
        except OSError:
            pass
        return self.proc.returncode


def start_listening_binary(
    argv: list[str],
    *,
    env: dict[str, str] | None = None,
    timeout: float = 30.0,
    pattern: re.Pattern[str] = LISTENING_RE,
) -> RunningBinary:
    """Starts ``argv`` and waits (bounded) for a stdout line matching ``pattern``."""
    require_binary(argv[0])
    err = tempfile.NamedTemporaryFile(prefix="pytest-bin-", suffix=".stderr", delete=False)
    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=err,
        stdin=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        text=True,
    )
    err.close()
    found: dict[str, str] = {}
    announced = threading.Event()

    def read() -> None:
        # Keep draining stdout after the line so the process never blocks on a full pipe.
        assert proc.stdout is not None
        for line in proc.stdout:
            if not announced.is_set():
                m = pattern.search(line)
                if m:
                    found["url"] = m.group(1)
                    announced.set()
        announced.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    announced.wait(timeout)
    if "url" not in found:
        running = RunningBinary(proc, "", err.name, argv)
        stderr = running.stderr()
        running.stop()
        raise RuntimeError(f"{argv[0]} did not print a listening line within {timeout}s; stderr:\n{stderr}")
    return RunningBinary(proc, found["url"], err.name, argv)


class EmulatorHandle:
    """A running bedrock-emulator with its control endpoints."""

    def __init__(self, running: RunningBinary):
        self.running = running
        self.url = running.url
        self.access_key_id = EMULATOR_ACCESS_KEY_ID
        self.secret_access_key = EMULATOR_SECRET_ACCESS_KEY
        self.api_key = EMULATOR_API_KEY
        self.expired_session_token = EMULATOR_EXPIRED_TOKEN

    def _call(self, method: str, path: str, body: Any = None) -> Any:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"content-type": "application/json"}
        )
        with urllib.request.urlopen(req, timeout=10) as resp:
            return json.loads(resp.read() or b"null")

    def stats(self) -> dict:
        return self._call("GET", "/_emulator/stats")

    def requests(self) -> list[dict]:
        return self._call("GET", "/_emulator/requests")

    def reset(self) -> None:
        self._call("POST", "/_emulator/reset")

    def set_faults(self, default: dict | None = None, models: dict | None = None) -> None:
        self._call("PUT", "/_emulator/faults", {"default": default or {}, "models": models or {}})

    def boto3_client(self, **overrides: Any):
        import boto3
        from botocore.config import Config

        kwargs: dict[str, Any] = dict(
            region_name="us-east-1",
            endpoint_url=self.url,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            aws_session_token=None,
            config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
        )
        kwargs.update(overrides)
        return boto3.client("bedrock-runtime", **kwargs)


@pytest.fixture(scope="session")
def emulator_process():
    """One emulator for the session (API key and an expired session token configured)."""
    running = start_listening_binary(
        [
            emulator_bin(),
            "--listen",
            "127.0.0.1:0",
            "--api-key",
            EMULATOR_API_KEY,
            "--expired-session-token",
            EMULATOR_EXPIRED_TOKEN,
        ]
    )
    yield EmulatorHandle(running)
    code = running.stop()
    assert code == 0, f"emulator exited with {code}"


@pytest.fixture
def emulator(emulator_process: EmulatorHandle) -> EmulatorHandle:
    """The session emulator with clean stats, request log and no faults."""
    emulator_process.set_faults()
    emulator_process.reset()
    return emulator_process


# The spicepod the host fixture serves (in --offline mode, against its in-process emulator).
HOST_SPICEPOD = """\
version: v1
kind: Spicepod
name: python-clients
embeddings:
  - from: bedrock:amazon.titan-embed-text-v2:0
    name: titan
  - from: bedrock:amazon.titan-embed-text-v1
    name: titan-v1
  - from: bedrock:cohere.embed-english-v3
    name: cohere
"""


@pytest.fixture(scope="session")
def host_url(tmp_path_factory):
    """``bedrock-embed run --offline`` on an ephemeral port; its base URL. Stops exactly that PID."""
    pod = tmp_path_factory.mktemp("host") / "spicepod.yaml"
    pod.write_text(HOST_SPICEPOD)
    running = start_listening_binary(
        [host_bin(), "run", "--offline", "--spicepod", str(pod), "--http", "127.0.0.1:0"],
        env={"AWS_EC2_METADATA_DISABLED": "true"},
        timeout=120.0,
    )
    yield running.url
    code = running.stop()
    assert code == 0, f"bedrock-embed exited with {code}; stderr:\n{running.stderr()}"
