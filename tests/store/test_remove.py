"""``rmi`` and ``image prune`` with Docker's rules and messages."""

from __future__ import annotations

import pytest

from layerlab.engine.errors import Conflict, NotFound
from tests.store.images import make_image


def blob_names(store):
    return {str(d) for d in store.blobs.digests()}


def test_removing_one_of_several_tags_only_untags(store):
    image = store.put_image(make_image({"a": b"1"}), tags=["one", "two:2"])
    assert store.remove("one") == [("Untagged", "one:latest")]
    assert store.image("two:2").id == image.id
    assert store.fsck() == []


def test_removing_last_tag_deletes_image_and_its_blobs(store):
    source = make_image({"a": b"1"}, {"b": b"2"})
    image = store.put_image(source, tags=["app"])
    lines = store.remove("app")
    chains = [str(layer.chain_id) for layer in reversed(image.layers())]
    assert lines == [("Untagged", "app:latest"), ("Deleted", str(image.id)), *[("Deleted", c) for c in chains]]
    assert store.images() == [] and blob_names(store) == set()
    with pytest.raises(NotFound):
        store.image(str(image.id))


def test_removing_by_id_with_several_tags_needs_force(store):
    image = store.put_image(make_image({"a": b"1"}), tags=["one", "other/two"])
    with pytest.raises(Conflict) as info:
        store.remove(image.id.short)
    assert str(info.value) == (f"conflict: unable to delete {image.id.short} (must be forced) - "
                               "image is referenced in multiple repositories")
    assert store.image("one").id == image.id
    lines = store.remove(image.id.short, force=True)
    assert ("Untagged", "one:latest") in lines and ("Untagged", "other/two:latest") in lines
    assert ("Deleted", str(image.id)) in lines and store.images() == []


def test_removing_by_id_with_one_tag_and_its_digest(store):
    image = store.put_image(make_image({"a": b"1"}), tags=["one"], repo_digests=[f"one@sha256:{'c' * 64}"])
    lines = store.remove(str(image.id))
    assert lines[:2] == [("Untagged", "one:latest"), ("Untagged", f"one@sha256:{'c' * 64}")]
    assert store.images() == []


def test_last_tag_removal_takes_repo_digests_along(store):
    store.put_image(make_image({"a": b"1"}), tags=["one"], repo_digests=[f"one@sha256:{'c' * 64}"])
    lines = store.remove("one")
    assert lines[:2] == [("Untagged", "one:latest"), ("Untagged", f"one@sha256:{'c' * 64}")]
    assert store.images() == []


def test_image_with_children_is_refused_even_forced(store):
    base = make_image({"a": b"1"})
    parent = store.put_image(base, tags=["base"])
    store.put_image(make_image({"b": b"2"}, base=base), tags=["child"], parent="base")
    for force in (False, True):
        with pytest.raises(Conflict) as info:
            store.remove(parent.id.short, force=force)
        assert str(info.value) == (f"conflict: unable to delete {parent.id.short} (cannot be forced) - "
                                   "image has dependent child images")
    # By tag it is only untagged: the image stays for its child.
    assert store.remove("base") == [("Untagged", "base:latest")]
    assert store.image(parent.id.short).tags == ()
    # Removing the child then deletes the untagged parent too (docker's prune of parents).
    lines = store.remove("child")
    assert ("Deleted", str(parent.id)) in lines
    assert store.images() == [] and blob_names(store) == set() and store.fsck() == []


def test_shared_layers_stay_while_another_image_uses_them(store):
    base = make_image({"shared": b"s" * 100})
    one = store.put_image(make_image({"x": b"1"}, base=base), tags=["one"])
    two = store.put_image(make_image({"y": b"2"}, base=base), tags=["two"])
    shared_blob = one.layers()[0].digest
    lines = store.remove("one")
    assert ("Deleted", str(one.layers()[0].chain_id)) not in lines
    assert ("Deleted", str(one.layers()[1].chain_id)) in lines
    assert store.blobs.has(shared_blob) and not store.blobs.has(one.layers()[1].digest)
    assert store.image("two").id == two.id and store.fsck() == []


def test_prune_removes_dangling_chains_only(store):
    kept = store.put_image(make_image({"k": b"1"}), tags=["kept"])
    base = make_image({"a": b"1"})
    store.put_image(base)  # untagged parent
    store.put_image(make_image({"b": b"2"}, base=base), parent=str(base.id))  # untagged child
    report = store.prune()
    assert len(report.deleted_images) == 2 and report.reclaimed > 0
    assert [r.id for r in store.images()] == [kept.id]
    assert ("deleted", str(base.id)) in report.lines
    assert store.fsck() == []


def test_prune_all_removes_tagged_images_too(store):
    store.put_image(make_image({"k": b"1"}), tags=["kept"])
    report = store.prune(all=True)
    assert ("untagged", "kept:latest") in report.lines
    assert store.images() == [] and blob_names(store) == set()


def test_missing_image(store):
    with pytest.raises(NotFound, match="no such image: ghost"):
        store.remove("ghost")
