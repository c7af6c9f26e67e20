"""``@record`` (``engine/record_type.py``) behaves as the ``@dataclass`` it replaces, for every feature
the code base uses: each check runs on a record and on the same class made a dataclass."""

from __future__ import annotations

import copy
import dataclasses
import pickle
import subprocess
import sys
from typing import ClassVar

import pytest

from layerlab.engine import record_type
from layerlab.engine.record_type import FrozenRecordError, field, record


def _pair(frozen: bool = False, slots: bool = False) -> tuple[type, type]:
    """The same class body as a record and as a dataclass."""

    def body() -> type:
        class Step:
            kind: ClassVar[str] = "step"
            line: int
            words: list[str] = field(default_factory=list)
            note: str = "none"
            cached: bool = field(default=False, compare=False)
            secret: str = field(default="", repr=False)

            def describe(self) -> str:
                return f"{self.kind} {self.line}"

        return Step

    made = record(frozen=frozen, slots=slots)(body())

    def dataclass_body() -> type:
        class Step:
            kind: ClassVar[str] = "step"
            line: int
            words: list[str] = dataclasses.field(default_factory=list)
            note: str = "none"
            cached: bool = dataclasses.field(default=False, compare=False)
            secret: str = dataclasses.field(default="", repr=False)

            def describe(self) -> str:
                return f"{self.kind} {self.line}"

        return Step

    return made, dataclasses.dataclass(frozen=frozen, slots=slots)(dataclass_body())


FLAVOURS = [dict(), dict(frozen=True), dict(slots=True), dict(frozen=True, slots=True)]


@pytest.mark.parametrize("flavour", FLAVOURS, ids=lambda f: "-".join(f) or "plain")
def test_a_record_is_made_shown_and_compared_as_a_dataclass(flavour):
    for cls in _pair(**flavour):
        one, same = cls(3, ["a"], cached=True), cls(3, ["a"])
        assert one == same and one != cls(4, ["a"]) and one.__eq__(object()) is NotImplemented
        assert repr(one).endswith("Step(line=3, words=['a'], note='none', cached=True)")
        assert one.describe() == "step 3" and cls.kind == "step" and one.note == "none"
        assert cls(1).words == [] and cls(1).words is not cls(1).words  # a new list each time
        assert [f.name for f in (record_type.fields if hasattr(cls, "__record_fields__") else dataclasses.fields)(cls)] \
            == ["line", "words", "note", "cached", "secret"]
        assert cls.__match_args__ == ("line", "words", "note", "cached", "secret")
        assert hasattr(one, "__dict__") is not flavour.get("slots", False)
        with pytest.raises(TypeError):
            cls()  # line has no default


@pytest.mark.parametrize("slots", [False, True])
def test_frozen_records_hash_by_their_fields_and_refuse_changes(slots):
    for cls in _pair(frozen=True, slots=slots):
        one = cls(3, ("a",))
        assert hash(one) == hash(cls(3, ("a",), cached=True)) and {one: 1}[cls(3, ("a",))] == 1
        for change in (lambda: setattr(one, "line", 4), lambda: delattr(one, "note")):
            with pytest.raises(AttributeError):
                change()
    made = _pair(frozen=True, slots=slots)[0](1)
    with pytest.raises(FrozenRecordError):
        made.line = 2
    with pytest.raises(AttributeError):  # (a frozen dataclass with slots raises TypeError here)
        made.other = 1


def test_mutable_records_are_unhashable_and_can_change():
    for cls in _pair():
        one = cls(3)
        one.line = 5
        assert one.line == 5
        with pytest.raises(TypeError):
            hash(one)


@pytest.mark.parametrize("flavour", FLAVOURS, ids=lambda f: "-".join(f) or "plain")
def test_records_copy_and_pickle_by_value(flavour):
    made = _pair(**flavour)[0]
    globals()["PickledStep"] = made  # pickle finds a class by its module-level name
    made.__qualname__ = "PickledStep"
    try:
        one = made(3, ["a"], note="kept", secret="s")
        for back in (copy.copy(one), copy.deepcopy(one), pickle.loads(pickle.dumps(one))):
            assert back == one and back.secret == "s" and back is not one
    finally:
        del globals()["PickledStep"]


def test_replace_makes_a_new_record_through_init():
    seen = []

    @record(frozen=True)
    class Checked:
        name: str
        size: int = 0

        def __post_init__(self) -> None:
            seen.append(self.name)

    one = Checked("a", 2)
    other = record_type.replace(one, name="b")
    assert other == Checked("b", 2) and one.name == "a" and seen == ["a", "b", "b"]
    with pytest.raises(TypeError, match="no field 'colour'"):
        record_type.replace(one, colour=1)


def test_a_record_subclass_adds_fields_after_its_bases_and_keeps_its_own_methods():
    @record
    class Base:
        line: int
        original: str = ""

    @record
    class Child(Base):
        path: str = "/"

        def __repr__(self) -> str:
            return f"Child at {self.line}"

    child = Child(4, "WORKDIR /x", "/x")
    assert (child.line, child.original, child.path) == (4, "WORKDIR /x", "/x")
    assert repr(child) == "Child at 4" and child != Base(4, "WORKDIR /x")
    assert [f.name for f in record_type.fields(Child)] == ["line", "original", "path"]


def test_importing_the_record_decorator_loads_no_dataclasses():
    # the point of the module: a build's ~100 record classes without dataclasses' import and exec cost
    code = "import sys, layerlab.engine.record_type; print('dataclasses' in sys.modules, 'inspect' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_init_is_compiled_on_the_first_instance_then_reused():
    made: list[str] = []

    @record(frozen=True, slots=True)
    class Point:
        x: int
        y: int = 2
        tags: list = field(default_factory=list)

        def __post_init__(self) -> None:
            made.append(f"{self.x},{self.y}")

    first_init = Point.__dict__["__init__"]
    assert Point(1) == Point(1, 2, []) and made == ["1,2", "1,2"]
    compiled = Point.__dict__["__init__"]
    assert compiled is not first_init                  # the stub gave way to the compiled function
    assert Point(x=3, y=4).y == 4 and Point.__dict__["__init__"] is compiled
    with pytest.raises(TypeError):
        Point()                                        # a missing field is still an error
    with pytest.raises(FrozenRecordError):
        Point(1).x = 5
