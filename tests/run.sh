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

echo "== guest codec cores (native unit tests)"
cargo test --manifest-path guests/Cargo.toml

echo "== Rust workspace"
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast
  cargo test --workspace --doc
else
  cargo test --workspace --no-fail-fast
fi

echo "== Python clients (openai, boto3)"
cargo build --workspace --bins
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r tests/python/requirements.txt
.venv/bin/python -m pytest tests/python -q -p no:cacheprovider
