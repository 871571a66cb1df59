#!/usr/bin/env bash
# Every test of the project, as CI runs it: the guest codec cores natively, the Rust workspace
# (host units, emulator, end-to-end tests through the real aws-sdk and the wasm codecs), and the
# Python client tests (official openai client, boto3) in a venv made here.
set -euo pipefail
cd "$(dirname "$0")/.."

# The built-in codecs are wasm32-wasip2 components; quick when the target is already there.
rustup target add wasm32-wasip2 >/dev/null 2>&1 || {
  echo "error: could not add the wasm32-wasip2 target; run: rustup target add wasm32-wasip2" >&2
  exit 1
}

# System packages the tests use, from Debian's archive when missing (as root, else with sudo):
# redis-server (tests/e2e/scale_out.rs runs a real one per test and fails, never skips, without
# it) and node >= 18 with npm (the SigV4 signer and Vercel AI SDK tests).
missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
{ command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; } || missing+=(nodejs npm)
if [ ${#missing[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
  echo "installing ${missing[*]} (needed by the tests) from Debian's packages"
  $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}"
fi

echo "== guest codec cores (native unit tests)"
cargo test --manifest-path guests/Cargo.toml

echo "== example codecs (Python via componentize-py into .venv; the Rust example's native tests)"
examples/codecs/python-cohere/build.sh
cargo test --manifest-path examples/codecs/nova-rust/Cargo.toml --target-dir target/examples-native

echo "== Rust workspace"
# The end-to-end tests run the real binaries as child processes: build them first, and tell the
# tests where the host is (otherwise each test process runs `cargo build` for it).
cargo build --workspace --bins
# The Python tests run both binaries too: the same paths, so another CARGO_TARGET_DIR is honoured.
export BEDROCK_EMBED_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/bedrock-embed"
export BEDROCK_EMULATOR_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/bedrock-emulator"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
  cargo test --workspace --doc
else
  cargo test --workspace --no-fail-fast
fi

echo "== Python clients (openai, boto3, langchain-openai, langchain-aws, llama-index)"
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
# CI=1: a binary or dependency missing fails the run instead of skipping (tests/python/conftest.py);
# this script is the whole suite. Run pytest by hand for a subset that may skip.
CI="${CI:-1}" .venv/bin/python -m pytest tests/python -q -p no:cacheprovider

echo "== Node signer (@smithy/signature-v4, the AWS SDK for JavaScript's) against the emulator"
command -v node >/dev/null || { echo "error: node is not installed (apt-get install nodejs npm)" >&2; exit 1; }
npm ci --prefix tests/sigv4-node --no-audit --no-fund --loglevel=error
(cd tests/sigv4-node && node --test)

echo "== Node clients (Vercel AI SDK: @ai-sdk/amazon-bedrock, @ai-sdk/openai)"
# Pinned in tests/node/package-lock.json; node_modules stays local to tests/node (git-ignored).
npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
(cd tests/node && node --test ./*.test.mjs)
