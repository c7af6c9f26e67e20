"""Finding paths: glob or regular-expression filters, sizes of directories, sorting."""

from __future__ import annotations

import fnmatch
import re
from typing import Callable, Iterable

from layerlab.engine.analysis.model import EntryInfo
from layerlab.engine.errors import UsageError


def path_filter(glob: str | None = None, regex: str | None = None) -> Callable[[str], bool]:
    """A predicate on absolute image paths.

    A glob with a ``/`` matches the whole path (``/etc/*.conf``; a relative
    one matches at any depth); without one it matches the file name
    (``*.so``). A regex is searched anywhere in the path.
    """
    tests: list[Callable[[str], bool]] = []
    if glob:
        if "/" in glob:
            pattern = glob if glob.startswith("/") else "*/" + glob
            tests.append(lambda path: fnmatch.fnmatchcase(path, pattern))
        else:
            tests.append(lambda path: fnmatch.fnmatchcase(path.rsplit("/", 1)[-1], glob))
    if regex:
        try:
            compiled = re.compile(regex)
        except re.error as error:
            raise UsageError(f"--regex {regex!r}: {error}") from None
        tests.append(lambda path: compiled.search(path) is not None)
    return lambda path: all(test(path) for test in tests)


def directory_sizes(items: Iterable[tuple[str, EntryInfo | None]]) -> dict[str, int]:
    """Total file bytes under each directory among ``items`` (path, entry) pairs."""
    totals: dict[str, int] = {}
    for path, entry in items:
        if entry is None or entry.is_dir:
            totals.setdefault(path, 0)
            continue
        size = entry.size
        parent = path.rsplit("/", 1)[0]
        while parent:
            totals[parent] = totals.get(parent, 0) + size
            parent = parent.rsplit("/", 1)[0]
    return totals
