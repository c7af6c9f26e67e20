"""A cache record's source entries, read from their JSON only as far as a comparison needs them.

A COPY of a 20,000-file context keeps 20,000 entries in its record (``StepInputs.sources``). A hit
already knows every checksum matched (the key holds the source digest); what it still says is which
files were "touched only" (same content, another mtime). ``mtimes_digest`` condenses the files'
mtimes so that a hit compares one string; when they differ, ``mtime_changes`` finds the files from
the JSON's mtimes, and only those few entries are made.
"""

from __future__ import annotations

import json
from typing import Callable, Iterator, Mapping, Sequence

from layerlab.engine.builder.context import FileEntry
from layerlab.engine.builder.source_files import SourceFiles, digest_of_file_mtimes
from layerlab.engine.errors import StoreError


def mtimes_digest(sources: Mapping[str, FileEntry]) -> str:
    """sha256 of every file's path and mtime, in path order: equal digests, no file touched."""
    if isinstance(sources, (StoredSources, SourceFiles)):
        return sources.mtimes_digest
    return _digest(kinds_and_mtimes(sources))


def kinds_and_mtimes(sources: Mapping[str, FileEntry]) -> dict[str, tuple[str, int]]:
    """(kind, mtime_ns) by path, made without entries where the mapping can."""
    if isinstance(sources, (StoredSources, SourceFiles)):
        return sources.kinds_and_mtimes()
    return {path: (entry.kind, entry.mtime_ns) for path, entry in sources.items()}


def file_count(sources: Mapping[str, FileEntry]) -> int:
    if isinstance(sources, SourceFiles):
        return sources.file_count()
    return sum(1 for kind, _mtime in kinds_and_mtimes(sources).values() if kind == "file")


def mtime_changes(current: Mapping[str, FileEntry], recorded: Mapping[str, FileEntry]) -> list[str]:
    """The files in both whose mtime differs, in path order: the only ones that can be "touched only"."""
    then = kinds_and_mtimes(recorded)
    return sorted(path for path, (kind, mtime) in kinds_and_mtimes(current).items()
                  if kind == "file" and path in then and then[path][1] != mtime)


def _digest(kinds_and_mtimes: Mapping[str, tuple[str, int]]) -> str:
    return digest_of_file_mtimes([f"{path}\0{kinds_and_mtimes[path][1]}" for path in sorted(kinds_and_mtimes)
                                  if kinds_and_mtimes[path][0] == "file"])


class StoredSources(Mapping[str, FileEntry]):
    """Path -> ``FileEntry`` from a record's ``sources`` JSON; each entry is made when first asked for.

    ``text`` is the JSON, or what reads it when first needed (a hit reads none: a record's entries
    are megabytes for a large context). ``mtimes_digest`` is the one stored with the record ("" for a
    record written before there was one: then it is worked out from the JSON)."""

    def __init__(self, text: str | Callable[[], str], mtimes: str, label: str):
        self._read = text if callable(text) else None
        self._text, self._mtimes, self._label = "" if callable(text) else text, mtimes, label
        self._encoded: dict[str, Sequence] | None = None
        self._entries: dict[str, FileEntry] = {}

    @property
    def mtimes_digest(self) -> str:
        if not self._mtimes:
            self._mtimes = _digest(self.kinds_and_mtimes())
        return self._mtimes

    def kinds_and_mtimes(self) -> dict[str, tuple[str, int]]:
        try:
            return {path: FileEntry.json_kind_and_mtime(data) for path, data in self._json().items()}
        except (ValueError, TypeError, IndexError, KeyError) as error:
            raise StoreError(f"{self._label}: unreadable source entries: {error}") from error

    def _json(self) -> dict[str, Sequence]:
        if self._encoded is None:
            if self._read is not None:
                self._text, self._read = self._read(), None
            try:
                encoded = json.loads(self._text)
            except ValueError as error:
                raise StoreError(f"{self._label}: unreadable source entries: {error}") from error
            if not isinstance(encoded, dict):
                raise StoreError(f"{self._label}: unreadable source entries: not an object")
            self._encoded, self._text = encoded, ""
        return self._encoded

    def __getitem__(self, path: str) -> FileEntry:
        entry = self._entries.get(path)
        if entry is None:
            data = self._json()[path]
            try:
                entry = self._entries[path] = FileEntry.from_json(path, data)
            except (ValueError, TypeError) as error:
                raise StoreError(f"{self._label}: unreadable source entry {path}: {error}") from error
        return entry

    def __contains__(self, path: object) -> bool:
        return path in self._json()

    def __iter__(self) -> Iterator[str]:
        return iter(self._json())

    def __len__(self) -> int:
        return len(self._json())

    def __repr__(self) -> str:
        return f"StoredSources({self._label}, {len(self._entries)} entries made)"


__all__ = ["StoredSources", "file_count", "kinds_and_mtimes", "mtime_changes", "mtimes_digest"]
