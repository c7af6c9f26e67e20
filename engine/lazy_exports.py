"""A package's public names, each imported from its own module on first use (PEP 562).

A package that re-exports its modules' names would import them all when any
one is needed; every command's start-up needs ``Digest`` or ``Store``, and
none should pay for the rest. ``lazy_exports`` gives such a package the
module-level ``__getattr__`` and ``__dir__`` that look a name up in its home
module when first asked for, and keep it.
"""

from __future__ import annotations

import sys

TYPE_CHECKING = False  # typing itself is not loaded on start-up; the annotations are strings
if TYPE_CHECKING:
    from collections.abc import Callable


def lazy_exports(package: str, homes: dict[str, str]) -> tuple[Callable[[str], object], Callable[[], list[str]]]:
    """``__getattr__, __dir__ = lazy_exports(__name__, {"Name": "module", ...})``."""
    namespace = sys.modules[package].__dict__

    def __getattr__(name: str) -> object:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        from importlib import import_module

        value = getattr(import_module(f"{package}.{home}"), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(set(namespace) | set(homes))

    return __getattr__, __dir__
