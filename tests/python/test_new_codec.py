"""`just new-codec NAME DIR` as a codec author runs it: the crate it writes carries no copy of the
WIT and no wit-bindgen (it builds on guests/codec-kit, the codec SDK, by path), its native tests
pass, it builds for wasm32-wasip2, and the host loads the component and lists it."""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import subprocess
import sys

from conftest import REPO_ROOT, host_bin, require_binary

# The venv's `just` (rust-just, tests/python/requirements.txt).
JUST = pathlib.Path(sys.executable).parent / "just"


def run(args: list[str], cwd: pathlib.Path, timeout: float, env: dict | None = None) -> str:
    done = subprocess.run(
        args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )
    assert done.returncode == 0, f"{' '.join(map(str, args))} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_new_codec_builds_on_codec_kit_and_the_host_serves_it(tmp_path: pathlib.Path) -> None:
    require_binary(host_bin())
    assert JUST.is_file(), f"{JUST} is missing: pip install -r tests/python/requirements.txt"
    crate = tmp_path / "acme"
    out = run([str(JUST), "new-codec", "acme", str(crate)], REPO_ROOT, 60)
    assert f"created {crate}" in out, out

    manifest = (crate / "Cargo.toml").read_text()
    kit = REPO_ROOT / "guests" / "codec-kit"
    # Outside the repository the SDK is named by its absolute path.
    assert f'codec-kit = {{ path = "{kit}" }}' in manifest, manifest
    assert "wit-bindgen" not in manifest, manifest
    assert 'name = "acme-codec"' in manifest, manifest
    assert not (crate / "wit").exists(), "the new crate must not carry a copy of the WIT"
    assert 'const NAME: &str = "acme";' in (crate / "src" / "lib.rs").read_text()

    # The target directories the built-in codecs were built in (guests/, natively, by
    # tests/run.sh; wasm32 by host/build.rs): the same dependencies and profiles, so only the
    # new crate itself compiles.
    env = {k: v for k, v in os.environ.items() if k not in ("RUSTFLAGS", "CARGO_ENCODED_RUSTFLAGS")}
    cargo = env.get("CARGO", "cargo")
    env["CARGO_TARGET_DIR"] = str(REPO_ROOT / "guests" / "target")
    run([cargo, "test", "--quiet", "--manifest-path", str(crate / "Cargo.toml")], REPO_ROOT, 900, env)
    env["CARGO_TARGET_DIR"] = str(REPO_ROOT / "target" / "wasm-guests")
    run(
        [cargo, "build", "--quiet", "--release", "--target", "wasm32-wasip2",
         "--manifest-path", str(crate / "Cargo.toml")],
        REPO_ROOT, 900, env,
    )
    codecs = tmp_path / "codecs"
    codecs.mkdir()
    wasm = pathlib.Path(env["CARGO_TARGET_DIR"]) / "wasm32-wasip2" / "release" / "acme_codec.wasm"
    shutil.copy(wasm, codecs / "acme.wasm")

    listing = json.loads(
        run([host_bin(), "codecs", "--codecs", str(codecs), "--json"], tmp_path, 120)
    )
    acme = [row for row in listing["data"] if row["name"] == "acme"]
    assert len(acme) == 1, listing
    row = acme[0]
    assert row["interface_version"] == "0.2.0", row
    assert row["serves"] == ["example.echo-embed-"], row
    assert row["last_error"] is None, row
    assert row["builtin"] is False, row
