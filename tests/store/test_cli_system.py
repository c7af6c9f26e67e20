"""``layerlab fsck``, ``system prune`` and ``system df`` as a user runs them."""

from __future__ import annotations

from layerlab.engine.store import Store
from tests.store.images import make_image


def seed(root):
    with Store.open(root) as store:
        kept = store.put_image(make_image({"kept": b"k" * 2000}), tags=["kept:1"])
        dangling = store.put_image(make_image({"old": b"o" * 3000}))
        store.blobs.ingest_bytes(b"orphan blob")
    return kept, dangling


def test_fsck_clean_and_damaged(root, cli):
    kept, _ = seed(root)
    result = cli("fsck")
    assert result.code == 0 and "no problems found (1 note" in result.out
    assert cli("fsck", "-q").out == "no problems found (1 note; `system prune` clears them)\n"
    blob = root / "blobs" / "sha256" / kept.layers()[0].digest.hex
    blob.chmod(0o644)
    blob.write_bytes(b"garbage")
    result = cli("fsck")
    assert result.code == 1
    assert f"error: {kept.layers()[0].digest}: blob content hashes to" in result.out
    assert "problem" in result.err and "Traceback" not in result.err


def test_system_prune_removes_dangling_and_leftovers(root, cli):
    kept, dangling = seed(root)
    result = cli("system", "prune", stdin=b"n\n")
    assert result.code == 0 and "Are you sure" in result.out and "Deleted" not in result.out
    result = cli("system", "prune", "-f")
    assert result.code == 0
    assert f"deleted: {dangling.id}" in result.out and "Total reclaimed space:" in result.out
    with Store.open(root) as store:
        assert [r.id for r in store.images()] == [kept.id] and store.fsck() == []
    result = cli("system", "prune", "-a", "-f")
    assert "untagged: kept:1" in result.out
    with Store.open(root) as store:
        assert store.images() == [] and list(store.blobs.digests()) == []


def test_system_df(root, cli):
    seed(root)
    result = cli("system", "df")
    lines = result.out.splitlines()
    assert lines[0].split() == ["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"]
    assert lines[1].split()[:4] == ["Images", "2", "0", "5kB"]
    assert lines[1].split()[4:] == ["3kB", "(60%)"]
    assert lines[3].split()[:2] == ["Blobs", "7"] and lines[3].split()[4] == "11B"  # the orphan blob
    rows = [line.split() for line in cli("system", "df", "-v").out.splitlines()]
    assert ["SHARED", "SIZE"] == rows[2][6:8]
    kept_row = next(row for row in rows if row[:2] == ["kept", "1"])
    assert kept_row[-4:] == ["2kB", "0B", "2kB", "0"]
    assert any(row[:2] == ["<none>", "<none>"] and row[-4] == "3kB" for row in rows)
