"""The files behind a COPY's source digest, as a mapping whose entries are made only when asked for.

A COPY of a 20,000-file context names 20,000 files, yet a cache hit needs none of their entries:
the key already holds the digest of their checksums, and whether any was "touched only" shows in a
digest of their mtimes, which the walk's stats give directly (``mtimes_digest``). A miss, a reason
that names files, or the copy itself make the entries they read, one at a time.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Callable, Iterator, Mapping

from layerlab.engine.builder.tarsum import EntryStat

if TYPE_CHECKING:  # context.py makes these mappings, so it cannot be imported from here at run time
    from layerlab.engine.builder.context import FileEntry


def digest_of_file_mtimes(lines: list[str]) -> str:
    """sha256 of every file's ``f"{path}\\0{mtime_ns}"`` in path order: equal digests, no file touched."""
    return hashlib.sha256("\0".join(lines).encode("utf-8", "surrogateescape")).hexdigest()


class SourceFiles(Mapping[str, "FileEntry"]):
    """Path -> ``FileEntry`` over a walked context's stats, in path order; ``entry`` makes one."""

    __slots__ = ("_paths", "_members", "_stats", "_entry", "_mtimes")

    def __init__(self, paths: tuple[str, ...], stats: Mapping[str, EntryStat], entry: Callable[[str], FileEntry]):
        self._paths, self._stats, self._entry = paths, stats, entry
        self._members: frozenset[str] | None = None
        self._mtimes: tuple[str, int] | None = None

    @property
    def mtimes_digest(self) -> str:
        return self._digest_and_count()[0]

    def file_count(self) -> int:
        return self._digest_and_count()[1]

    def _digest_and_count(self) -> tuple[str, int]:
        """(the files' mtimes digest, how many files fed it): one pass, which a probe makes first."""
        if self._mtimes is None:
            stats = self._stats
            lines = [f"{path}\0{st.mtime_ns}" for path in self._paths if (st := stats[path]).kind == "file"]
            self._mtimes = digest_of_file_mtimes(lines), len(lines)
        return self._mtimes

    def kinds_and_mtimes(self) -> dict[str, tuple[str, int]]:
        stats = self._stats
        return {path: (stats[path].kind, stats[path].mtime_ns) for path in self._paths}

    def __getitem__(self, path: str) -> FileEntry:
        if path not in self:
            raise KeyError(path)
        return self._entry(path)

    def __contains__(self, path: object) -> bool:
        if self._members is None:
            self._members = frozenset(self._paths)
        return path in self._members

    def __iter__(self) -> Iterator[str]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)

    def __repr__(self) -> str:
        return f"SourceFiles({len(self._paths)} paths)"


__all__ = ["SourceFiles", "digest_of_file_mtimes"]
