"""Stacking layers with the semantics of the OCI image spec.

A layer's whiteouts (``.wh.NAME``) and opaque markers (``.wh..wh..opq``)
apply only to the layers below it, so each layer is applied in two phases:
first every deletion against the state before the layer, then every entry.
A path deleted and written again in the same layer is a modification; a
path written in a layer after the one that deleted it is an addition.
A non-directory written over a directory takes the directory's contents away.
"""

from __future__ import annotations

from array import array

from layerlab.engine.layers import tarscan
from layerlab.engine.analysis.model import OPAQUE, WHITEOUT, EntryTable, PathTable, live_subtree
from layerlab.engine.record_type import field, record

ADDED = "A"
MODIFIED = "M"
DELETED = "D"

# Why an entry's bytes stopped being part of the image.
OVERWRITTEN = "overwritten"
REMOVED = "deleted"


@record(slots=True)
class Superseded:
    entry: int  # the entry whose bytes are no longer visible
    by_layer: int  # the layer that hid them
    by_entry: int  # the entry that replaced them, -1 when deleted
    how: str  # OVERWRITTEN or REMOVED


@record
class LayerChanges:
    """What one layer did: A/M/D per path, with the entry that describes it.

    For a deletion the entry is the one that was removed (so its attributes
    can be shown); for an implicitly created parent directory it is -1.
    """

    path_ids: array = field(default_factory=lambda: array("i"))
    codes: bytearray = field(default_factory=bytearray)
    entries: array = field(default_factory=lambda: array("i"))

    def __len__(self) -> int:
        return len(self.path_ids)

    def count(self, code: str) -> int:
        return self.codes.count(ord(code))


class Stack:
    """The visible tree as layers are applied one by one.

    ``live[path_id]`` says whether the path exists; ``current[path_id]`` is
    the entry that provides it (-1 for a directory only implied by a child).
    """

    def __init__(self, paths: PathTable, entries: EntryTable):
        self.paths = paths
        self.entries = entries
        self.live = bytearray()
        self.current = array("i")
        self.applied = -1

    def _grow(self) -> None:
        missing = len(self.paths) - len(self.live)
        if missing > 0:
            self.live.extend(bytes(missing))
            self.current.extend([-1] * missing)
        self.live[0] = 1  # the root always exists

    def subtree(self, path_id: int):
        """The live path and every live path under it, parents before children."""
        return live_subtree(self.live, self.paths.children, path_id)

    def apply(self, layer: int, start: int, stop: int, superseded: list[Superseded] | None = None,
              want_changes: bool = True) -> LayerChanges | None:
        """Apply entries ``start:stop`` (all of layer ``layer``)."""
        self._grow()
        entries, paths = self.entries, self.paths
        live, current = self.live, self.current
        kinds, path_of = entries.type, entries.path
        status: dict[int, str] = {}
        removed_entry: dict[int, int] = {}

        def remove(node: int) -> None:
            for gone in list(self.subtree(node)):
                if gone == 0:
                    continue
                live[gone] = 0
                old = current[gone]
                status[gone] = DELETED
                removed_entry[gone] = old
                if superseded is not None and old >= 0 and entries.size[old]:
                    superseded.append(Superseded(old, layer, -1, REMOVED))
                current[gone] = -1

        # Phase 1: deletions see only the layers below.
        whiteout, opaque = ord(WHITEOUT), ord(OPAQUE)
        for index in range(start, stop):
            kind = kinds[index]
            if kind == whiteout:
                target = path_of[index]
                if live[target]:
                    remove(target)
            elif kind == opaque:
                directory = path_of[index]
                if live[directory]:
                    for child in paths.children[directory] or ():
                        if live[child]:
                            remove(child)

        # Phase 2: the layer's own entries.
        directory_kind = ord(tarscan.DIRECTORY)
        parent_of = paths.parent
        for index in range(start, stop):
            kind = kinds[index]
            if kind == whiteout or kind == opaque:
                continue
            node = path_of[index]
            parent = parent_of[node]
            while parent > 0 and not live[parent]:
                live[parent] = 1
                current[parent] = -1
                if parent not in status:
                    status[parent] = ADDED
                elif status[parent] == DELETED:
                    status[parent] = MODIFIED
                parent = parent_of[parent]
            old = current[node]
            if live[node]:
                if kind != directory_kind and old >= 0 and kinds[old] == directory_kind or (
                        kind != directory_kind and old < 0):
                    # a file over a directory: the directory's contents go
                    for child in paths.children[node] or ():
                        if live[child]:
                            remove(child)
                if old >= 0 and superseded is not None and entries.size[old]:
                    superseded.append(Superseded(old, layer, index, OVERWRITTEN))
                previous = status.get(node)
                if previous is None:
                    if (kind == directory_kind and old >= 0 and kinds[old] == directory_kind
                            and entries.mode[old] == entries.mode[index] and entries.uid[old] == entries.uid[index]
                            and entries.gid[old] == entries.gid[index]):
                        status[node] = "="  # a parent directory carried along, unchanged
                    else:
                        status[node] = MODIFIED
                elif previous == "=":
                    status[node] = MODIFIED
            else:
                previous = status.get(node)
                status[node] = MODIFIED if previous == DELETED else (previous or ADDED)
            live[node] = 1
            current[node] = index
        self.applied = layer
        if not want_changes:
            return None
        changes = LayerChanges()
        for node, code in status.items():
            if code == "=":
                continue
            changes.path_ids.append(node)
            changes.codes.append(ord(code))
            changes.entries.append(removed_entry.get(node, -1) if code == DELETED else current[node])
        return changes
