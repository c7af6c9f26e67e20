"""The files behind a COPY's source digest, as a mapping whose entries are made only when asked for.

A COPY of a 20,000-file context names 20,000 files, yet a cache hit needs none of their entries:
the key already holds the digest of their checksums, and whether any was "touched only" shows in a
digest of their mtimes, which the walk's stats give directly (``mtimes_digest``). A miss, a reason
that names files, or the copy itself make the entries they read, one at a time.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, Mapping

from layerlab.engine.builder.tarsum import EntryStat

if TYPE_CHECKING:  # context.py makes these mappings, so it cannot be imported from here at run time
    from layerlab.engine.builder.context import FileEntry


def digest_of_file_mtimes(files: Iterable[tuple[str, int]]) -> str:
    """sha256 of (path, mtime) of every file, given in path order: equal digests, no file touched."""
    text = "\0".join([f"{path}\0{mtime}" for path, mtime in files])
    return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()


class SourceFiles(Mapping[str, "FileEntry"]):
    """Path -> ``FileEntry`` over a walked context's stats, in path order; ``entry`` makes one."""

    __slots__ = ("_paths", "_members", "_stats", "_entry", "_digest")

    def __init__(self, paths: tuple[str, ...], stats: Mapping[str, EntryStat], entry: Callable[[str], FileEntry]):
        self._paths, self._stats, self._entry = paths, stats, entry
        self._members: frozenset[str] | None = None
        self._digest = ""

    @property
    def mtimes_digest(self) -> str:
        if not self._digest:
            stats = self._stats
            self._digest = digest_of_file_mtimes((path, st.mtime_ns) for path in self._paths
                                                 if (st := stats[path]).kind == "file")
        return self._digest

    def kinds_and_mtimes(self) -> dict[str, tuple[str, int]]:
        stats = self._stats
        return {path: (stats[path].kind, stats[path].mtime_ns) for path in self._paths}

    def file_count(self) -> int:
        stats = self._stats
        return sum(1 for path in self._paths if stats[path].kind == "file")

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
