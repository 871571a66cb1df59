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

# Not run by CI. Codec sandbox tax, host tax, limiter precision, scale, start-up and hot-swap,
# hostile clients, replicas on Redis, measured side by side in one run. ARGS: `--quick` (short
# runs), or sections (codec host instructions limiter tokens scale startup hostile replicas) to
# run some only (BENCHMARKS.md is then left alone).
# Benchmarks in release mode (~8 min): print the table and write it to BENCHMARKS.md.
bench *ARGS:
    #!/usr/bin/env bash
    set -euo pipefail
    if ! command -v wrk >/dev/null; then
      echo "installing wrk (the HTTP load generator) from Debian's packages"
      sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
      $sudo apt-get update -qq && $sudo apt-get install -y -qq wrk
    fi
    if ! command -v redis-server >/dev/null; then
      echo "installing redis-server (the replicas section) from Debian's packages"
      sudo=""; [ "$(id -u)" = 0 ] || sudo="sudo"
      $sudo apt-get update -qq && $sudo apt-get install -y -qq redis-server
    fi
    cargo build --release --workspace
    target/release/bedrock-embed-bench --out BENCHMARKS.md {{ARGS}}

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

# The new crate builds on its own and depends on guests/codec-kit, the codec SDK (which holds
# the bindings of wit/v0.2.0, the current codec WIT); see docs/writing-a-codec.md.
# Start a new codec from guests/template in DIR (default: codecs-src/NAME).
new-codec NAME DIR="":
    #!/usr/bin/env bash
    set -euo pipefail
    name="{{NAME}}"
    dir="{{DIR}}"
    dir="${dir:-codecs-src/$name}"
    if [[ ! "$name" =~ ^[a-z][a-z0-9-]*$ ]]; then
      echo "error: NAME must be lowercase letters, digits and dashes, starting with a letter (got '$name')" >&2
      exit 1
    fi
    if [ -e "$dir" ]; then
      echo "error: $dir already exists" >&2
      exit 1
    fi
    mkdir -p "$dir/src"
    cp guests/template/src/lib.rs "$dir/src/lib.rs"
    cp guests/template/Cargo.toml "$dir/Cargo.toml"
    # Same dependency versions as the built-in codecs (and so a shared build cache).
    cp guests/Cargo.lock "$dir/Cargo.lock"
    # The codec SDK (the WIT's bindings and their export) by path: relative inside this
    # repository, absolute outside it.
    kit="$(realpath --relative-to="$dir" --relative-base="$PWD" guests/codec-kit)"
    sed -i -e "s/^name = \"codec-template\"/name = \"$name-codec\"/" \
           -e '/^# `just new-codec NAME` copies/d' \
           -e '/^# `just new-codec` points this path/d' \
           -e "s#^codec-kit = { path = \"../codec-kit\" }#codec-kit = { path = \"$kit\" }#" "$dir/Cargo.toml"
    sed -i -e "s/^const NAME: \&str = \"template\";/const NAME: \&str = \"$name\";/" "$dir/src/lib.rs"
    # The built-ins' release profile (guests/Cargo.toml says why): the name section stays, so
    # traps and profiles name the codec's functions.
    printf '%s\n' '' \
      '# Its own workspace: built on its own, for wasm32-wasip2.' \
      '[workspace]' '' \
      '[profile.release]' \
      'opt-level = 3' 'lto = true' 'codegen-units = 1' 'strip = "debuginfo"' 'panic = "abort"' >> "$dir/Cargo.toml"
    wasm="${name//-/_}_codec.wasm"
    echo "created $dir (codec \"$name\", package $name-codec)"
    echo "next: edit $dir/src/lib.rs (prefixes, params, request and response bodies), then"
    echo "  cargo test --manifest-path $dir/Cargo.toml"
    echo "  cargo build --release --target wasm32-wasip2 --manifest-path $dir/Cargo.toml"
    echo "  cp $dir/target/wasm32-wasip2/release/$wasm codecs/"
