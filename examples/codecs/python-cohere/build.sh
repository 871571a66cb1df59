#!/usr/bin/env bash
# Builds the Python Cohere Embed v4 codec (app.py) into a WebAssembly component with
# componentize-py, from the repository's wit/v0.1.0/codec.wit.
#
#   examples/codecs/python-cohere/build.sh [OUT.wasm]
#
# OUT defaults to target/python-codecs/cohere_v4_py.wasm. componentize-py is installed from PyPI
# into the repository's .venv (made when missing; VENV=... picks another). ~20 s, ~18 MB.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
out="${1:-$repo/target/python-codecs/cohere_v4_py.wasm}"
venv="${VENV:-$repo/.venv}"

# One maker of the venv at a time: test processes may run this script concurrently.
mkdir -p "$(dirname "$venv")"
exec 9>"$venv.lock"
flock 9
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
fi
if ! "$venv/bin/python" -m pip show --quiet componentize-py >/dev/null 2>&1; then
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$here/requirements.txt"
fi
flock -u 9

mkdir -p "$(dirname "$out")"
tmp="$out.tmp.$$"
# Only this directory is the app's Python path (not the venv's site-packages): the codec needs
# nothing but the standard library.
(
  cd "$here"
  unset VIRTUAL_ENV
  "$venv/bin/componentize-py" --wit-path "$repo/wit/v0.1.0" --world codec-guest \
    componentize --python-path "$here" app -o "$tmp"
)
mv "$tmp" "$out"
echo "built $out ($(du -h "$out" | cut -f1))"
