# bedrock-embed tasks. `just --list` shows them all.

set shell := ["bash", "-euo", "pipefail", "-c"]

# Show the recipes.
default:
    @just --list

# Build the host (and, through its build script, the built-in wasm codecs).
build:
    cargo build --workspace

# Build optimised binaries.
release:
    cargo build --workspace --release

# Serve spicepod.yaml against the local Bedrock emulator: no AWS account needed.
demo:
    cargo run --release -- run --offline

# Serve spicepod.yaml against real Bedrock (credentials from params or the AWS chain).
run *ARGS:
    cargo run --release -- run {{ARGS}}

# Validate spicepod.yaml, secrets, codec params and credentials without calling Bedrock.
check *ARGS:
    cargo run -- check {{ARGS}}

# List the codecs (built-in and ./codecs/*.wasm) and the model prefixes each serves.
codecs *ARGS:
    cargo run -- codecs {{ARGS}}

# Every test, exactly as CI runs them (guests, workspace, Python clients).
test:
    ./tests/run.sh

# Formatting and lints, as CI checks them.
lint:
    cargo fmt --all --check
    cargo fmt --manifest-path guests/Cargo.toml --all --check
    cargo clippy --workspace --all-targets -- -D warnings
    cargo clippy --manifest-path guests/Cargo.toml --all-targets -- -D warnings

# Format everything.
fmt:
    cargo fmt --all
    cargo fmt --manifest-path guests/Cargo.toml --all

# Build the codec components alone (wasm32-wasip2), e.g. to drop one into ./codecs.
guests:
    cargo build --manifest-path guests/Cargo.toml --release --target wasm32-wasip2
    @ls -l guests/target/wasm32-wasip2/release/*.wasm

# Start the Bedrock emulator on its default port (see `bedrock-emulator --help`).
emulator *ARGS:
    cargo run -p bedrock-emulator -- {{ARGS}}
