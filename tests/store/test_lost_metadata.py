"""A meta.db that is empty or missing while blobs and snapshots exist is damage, not an empty store."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerlab.engine.store import Store
from tests.store.images import make_image


def _lose_metadata(root: Path, how: str) -> int:
    """Put an image in (with its snapshot), then empty or remove meta.db; returns how many blobs exist."""
    with Store.open(root) as store:
        image = store.put_image(make_image({"a": b"1"}, {"b": b"2"}), tags=["kept:1"])
        store.merged_tree(image)
    for suffix in ("-wal", "-shm"):
        (root / f"meta.db{suffix}").unlink(missing_ok=True)
    if how == "empty":
        (root / "meta.db").write_bytes(b"")
    else:
        (root / "meta.db").unlink()
    return len(list((root / "blobs" / "sha256").iterdir()))


@pytest.mark.parametrize("how", ["empty", "missing"])
def test_fsck_names_lost_metadata_and_prune_refuses(cli, root: Path, how: str) -> None:
    blobs = _lose_metadata(root, how)
    snapshots = sorted(p.name for p in (root / "snapshots").iterdir())
    assert blobs and snapshots

    checked = cli("fsck")
    assert checked.code == 1
    assert "meta.db" in checked.out and "image records are lost" in checked.out
    assert "no problems found" not in checked.out

    for command in (("system", "prune", "-f", "-a"), ("image", "prune", "-f", "-a"), ("system", "prune", "-f")):
        result = cli(*command)
        assert result.code != 0, command
        assert "refusing to delete" in result.err and "meta.db" in result.err, result.err
        assert "Traceback" not in result.err and len(result.err.strip().splitlines()) == 1
    assert len(list((root / "blobs" / "sha256").iterdir())) == blobs
    assert sorted(p.name for p in (root / "snapshots").iterdir()) == snapshots


def test_fresh_and_emptied_stores_still_prune(cli, root: Path) -> None:
    """The guard is about lost records only: a new root, and one whose images were all removed, prune freely."""
    assert cli("system", "prune", "-f").code == 0
    with Store.open(root) as store:
        store.put_image(make_image({"a": b"1"}), tags=["gone:1"])
        store.remove("gone:1")
    assert cli("system", "prune", "-f", "-a").code == 0
    assert cli("fsck").code == 0
