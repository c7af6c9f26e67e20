"""One pass over an image's layers: entries, per-layer changes, waste, dive's score.

The input is a list of ``LayerSource`` (a way to open the uncompressed tar
plus the instruction that made it), so any image source works and nothing
here knows about the store. Each layer is streamed exactly once.
"""

from __future__ import annotations

from typing import BinaryIO, Callable, Iterator, Sequence

from layerlab.engine.layers import tarscan
from layerlab.engine.analysis.dive import DiveEfficiency, DiveScore
from layerlab.engine.analysis.model import OPAQUE, WHITEOUT, EntryInfo, EntryTable, PathTable, classify
from layerlab.engine.analysis.layer_changes import LayerChanges, Stack, Superseded
from layerlab.engine.errors import NotFound, UsageError
from layerlab.engine.record_type import field, record


@record
class LayerSource:
    """How to read one layer: ``open()`` returns its uncompressed tar, from the start."""

    open: Callable[[], BinaryIO]
    instruction: str = ""
    diff_id: str = ""
    label: str = ""  # names the layer in error messages


@record(frozen=True)
class LayerSummary:
    index: int
    diff_id: str
    instruction: str
    size: int  # bytes of file content in the layer (what dive calls the layer size)
    entries: int
    added: int
    modified: int
    removed: int
    is_base: bool

    def to_json(self) -> dict:
        return {
            "index": self.index, "diff_id": self.diff_id, "instruction": self.instruction, "size": self.size,
            "entries": self.entries, "added": self.added, "modified": self.modified, "removed": self.removed,
            "base": self.is_base,
        }


@record(frozen=True)
class Change:
    code: str  # A, M or D
    entry: EntryInfo | None  # None for a directory only implied by its children
    path: str

    def to_json(self) -> dict:
        data = {"change": self.code, "path": self.path}
        data.update(entry_json(self.entry))
        return data


def entry_json(entry: EntryInfo | None) -> dict:
    if entry is None:
        return {"type": "dir", "mode": None, "uid": None, "gid": None, "size": 0, "link": None, "layer": None}
    return {"type": entry.type_name, "mode": f"{entry.mode:04o}", "uid": entry.uid, "gid": entry.gid,
            "size": entry.size, "link": entry.linkname or None, "layer": entry.layer}


@record
class ImageAnalysis:
    sources: list[LayerSource]
    paths: PathTable
    entries: EntryTable
    bounds: list[tuple[int, int]]
    changes: list[LayerChanges]
    final: Stack
    superseded: list[Superseded]
    dive: DiveScore
    base_layers: int
    _trees: dict[int, Stack] = field(default_factory=dict, repr=False)

    @property
    def layer_count(self) -> int:
        return len(self.bounds)

    def check_layer(self, layer: int | None) -> int:
        """Resolve a layer index (negative counts from the top); None means the top layer."""
        count = self.layer_count
        if layer is None:
            return count - 1
        resolved = layer + count if layer < 0 else layer
        if not 0 <= resolved < count:
            raise UsageError(f"layer {layer} out of range: the image has {count} layers (0..{count - 1})")
        return resolved

    def summaries(self) -> list[LayerSummary]:
        result = []
        for index, (start, stop) in enumerate(self.bounds):
            changes = self.changes[index]
            source = self.sources[index]
            result.append(LayerSummary(
                index, source.diff_id, source.instruction, sum(self.entries.size[start:stop]), stop - start,
                changes.count("A"), changes.count("M"), changes.count("D"), index < self.base_layers))
        return result

    def layer_changes(self, layer: int) -> list[Change]:
        layer = self.check_layer(layer)
        changes = self.changes[layer]
        result = []
        for path_id, code, entry in zip(changes.path_ids, changes.codes, changes.entries):
            info = self.entries.info(entry, self.paths) if entry >= 0 else None
            result.append(Change(chr(code), info, self.paths.display(path_id)))
        result.sort(key=lambda change: change.path)
        return result

    def tree(self, layer: int | None = None) -> "StackedTree":
        """The image's file tree as of ``layer`` (default: the whole image)."""
        layer = self.check_layer(layer)
        if layer == self.layer_count - 1:
            return StackedTree(self, self.final, layer)
        stack = self._trees.get(layer)
        if stack is None:
            stack = Stack(self.paths, self.entries)
            for index in range(layer + 1):
                stack.apply(index, *self.bounds[index], want_changes=False)
            self._trees = {layer: stack}  # keep one, so memory stays one tree's worth
        return StackedTree(self, stack, layer)


class StackedTree:
    """A read-only view of the visible files as of one layer."""

    def __init__(self, analysis: ImageAnalysis, stack: Stack, layer: int):
        self.analysis = analysis
        self.stack = stack
        self.layer = layer

    def _id(self, path: str) -> int | None:
        path_id = self.analysis.paths.lookup(path)
        if path_id is None or path_id >= len(self.stack.live):
            return None
        if path_id == 0:
            return 0
        return path_id if self.stack.live[path_id] else None

    def exists(self, path: str) -> bool:
        return self._id(path) is not None

    def entry(self, path: str) -> EntryInfo | None:
        """The entry providing ``path``; None for an implied directory. Raises NotFound."""
        path_id = self._id(path)
        if path_id is None:
            raise NotFound(f"{path}: no such file in the image as of layer {self.layer}")
        index = self.stack.current[path_id] if path_id else -1
        return self.analysis.entries.info(index, self.analysis.paths) if index >= 0 else None

    def walk(self, path: str = "/") -> Iterator[tuple[str, EntryInfo | None]]:
        """Every visible path under ``path`` (itself included, the root excluded), sorted."""
        path_id = self._id(path)
        if path_id is None:
            raise NotFound(f"{path}: no such file in the image as of layer {self.layer}")
        paths, entries = self.analysis.paths, self.analysis.entries
        nodes = [node for node in self.stack.subtree(path_id) if node] if path_id else [
            node for node in self.stack.subtree(0) if node]
        nodes.sort(key=paths.paths.__getitem__)
        current = self.stack.current
        for node in nodes:
            index = current[node]
            yield paths.display(node), entries.info(index, paths) if index >= 0 else None

    def children(self, path: str = "/") -> list[tuple[str, EntryInfo | None]]:
        path_id = self._id(path)
        if path_id is None:
            raise NotFound(f"{path}: no such file in the image as of layer {self.layer}")
        paths, entries, live, current = self.analysis.paths, self.analysis.entries, self.stack.live, self.stack.current
        kids = [kid for kid in paths.children[path_id] or () if live[kid]]
        kids.sort(key=paths.paths.__getitem__)
        return [(paths.display(kid), entries.info(current[kid], paths) if current[kid] >= 0 else None) for kid in kids]

    def total_size(self, path: str = "/") -> int:
        path_id = self._id(path)
        if path_id is None:
            raise NotFound(f"{path}: no such file in the image as of layer {self.layer}")
        size, current = self.analysis.entries.size, self.stack.current
        return sum(size[current[node]] for node in self.stack.subtree(path_id) if current[node] >= 0)


def _read_layer(index: int, source: LayerSource, paths: PathTable, entries: EntryTable) -> None:
    where = source.label or f"layer {index}"
    try:
        stream = source.open()
    except OSError as error:
        raise NotFound(f"{where}: cannot open the layer: {error}") from None
    intern, add = paths.intern, entries.add
    with stream:
        for raw in tarscan.scan(stream, where=where):
            kind, path = classify(raw)
            if not kind or not path and kind not in (OPAQUE,):
                continue  # the root's own entry and AUFS metadata say nothing about files
            path_id = intern(path)
            if kind == WHITEOUT or kind == OPAQUE:
                add(path_id, index, kind, 0, raw.uid, raw.gid, 0, raw.offset, raw.ordinal)
            else:
                add(path_id, index, kind, raw.mode, raw.uid, raw.gid, raw.size, raw.offset, raw.ordinal,
                    raw.linkname)


def analyze(sources: Sequence[LayerSource], *, base_layers: int | None = None) -> ImageAnalysis:
    """Read every layer once and compute changes, the final tree, waste and dive's score.

    ``base_layers`` is how many bottom layers came from the base image
    (default: 1 when there are several layers, as dive assumes).
    """
    paths, entries = PathTable(), EntryTable()
    stack = Stack(paths, entries)
    dive = DiveEfficiency(paths, entries)
    superseded: list[Superseded] = []
    bounds, changes = [], []
    for index, source in enumerate(sources):
        start = len(entries)
        _read_layer(index, source, paths, entries)
        stop = len(entries)
        bounds.append((start, stop))
        dive.add_layer(start, stop)
        changes.append(stack.apply(index, start, stop, superseded))
    if base_layers is None:
        base_layers = 1 if len(sources) > 1 else 0
    base_layers = max(0, min(base_layers, len(sources)))
    return ImageAnalysis(list(sources), paths, entries, bounds, changes, stack, superseded, dive.result(), base_layers)


__all__ = ["LayerSource", "LayerSummary", "Change", "ImageAnalysis", "StackedTree", "analyze", "entry_json"]
