"""What every command gets: the resolved root and a lazily opened store."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO


@dataclass
class CommandContext:
    root: Path
    # Opens the terminal app (keyword arguments: store, root, context, watch, theme); None where
    # the command line runs without it, e.g. from tests.
    open_app: Callable[..., int] | None = None
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)
    _store: Any = None

    @property
    def store(self):
        """The store at ``root``, opened on first use (commands that need none never open it)."""
        if self._store is None:
            from layerlab.engine.store import Store

            self._store = Store.open(self.root)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
