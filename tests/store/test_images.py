from __future__ import annotations

import io
import tarfile
from dataclasses import replace

import pytest

from layerlab.engine.errors import ArchiveError, DigestMismatch, InvalidReference, NotFound
from layerlab.engine.image import Image, Layer
from layerlab.engine.oci.chain import chain_ids
from layerlab.engine.oci.digest import Digest
from tests.store.images import MemoryImage, make_image


def test_put_and_get_by_every_name(store):
    source = make_image({"a.txt": b"hello"}, {"b/c.txt": b"world!"}, label="one")
    stored = store.put_image(source, tags=["busybox", "me/app:1"],
                             repo_digests=[f"busybox@sha256:{'b' * 64}"])
    assert isinstance(stored, Image) and all(isinstance(layer, Layer) for layer in stored.layers())
    assert stored.id == source.id == stored.config_digest
    assert stored.config_bytes() == source.config_bytes()
    assert stored.manifest_bytes() == source.manifest_bytes()
    assert stored.tags == ("docker.io/library/busybox:latest", "docker.io/me/app:1")
    assert stored.familiar_tags == ["busybox:latest", "me/app:1"]
    for name in ("busybox", "busybox:latest", "docker.io/library/busybox", "me/app:1", str(stored.id),
                 stored.id.hex, stored.id.short, stored.id.hex[:5], f"busybox@sha256:{'b' * 64}"):
        assert store.image(name).id == stored.id, name
    assert [layer.diff_id for layer in stored.layers()] == source.config.diff_ids
    assert [layer.chain_id for layer in stored.layers()] == chain_ids(source.config.diff_ids)


def test_layers_read_back_compressed_and_not(store):
    for compress in (True, False):
        source = make_image({"f": b"x" * 3000, "which": str(compress).encode()}, compress=compress)
        [layer] = store.put_image(source).layers()
        with layer.open_blob() as blob:
            assert blob.read() == source.memory_layers[0].blob
        with layer.open_uncompressed() as tar_stream:
            tar_bytes = tar_stream.read()
        assert Digest.of_bytes(tar_bytes) == layer.diff_id
        with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
            assert tar.extractfile("f").read() == b"x" * 3000


def test_images_lists_docker_sizes_and_labels(store):
    base = make_image({"a": b"12345"}, {"d/b": b"1234567890"}, label="base")
    child = make_image({"c": b"123"}, base=base, label="child")
    store.put_image(base, tags=["base"])
    store.put_image(child, tags=["child"], parent="base")
    records = {r.familiar_tags[0]: r for r in store.images()}
    assert records["base:latest"].size == 15  # file contents, as docker shows: no tar overhead
    assert records["child:latest"].size == 18
    assert records["base:latest"].children == 1 and records["child:latest"].parent == base.id
    assert records["child:latest"].labels == {"test": "child"} and records["child:latest"].layer_count == 3
    layer = store.image("base").layers()[0]
    assert layer.content_size == 5 and layer.uncompressed_size % 512 == 0 and layer.uncompressed_size > 5


def test_tag_moves_and_old_image_dangles(store):
    first = store.put_image(make_image({"v": b"1"}), tags=["app"])
    second = store.put_image(make_image({"v": b"2"}), tags=["app"])
    assert store.image("app").id == second.id
    assert store.image(first.id.short).tags == ()
    store.tag(first.id.short, "app:old")
    assert store.image("app:old").id == first.id
    assert store.untag("app:old") == first.id
    with pytest.raises(NotFound, match="app:old"):
        store.image("app:old")


def test_put_twice_is_idempotent(store):
    source = make_image({"a": b"1"})
    store.put_image(source, tags=["a"])
    store.put_image(source, tags=["b"])
    [record] = store.images()
    assert record.familiar_tags == ["a:latest", "b:latest"]
    assert store.fsck() == []


def test_wrong_diff_id_is_refused_and_nothing_listed(store):
    good = make_image({"a": b"1"})
    layer = good.memory_layers[0]
    lying = replace(layer, blob=make_image({"a": b"2"}).memory_layers[0].blob)
    bad = MemoryImage(good.config, [lying])
    with pytest.raises(DigestMismatch, match="diff_id"):
        store.put_image(bad, tags=["bad"])
    assert store.images() == []
    assert [p for p in store.fsck() if p.is_error] == []


def test_config_digest_lie_is_refused(store):
    class Lying(MemoryImage):
        @property
        def config_digest(self):
            return Digest.of_bytes(b"other")

    source = make_image({"a": b"1"})
    with pytest.raises(DigestMismatch, match="image config"):
        store.put_image(Lying(source.config, source.memory_layers))
    assert store.images() == []


def test_layer_count_mismatch_is_an_archive_error(store):
    source = make_image({"a": b"1"}, {"b": b"2"})
    with pytest.raises(ArchiveError, match="diff_ids"):
        store.put_image(MemoryImage(source.config, source.memory_layers[:1]))


def test_lookup_errors_name_what_was_asked(store):
    with pytest.raises(NotFound, match="no such image: nothing:here"):
        store.image("nothing:here")
    with pytest.raises(InvalidReference, match="Bad"):
        store.image("Bad Name")
    with pytest.raises(InvalidReference):
        store.tag("x", f"x@sha256:{'a' * 64}")


def test_ambiguous_short_id(store):
    ids = [store.put_image(make_image({"n": str(i).encode()})).id.hex for i in range(40)]
    firsts = [i[0] for i in ids]
    shared = next(c for c in firsts if firsts.count(c) > 1)
    with pytest.raises(NotFound, match="ambiguous"):
        store.image(shared)
