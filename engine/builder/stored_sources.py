"""A cache record's source entries, read from their JSON only when a comparison needs them.

A COPY of a 20,000-file context keeps 20,000 entries in its record (``StepInputs.sources``). A hit
already knows every checksum matched (the key holds the source digest); what it still says is which
files were "touched only" (same content, another mtime). ``mtimes_digest`` condenses the files'
mtimes so that a hit compares one string, and the record's entries are decoded only when the
digests differ, or for a miss.
"""

from __future__ import annotations

import hashlib
import json
from typing import Iterator, Mapping

from layerlab.engine.builder.context import FileEntry
from layerlab.engine.errors import StoreError


def mtimes_digest(sources: Mapping[str, FileEntry]) -> str:
    """sha256 of every file's path and mtime, in path order: equal digests, no file touched."""
    if isinstance(sources, StoredSources):
        return sources.mtimes_digest
    hasher = hashlib.sha256()
    hasher.update("\0".join(f"{path}\0{sources[path].mtime_ns}" for path in sorted(sources)
                            if sources[path].kind == "file").encode("utf-8", "surrogateescape"))
    return hasher.hexdigest()


class StoredSources(Mapping[str, FileEntry]):
    """Path -> ``FileEntry`` from a record's ``sources`` JSON, decoded on first use.

    ``mtimes_digest`` is the one stored with the record ("" for a record written before there was
    one: then it is worked out from the entries)."""

    def __init__(self, text: str, mtimes: str, label: str):
        self._text, self._mtimes, self._label = text, mtimes, label
        self._entries: dict[str, FileEntry] | None = None

    @property
    def mtimes_digest(self) -> str:
        if not self._mtimes:
            self._mtimes = mtimes_digest(self.decoded())
        return self._mtimes

    def decoded(self) -> dict[str, FileEntry]:
        if self._entries is None:
            try:
                self._entries = {path: FileEntry.from_json(path, data)
                                 for path, data in json.loads(self._text).items()}
            except (ValueError, TypeError, AttributeError) as error:
                raise StoreError(f"{self._label}: unreadable source entries: {error}") from error
            self._text = ""
        return self._entries

    def __getitem__(self, path: str) -> FileEntry:
        return self.decoded()[path]

    def __iter__(self) -> Iterator[str]:
        return iter(self.decoded())

    def __len__(self) -> int:
        return len(self.decoded())

    def __repr__(self) -> str:
        state = "decoded" if self._entries is not None else "not decoded"
        return f"StoredSources({self._label}, {state})"


__all__ = ["StoredSources", "mtimes_digest"]
