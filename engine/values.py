"""Frozen value classes for what every command's start-up touches, without ``dataclasses``.

``import dataclasses`` loads ``inspect``, ``ast``, ``dis`` and ``tokenize``,
and each ``@dataclass`` compiles its methods when its module is imported:
together about two thirds of a bare ``python -c pass`` on the start-up of
``layerlab images``. The types on that path (``Digest``, ``Reference``, the
store's ``Layout``, ``ImageRecord``, ``ImageRow``, the metadata's rows)
derive from ``Value`` instead and keep a frozen dataclass's behaviour: equal
and hashed by their fields, shown as ``Name(field=value, …)``, immutable,
copied and pickled by value. Everything else is a ``record``
(``engine/record_type.py``), which needs ``typing``; these types load nothing at all.

A subclass names its fields in ``__slots__`` (that order is the order of
``__init__``'s parameters) and assigns them with ``set_fields``::

    class Pair(Value):
        __slots__ = ("left", "right")

        def __init__(self, left: str, right: int = 0) -> None:
            set_fields(self, left, right)
"""

from __future__ import annotations


class FrozenValueError(AttributeError):
    """Assigning to a field of a ``Value`` (as ``dataclasses.FrozenInstanceError`` for a frozen dataclass)."""


def set_fields(value: Value, *fields: object) -> None:
    """Assign ``fields`` to ``value``'s slots in order: the one way a ``Value`` is ever written."""
    for name, field in zip(type(value).__slots__, fields, strict=True):
        object.__setattr__(value, name, field)


class Value:
    __slots__ = ()

    def _fields(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return self._fields() == other._fields()  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash(self._fields())

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__qualname__}({shown})"

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenValueError(f"cannot assign to field {name!r} of {type(self).__name__}")

    def __delattr__(self, name: str) -> None:
        raise FrozenValueError(f"cannot delete field {name!r} of {type(self).__name__}")

    def __reduce__(self) -> tuple[type, tuple[object, ...]]:
        # copy, deepcopy and pickle rebuild through __init__ (the slots cannot be set directly).
        return type(self), self._fields()
