"""What every command gets: the resolved root and a lazily opened store."""

from __future__ import annotations

import sys

# typing costs a few milliseconds of a start-up budget of about fifty; type checkers honour this form.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path
    from typing import TextIO

    from layerlab.engine.store import Store


class CommandContext:
    """A plain class rather than a dataclass: every command's start-up pays for this module."""

    def __init__(self, root: Path, open_app: Callable[..., int] | None = None,
                 stdout: TextIO | None = None, stderr: TextIO | None = None) -> None:
        self.root = root
        # Opens the terminal app (keyword arguments: store, root, context, watch, theme); None where
        # the command line runs without it, e.g. from tests.
        self.open_app = open_app
        self.stdout = stdout or sys.stdout
        self.stderr = stderr or sys.stderr
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        """The store at ``root``, opened on first use (commands that need none never open it)."""
        if self._store is None:
            from layerlab.engine.store import Store

            self._store = Store.open(self.root)
            for notice in self._store.notices:
                print(f"layerlab: {notice}", file=self.stderr)
        return self._store

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None
