"""A snapshot already unpacked is not trusted blindly: a build over it (FROM, COPY --from, RUN) fails
with one line naming the layer when its blob or its files changed since, and the store keeps no trace."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerlab.engine.store import Store
from layerlab.engine.store.snapshots import LAYER
from tests.build.conftest import write_context
from tests.store.images import make_image

CONTENT = b"the original line\n" * 4


def _make_unpacked(root: Path) -> tuple[str, Path, Path]:
    """``unpacked:1`` with its snapshot made: (layer digest, blob path, the snapshot's copy of etc/hello)."""
    with Store.open(root) as store:
        image = store.put_image(make_image({"etc/hello": CONTENT}, compress=False), tags=["unpacked:1"])
        layer = image.layers()[0]
        store.snapshot_layers(image)
        return (str(layer.digest), store.blobs.path(layer.digest),
                store.layout.snapshot(layer.chain_id) / LAYER / "etc" / "hello")


def _damage_blob(blob: Path, hello: Path) -> None:
    blob.chmod(0o644)
    data = blob.read_bytes()
    blob.write_bytes(data.replace(b"original", b"ORIGINAL", 1))  # same size: only the digest can tell


def _damage_snapshot(blob: Path, hello: Path) -> None:
    hello.chmod(0o644)
    with open(hello, "ab") as stream:
        stream.write(b"added after the unpack\n")


@pytest.mark.parametrize("damage", [_damage_blob, _damage_snapshot], ids=["blob", "snapshot"])
@pytest.mark.parametrize("dockerfile", ["FROM unpacked:1\nCOPY f /etc/f\n",
                                        "FROM scratch\nCOPY --from=unpacked:1 /etc /etc\n"], ids=["from", "copy-from"])
def test_a_build_over_a_damaged_snapshot_or_blob_fails_naming_the_layer(cli_process, root: Path, tmp_path: Path,
                                                                        damage, dockerfile: str) -> None:
    digest, blob, hello = _make_unpacked(root)
    damage(blob, hello)
    context = write_context(tmp_path / "ctx", dockerfile, {"f": "x"})
    result = cli_process("build", "-q", "-t", "over-damage:1", str(context))
    err = result.stderr.decode()
    assert result.returncode != 0, err
    assert digest in err and "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    # nothing was made of it, and the rest of the store still builds
    assert b"over-damage" not in cli_process("images").stdout
    clean = write_context(tmp_path / "clean", "FROM scratch\nCOPY f /f\n", {"f": "y"})
    again = cli_process("build", "-q", "-t", "clean:1", str(clean))
    assert again.returncode == 0, again.stderr


@pytest.mark.peers
@pytest.mark.parametrize("run", ["RUN cat /made > /seen",
                                 "RUN --mount=type=cache,target=/cache cat /made > /cache/seen"],
                         ids=["checked-alongside", "cache-mount-checked-first"])
def test_a_run_over_a_damaged_snapshot_fails_and_keeps_nothing(cli_process, root: Path, tmp_path: Path,
                                                               run: str) -> None:
    # The check may run while the container does (it needs the CPU, the step waits on runc); what the
    # run made is kept only once it passed. A run that writes outside its layer (a cache mount) is
    # checked before it starts, so nothing over damaged files reaches the cache directory either.
    from tests.peers import need_program

    busybox = need_program("busybox")
    assert cli_process("bootstrap", "busybox", "--busybox", busybox).returncode == 0
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN echo made > /made\n")
    assert cli_process("build", "-q", "--network", "none", "-t", "made:1", str(context)).returncode == 0
    with Store.open(root) as store:
        layer = store.image("made:1").layers()[-1]
        made = store.layout.snapshot(layer.chain_id) / LAYER / "made"
        before = set(store.layout.blobs.rglob("*"))
    made.write_text("changed\n")
    over = write_context(tmp_path / "over", f"FROM made:1\n{run}\n")
    result = cli_process("build", "-q", "--network", "none", "-t", "over:1", str(over))
    err = result.stderr.decode()
    assert result.returncode != 0 and str(layer.digest) in err and "Traceback" not in err, err
    assert len(err.strip().splitlines()) == 1, err
    assert b"over" not in cli_process("images").stdout
    with Store.open(root) as store:
        assert set(store.layout.blobs.rglob("*")) == before   # no layer, config or manifest kept
    assert not list(root.glob("build-mounts/*/seen"))           # nothing written into the cache mount


def test_a_snapshot_is_checked_once_per_process_and_made_ones_not_at_all(root: Path) -> None:
    from layerlab.engine.store import snapshots

    with Store.open(root) as store:
        image = store.put_image(make_image({"etc/hello": CONTENT}), tags=["once:1"])
        store.snapshot_layers(image)   # made here: known good
        hello = store.layout.snapshot(image.layers()[0].chain_id) / LAYER / "etc" / "hello"
        hello.chmod(0o644)
        hello.write_bytes(b"changed\n")
        store.snapshot_layers(image)   # not checked again in this process
        snapshots._checked.clear()     # as a new process starts
        with pytest.raises(Exception, match=str(image.layers()[0].digest)):
            store.snapshot_layers(image)


def test_an_unchanged_blob_is_not_read_again_by_the_next_process(root: Path) -> None:
    # A base layer of hundreds of MB must not be hashed by every build over it.
    from layerlab.engine.store import snapshots

    digest, blob, hello = _make_unpacked(root)
    snapshots._checked.clear()  # as in a new process
    with Store.open(root) as store:
        image = store.image("unpacked:1")
        verified: list[str] = []
        real_verify = store.blobs.verify
        store.blobs.verify = lambda d: verified.append(str(d)) or real_verify(d)
        store.snapshot_layers(image)
        assert verified == []
        snapshots._checked.clear()
        _damage_blob(blob, hello)
        with pytest.raises(Exception, match=digest):
            store.snapshot_layers(image)
        assert verified == [digest]


def test_a_path_lookup_checks_the_directories_it_reads_and_no_others(root: Path) -> None:
    # WORKDIR or COPY's destination reads a few directories of the base: they are checked, not all 9,000
    # files; the rest waits for the first reader of the whole tree (a RUN's mount, a merged tree).
    from layerlab.engine.errors import StoreError
    from layerlab.engine.store import snapshots

    digest, blob, hello = _make_unpacked(root)
    _damage_snapshot(blob, hello)
    snapshots.forget_checks()
    with Store.open(root) as store:
        stack = store.lookup_stack(store.image("unpacked:1"))
        assert stack.lstat("/app") is None            # the top directory is unchanged
        with pytest.raises(StoreError, match=digest):
            stack.lstat("/etc/hello")                 # etc/ is where the damage is
        with pytest.raises(StoreError, match=digest):
            stack.listdir("/etc")
        with pytest.raises(StoreError, match=digest):
            store.snapshot_layers(store.image("unpacked:1"))   # a whole-tree reader checks everything


def test_a_snapshot_made_before_directory_digests_is_checked_whole_once_then_by_directory(root: Path) -> None:
    from layerlab.engine.errors import StoreError
    from layerlab.engine.store import snapshots

    digest, blob, hello = _make_unpacked(root)
    recorded = hello.parent.parent.parent / snapshots.DIRECTORIES
    recorded.unlink()
    snapshots.forget_checks()
    with Store.open(root) as store:
        store.lookup_stack(store.image("unpacked:1")).lstat("/app")   # whole tree checked, digests recorded
        assert recorded.is_file()
    _damage_snapshot(blob, hello)
    recorded.unlink()
    snapshots.forget_checks()
    with Store.open(root) as store, pytest.raises(StoreError, match=digest):
        store.lookup_stack(store.image("unpacked:1")).lstat("/app")   # no digests: the damage anywhere counts
    assert not recorded.exists()   # never recorded from a damaged tree
