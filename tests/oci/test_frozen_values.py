"""The start-up path's value types (``engine/values.py``) behave as the frozen dataclasses they replace."""

from __future__ import annotations

import copy
import pickle

import pytest

from layerlab.engine.api.image_rows import ImageRow
from layerlab.engine.oci.digest import Digest
from layerlab.engine.reference import Reference
from layerlab.engine.store.listing import ImageRecord
from layerlab.engine.values import FrozenValueError

A = Digest("sha256", "a" * 64)
B = Digest("sha256", "b" * 64)


def record(**changes) -> ImageRecord:
    fields = dict(id=A, tags=("docker.io/library/busybox:latest",), repo_digests=(), created="2024-01-01T00:00:00Z",
                  size=10, parent=None, labels={}, os="linux", architecture="amd64", layer_count=1, added_at=1.0)
    return ImageRecord(**{**fields, **changes})


def test_equal_and_hashed_by_their_fields_only_within_their_own_type():
    assert Digest.parse(str(A)) == A and hash(Digest.parse(str(A))) == hash(A)
    assert A != B and A != str(A) and A != ("sha256", "a" * 64)
    assert {Reference.parse("busybox"): 1}[Reference("docker.io", "library/busybox", "latest")] == 1
    assert Reference.parse("busybox") != Reference.parse("busybox:1")
    assert record() == record() and record() != record(children=2)


def test_digests_sort_by_algorithm_then_hex():
    assert sorted([B, A]) == [A, B] and A < B <= B and B > A >= A
    with pytest.raises(TypeError):
        _ = A < "sha256:" + "b" * 64


def test_fields_cannot_be_changed_or_removed():
    for value, name in ((A, "hex"), (Reference.parse("busybox"), "tag"), (record(), "size")):
        with pytest.raises(FrozenValueError):
            setattr(value, name, None)
        with pytest.raises(AttributeError):
            delattr(value, name)
    with pytest.raises(AttributeError):
        A.extra = 1  # slots: no new attributes either


def test_copied_and_pickled_by_value():
    for value in (A, Reference.parse("localhost:5000/app@" + str(B)), record(parent=B, labels={"k": "v"})):
        assert copy.copy(value) == value and copy.deepcopy(value) == value
        assert pickle.loads(pickle.dumps(value)) == value


def test_shown_by_their_fields():
    assert repr(A) == f"Digest('{A}')"
    assert repr(Reference.parse("busybox")) == ("Reference(domain='docker.io', path='library/busybox', tag='latest', "
                                                "digest=None)")
    row = ImageRow("busybox:latest", A, "busybox", "latest", None, None, 10, False, record())
    assert repr(row).startswith("ImageRow(ref='busybox:latest', image_id=Digest(") and row.short_id == "a" * 12


def test_the_derived_properties_still_read_the_fields():
    assert record().familiar_tags == ["busybox:latest"] and record().created_at.year == 2024
    assert record(tags=(), children=1).intermediate and not record(tags=()).intermediate
