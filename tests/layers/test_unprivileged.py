"""Applying as an ordinary user: device nodes are skipped by default, refused on request."""

from __future__ import annotations

import io
import json
import os
import shutil
import tempfile
from pathlib import Path

import pytest

from layerlab.engine.layers.apply import apply_layer
from tests.layers.helpers import device_, file_, tar_bytes

NOBODY = 65534

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="dropping to another user needs root")


def as_nobody(action) -> dict:
    """Run ``action`` in a forked child that has given up root; returns what it returned (or its error)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child
        code = 0
        try:
            os.close(read_end)
            os.setgroups([])
            os.setresgid(NOBODY, NOBODY, NOBODY)
            os.setresuid(NOBODY, NOBODY, NOBODY)
            result = action()
        except BaseException as error:  # noqa: BLE001 - reported to the parent
            result, code = {"error": type(error).__name__, "message": str(error)}, 1
        os.write(write_end, json.dumps(result).encode())
        os._exit(code)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    os.waitpid(pid, 0)
    return json.loads(data)


@pytest.fixture
def target():
    # pytest's own temporary directories are private to root; this one must be reachable
    base = Path(tempfile.mkdtemp(prefix="layerlab-unprivileged-"))
    os.chmod(base, 0o755)
    path = base / "target"
    path.mkdir()
    os.chown(path, NOBODY, NOBODY)
    yield path
    shutil.rmtree(base)


BLOB = tar_bytes(device_("dev/null", 1, 3), file_("dev/owned", b"x", uid=0, gid=0))


def test_devices_are_skipped_for_an_ordinary_user(target: Path):
    def action():
        stats = apply_layer(io.BytesIO(BLOB), target)
        return {"skipped": stats.skipped_devices, "entries": stats.entries}

    assert as_nobody(action) == {"skipped": 1, "entries": 2}
    assert not (target / "dev/null").exists()
    assert (target / "dev/owned").read_bytes() == b"x"
    assert os.stat(target / "dev/owned").st_uid == NOBODY  # no chown without root


def test_devices_demanded_by_an_ordinary_user_fail_naming_the_entry(target: Path):
    result = as_nobody(lambda: apply_layer(io.BytesIO(BLOB), target, allow_devices=True) and {})
    assert result["error"] == "LayerError" and "dev/null" in result["message"]
    assert not (target / "dev/null").exists()
