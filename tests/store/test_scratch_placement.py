"""A store's tmp/ carries the top-directory flag (``chattr +T``): ext4 then places each build's workspace
where it finds room, not beside files just deleted, whose inodes it walks past on every create."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from layerlab.engine.store import Store


def _attributes(path: Path) -> str:
    """The flag letters ``lsattr -d`` shows; skips where the file system keeps no inode flags."""
    shown = subprocess.run(["lsattr", "-d", str(path)], capture_output=True, text=True)
    if shown.returncode != 0:
        pytest.skip(f"no inode flags on this file system: {shown.stderr.strip()}")
    return shown.stdout.split()[0]


def test_a_new_store_flags_its_scratch_directory(tmp_path):
    with Store.open(tmp_path / "root"):
        pass
    assert "T" in _attributes(tmp_path / "root" / "tmp")


def test_an_existing_store_gets_the_flag_on_open(tmp_path):
    with Store.open(tmp_path / "root"):
        pass
    scratch = tmp_path / "root" / "tmp"
    subprocess.run(["chattr", "-T", str(scratch)], check=True)
    assert "T" not in _attributes(scratch)
    with Store.open(tmp_path / "root"):
        pass
    assert "T" in _attributes(scratch)
