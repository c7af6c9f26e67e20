from __future__ import annotations

import io

import pytest

from layerlab.engine.errors import DigestMismatch, NotFound
from layerlab.engine.oci.digest import Digest
from layerlab.engine.store import Store


def test_ingest_verifies_and_stores(store):
    data = b"hello blob" * 1000
    digest = store.blobs.ingest(io.BytesIO(data), Digest.of_bytes(data), len(data))
    assert digest == Digest.of_bytes(data)
    assert store.blobs.has(digest) and store.blobs.size(digest) == len(data)
    assert store.blobs.read(digest) == data
    assert store.blobs.path(digest) == store.root / "blobs" / "sha256" / digest.hex
    assert store.blobs.verify(digest) == digest


def test_mismatch_names_the_digest_and_leaves_nothing(store):
    wrong = Digest.of_bytes(b"something else")
    with pytest.raises(DigestMismatch) as info:
        store.blobs.ingest(io.BytesIO(b"actual"), wrong, what="layer 3")
    assert str(wrong) in str(info.value) and "layer 3" in str(info.value)
    assert not store.blobs.has(wrong) and not store.blobs.has(Digest.of_bytes(b"actual"))
    assert list((store.root / "tmp").iterdir()) == []


def test_size_mismatch_is_refused(store):
    with pytest.raises(DigestMismatch, match="size"):
        store.blobs.ingest(io.BytesIO(b"abc"), size=4)
    assert list(store.blobs.digests()) == []


def test_missing_blob_is_not_found(store):
    missing = Digest.of_bytes(b"nope")
    with pytest.raises(NotFound, match=str(missing)):
        store.blobs.open(missing)
    with pytest.raises(NotFound):
        store.blobs.size(missing)


def test_resumable_ingest_survives_reopen(root):
    data = bytes(range(256)) * 400
    expected = Digest.of_bytes(data)
    with Store.open(root) as first:
        writer = first.blobs.writer("pull:layer-1", expected, len(data))
        writer.write(data[:10000])
    with Store.open(root) as second:
        [pending] = second.blobs.ingests()
        assert pending.ref == "pull:layer-1"
        writer = second.blobs.writer("pull:layer-1", expected, len(data))
        assert writer.offset == 10000
        writer.copy_from(io.BytesIO(data[writer.offset:]))
        assert writer.commit() == expected
        assert second.blobs.read(expected) == data
        assert second.blobs.ingests() == []


def test_resumed_ingest_with_wrong_bytes_is_refused(store):
    writer = store.blobs.writer("x", Digest.of_bytes(b"good"), 4)
    writer.write(b"bad!")
    with pytest.raises(DigestMismatch):
        writer.commit()
    assert list(store.blobs.digests()) == [] and store.blobs.ingests() == []


def test_a_blob_damaged_after_this_process_checked_it_is_caught_on_the_next_read(store):
    """Checked blobs are not rehashed while unchanged; a write (which moves ctime) makes the next read check again."""
    data = b"layer bytes " * 1000
    digest = store.blobs.ingest_bytes(data)
    with store.blobs.open_verified(digest) as stream:
        assert stream.read() == data
    path = store.blobs.path(digest)
    path.chmod(0o644)
    path.write_bytes(data.replace(b"layer", b"LAYER", 1))
    with pytest.raises(DigestMismatch, match=str(digest)):
        with store.blobs.open_verified(digest) as stream:
            stream.read()


def test_adopt_moves_a_hashed_file_in_once(store):
    data = b"layer bytes" * 500
    digest = Digest.of_bytes(data)
    first, second = store.root / "tmp" / "first.tar", store.root / "tmp" / "second.tar"
    first.write_bytes(data)
    second.write_bytes(data)
    with store.blobs.batched_dir_syncs():
        assert store.blobs.adopt(first, digest)
    assert not first.exists() and store.blobs.read(digest) == data
    # present already: the stored copy stays, the new file is left to its owner
    assert not store.blobs.adopt(second, digest) and second.read_bytes() == data
    assert oct(store.blobs.path(digest).stat().st_mode & 0o777) == "0o444"


def test_put_together_stores_each_and_checks_each(store):
    config, manifest, layer = b'{"config": 1}', b'{"manifest": 2}', b"layer tar" * 100
    present = store.blobs.ingest_bytes(b"already here")
    layer_file = store.root / "tmp" / "layer.tar"
    layer_file.write_bytes(layer)
    digests = store.blobs.put_together([
        (layer_file, Digest.of_bytes(layer), "layer"), (config, Digest.of_bytes(config), "config"),
        (manifest, None, "manifest"), (b"already here", present, "present")])
    assert digests == [Digest.of_bytes(layer), Digest.of_bytes(config), Digest.of_bytes(manifest), present]
    assert store.blobs.read(digests[0]) == layer and not layer_file.exists()  # moved in, not copied
    assert store.blobs.read(digests[2]) == manifest
    wrong = Digest.of_bytes(b"other")
    with pytest.raises(DigestMismatch, match="config of x"):
        store.blobs.put_together([(b"data", wrong, "config of x")])
    assert not store.blobs.has(wrong) and list((store.root / "tmp").iterdir()) == []
