"""``@record``: the part of ``@dataclass`` this code base uses, at a tenth of its import cost.

Why not ``dataclasses``: every ``@dataclass`` builds its methods as source text and compiles each
one with ``exec`` when its module is imported (six for a frozen class), and importing the module
loads ``inspect`` and its dependencies. A build command defines about a hundred record classes
before its first step, which cost about 45 ms, a third of a no-op rebuild. ``record`` compiles one
function per class (``__init__``, so creating an instance costs what a dataclass's does) and shares
the rest: ``__eq__``, ``__hash__`` and ``__repr__`` read the fields through one ``attrgetter``.

What it keeps from ``dataclasses`` (and nothing else):

- fields are the class's annotations in order, a base record's first; ``ClassVar`` ones are not fields;
- a default is the class attribute, or ``field(default=…, default_factory=…, repr=…, compare=…)``;
- ``__init__`` takes the fields in order and calls ``__post_init__`` when the class has one;
  methods the class defines itself are never replaced;
- equality compares the ``compare`` fields of two instances of the same class; ``frozen=True``
  records hash by them and refuse assignment (``FrozenRecordError``, an ``AttributeError``), other
  records are unhashable, as a dataclass with ``eq=True`` is;
- ``slots=True`` makes a new class with ``__slots__`` (so, as with dataclasses, a method there
  cannot use the zero-argument ``super()``);
- ``fields(cls_or_record)`` and ``replace(record, **changes)``.

Annotations are read as text (every module uses ``from __future__ import annotations``), never
evaluated.
"""

from __future__ import annotations

from operator import attrgetter
from typing import Any, Callable, TypeVar, dataclass_transform

T = TypeVar("T")
_MISSING: Any = object()
_FIELDS = "__record_fields__"


class FrozenRecordError(AttributeError):
    """Assigning to, or deleting, a field of a frozen record."""


class Field:
    """One field of a record: its name and how it is made, shown and compared."""

    __slots__ = ("name", "default", "default_factory", "repr", "compare")

    def __init__(self, default: Any = _MISSING, default_factory: Any = _MISSING, repr: bool = True,
                 compare: bool = True) -> None:
        if default is not _MISSING and default_factory is not _MISSING:
            raise ValueError("a field cannot have both a default and a default_factory")
        self.name = ""
        self.default, self.default_factory, self.repr, self.compare = default, default_factory, repr, compare

    def __repr__(self) -> str:
        return f"Field(name={self.name!r})"


def field(*, default: Any = _MISSING, default_factory: Callable[[], Any] | Any = _MISSING, repr: bool = True,
          compare: bool = True) -> Any:
    """How a field is made (``default`` or ``default_factory``), shown (``repr``) and compared (``compare``)."""
    return Field(default, default_factory, repr, compare)


@dataclass_transform(field_specifiers=(field,))
def record(cls: type[T] | None = None, /, *, frozen: bool = False, slots: bool = False) -> Any:
    """Make ``cls`` a record (see the module's docstring): ``@record`` or ``@record(frozen=True, slots=True)``."""

    def wrap(cls: type[T]) -> type[T]:
        return _make_record(cls, frozen, slots)

    return wrap if cls is None else wrap(cls)


def fields(target: object) -> tuple[Field, ...]:
    """The fields of a record class or instance, in ``__init__``'s order."""
    try:
        return tuple(getattr(target, _FIELDS).values())
    except AttributeError:
        raise TypeError(f"{target!r} is not a record") from None


def replace(value: T, /, **changes: Any) -> T:
    """A new record like ``value`` with ``changes`` (made through ``__init__``, so ``__post_init__`` runs)."""
    names = getattr(value, _FIELDS, None)
    if names is None:
        raise TypeError(f"replace() needs a record, not {type(value).__name__}")
    unknown = set(changes) - set(names)
    if unknown:
        raise TypeError(f"{type(value).__name__} has no field {sorted(unknown)[0]!r}")
    arguments = {name: changes[name] if name in changes else getattr(value, name) for name in names}
    return type(value)(**arguments)


def _make_record(cls: type[T], frozen: bool, slots: bool) -> type[T]:
    own = cls.__dict__
    found: dict[str, Field] = {}
    for base in reversed(cls.__mro__[1:]):  # a base record's fields first, each from the class that made it
        found.update(base.__dict__.get(_FIELDS, {}))
    for name, annotation in own.get("__annotations__", {}).items():
        if _is_class_var(annotation):
            continue
        declared = own.get(name, _MISSING)
        spec = declared if isinstance(declared, Field) else Field(default=declared)
        spec.name = name
        found[name] = spec
        if isinstance(declared, Field):  # the class attribute is the default, as with dataclasses
            if spec.default is _MISSING:
                delattr(cls, name)
            else:
                setattr(cls, name, spec.default)
    setattr(cls, _FIELDS, found)
    names = tuple(found)
    compared = tuple(name for name, spec in found.items() if spec.compare)
    shown = tuple(name for name, spec in found.items() if spec.repr)

    _set_new(cls, "__init__", _lazy_init(cls, found, frozen))
    _set_new(cls, "__repr__", _repr_function(shown))
    _set_new(cls, "__eq__", _eq_function(_key_of(compared)))
    _set_hash(cls, frozen, _key_of(compared))
    _set_new(cls, "__match_args__", names)
    made = _with_slots(cls, names, frozen) if slots else cls
    if frozen:  # after the slots: the refusers name the class instances really have
        _set_new(made, "__setattr__", _refuse_function(made, set(names), "assign to"))
        _set_new(made, "__delattr__", _refuse_function(made, set(names), "delete"))
    return made


def _is_class_var(annotation: object) -> bool:
    text = annotation if isinstance(annotation, str) else getattr(annotation, "__name__", "")
    return text.startswith(("ClassVar", "typing.ClassVar"))


def _set_new(cls: type, name: str, value: object) -> None:
    if name not in cls.__dict__:  # what the class defines itself wins, as with dataclasses
        setattr(cls, name, value)


def _key_of(names: tuple[str, ...]) -> Callable[[object], tuple]:
    if not names:
        return lambda value: ()
    getter = attrgetter(*names)
    return getter if len(names) > 1 else lambda value: (getter(value),)


def _lazy_init(cls: type, found: dict[str, Field], frozen: bool) -> Callable[..., None]:
    """``__init__`` compiled on the class's first instance: a command defines a hundred record classes
    and makes instances of fewer than half (each compile is about 80 us of its start-up)."""
    def __init__(self: object, *args: Any, **kwargs: Any) -> None:
        init = _init_function(cls, found, frozen)
        for owner in type(self).__mro__:   # the class that holds this stub (a slots copy of ``cls``)
            if owner.__dict__.get("__init__") is __init__:
                owner.__init__ = init  # type: ignore[misc]
                break
        init(self, *args, **kwargs)

    __init__.__qualname__ = f"{cls.__qualname__}.__init__"
    return __init__


def _init_function(cls: type, found: dict[str, Field], frozen: bool) -> Callable[..., None]:
    # One compiled function per class: a generic loop would make every instance slower to create.
    scope: dict[str, Any] = {"_set": object.__setattr__, "_factory": _MISSING}
    parameters, body = ["self"], []
    for name, spec in found.items():
        if spec.default_factory is not _MISSING:
            scope[f"_make_{name}"] = spec.default_factory
            parameters.append(f"{name}=_factory")
            value = f"_make_{name}() if {name} is _factory else {name}"
        else:
            if spec.default is not _MISSING:
                scope[f"_default_{name}"] = spec.default
                parameters.append(f"{name}=_default_{name}")
            else:
                parameters.append(name)
            value = name
        body.append(f"_set(self, {name!r}, {value})" if frozen else f"self.{name} = {value}")
    if hasattr(cls, "__post_init__"):
        body.append("self.__post_init__()")
    source = f"def __init__({', '.join(parameters)}):\n    " + "\n    ".join(body or ["pass"])
    namespace: dict[str, Any] = {}
    exec(source, scope, namespace)  # noqa: S102 - the text is made above from the class's field names
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    return init


def _repr_function(shown: tuple[str, ...]) -> Callable[[object], str]:
    def __repr__(self: object) -> str:
        values = ", ".join(f"{name}={getattr(self, name)!r}" for name in shown)
        return f"{type(self).__qualname__}({values})"

    return __repr__


def _eq_function(key: Callable[[object], tuple]) -> Callable[[object, object], bool]:
    def __eq__(self: object, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return key(self) == key(other)

    return __eq__


def _set_hash(cls: type, frozen: bool, key: Callable[[object], tuple]) -> None:
    # The rules of dataclasses with eq=True: a hash the class wrote itself stays; frozen records hash
    # by their compared fields; mutable ones are unhashable (Python sets __hash__ = None itself when a
    # class body defines __eq__, which is not a hash the class wrote).
    own_hash = cls.__dict__.get("__hash__", _MISSING)
    if own_hash is not _MISSING and not (own_hash is None and "__eq__" in cls.__dict__):
        return
    if frozen:
        cls.__hash__ = lambda self: hash(key(self))  # type: ignore[method-assign]
    else:
        cls.__hash__ = None  # type: ignore[assignment]


def _refuse_function(cls: type, names: set[str], verb: str) -> Callable[..., None]:
    def refuse(self: object, name: str, *value: object) -> None:
        if type(self) is cls or name in names:
            raise FrozenRecordError(f"cannot {verb} field {name!r} of {type(self).__name__}")
        if value:
            super(cls, self).__setattr__(name, *value)
        else:
            super(cls, self).__delattr__(name)

    return refuse


def _with_slots(cls: type[T], names: tuple[str, ...], frozen: bool) -> type[T]:
    body = dict(cls.__dict__)
    inherited = {slot for base in cls.__mro__[1:] for slot in base.__dict__.get("__slots__", ())}
    for name in names:
        body.pop(name, None)  # a default lives in __init__ now; a class attribute would clash with the slot
    body.pop("__dict__", None)
    body.pop("__weakref__", None)
    body["__slots__"] = tuple(name for name in names if name not in inherited)
    if frozen:  # pickle and copy restore slots with setattr, which a frozen record refuses
        body.setdefault("__getstate__", lambda self: [getattr(self, name) for name in names])
        body.setdefault("__setstate__", lambda self, state: [object.__setattr__(self, name, value)
                                                            for name, value in zip(names, state)])
    made = type(cls)(cls.__name__, cls.__bases__, body)
    made.__qualname__ = cls.__qualname__
    return made
