"""An image's files: what each layer changes, the stacked tree, file contents and waste.

Every answer comes from one ``ImageAnalysis`` per image (each layer read
once), kept in a small cache shared by every caller. An analysis's tree cache
is not thread-safe, so calls into it take turns; everything here may block,
so a UI calls it from worker threads.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from pathlib import Path

from layerlab.engine.analysis import ImageAnalysis, analyze, waste_report
from layerlab.engine.analysis.dive import DiveScore
from layerlab.engine.analysis.extract import cat, copy_out
from layerlab.engine.analysis.history import parse_history
from layerlab.engine.analysis.image_sources import AnalysisImage
from layerlab.engine.analysis.model import EntryInfo
from layerlab.engine.analysis.waste import WasteReport
from layerlab.engine.image import Image
from layerlab.engine.oci.digest import Digest
from layerlab.engine.record_type import record

PREVIEW_LIMIT = 256 * 1024
ANALYSES_KEPT = 3  # analyses of the most recently opened images

_analyses: OrderedDict[Digest, ImageAnalysis] = OrderedDict()
_lock = threading.RLock()
_KINDS = {"file": "file", "dir": "dir", "symlink": "symlink", "hardlink": "hardlink"}
_CHANGES = {"A": "added", "M": "modified", "D": "removed"}


@record(frozen=True)
class FileEntry:
    path: str  # no leading slash: "etc/passwd"
    kind: str  # file, dir, symlink, hardlink, other
    size: int
    mode: int
    change: str = ""  # added, modified, removed; "" for what the layer did not touch
    link_target: str = ""
    uid: int = 0
    gid: int = 0

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@record(frozen=True)
class WasteRow:
    path: str
    wasted: int  # bytes shipped in a lower layer but hidden by a later one
    layer_index: int
    instruction: str
    how: str = ""  # e.g. "overwritten by layer 2"


def image_analysis(image: Image) -> ImageAnalysis:
    """The analysis of ``image`` (every layer read once), cached by image ID."""
    key = image.config_digest
    with _lock:
        if key in _analyses:
            _analyses.move_to_end(key)
            return _analyses[key]
        # The layers with their instructions exactly as ``dive`` and ``ci`` read them.
        source = AnalysisImage(image.config_digest.short, image, parse_history(image.config_bytes()))
        # The base image's layers guessed from history as ``analyze`` guesses them, so the numbers match.
        analysis = analyze(source.layer_sources(), base_layers=source.base_layers())
        while len(_analyses) >= ANALYSES_KEPT:
            _analyses.popitem(last=False)
        _analyses[key] = analysis
        return analysis


def _entry(path: str, info: EntryInfo | None, change: str = "") -> FileEntry:
    path = path.lstrip("/")
    if info is None:  # a directory implied by its children
        return FileEntry(path, "dir", 0, 0o755, change)
    kind = _KINDS.get(info.type_name, "other")
    size = info.size if kind == "file" else 0
    return FileEntry(path, kind, size, info.mode, change, info.linkname or "", info.uid, info.gid)


def layer_changes(image: Image, index: int) -> list[FileEntry]:
    """What layer ``index`` adds, modifies and removes relative to the layers below it."""
    with _lock:
        changes = image_analysis(image).layer_changes(index)
    return [FileEntry(change.path.lstrip("/"), "other", 0, 0, "removed") if change.code == "D"
            else _entry(change.path, change.entry, _CHANGES.get(change.code, ""))
            for change in changes]


def stacked_entries(image: Image, index: int) -> list[FileEntry]:
    """The whole filesystem as of layer ``index`` (all layers up to it applied)."""
    with _lock:
        return [_entry(path, info) for path, info in image_analysis(image).tree(index).walk("/")]


def aggregated_entries(image: Image, index: int) -> list[FileEntry]:
    """dive's aggregated view: the stacked tree as of layer ``index``, each path that layer added or
    modified marked so, and what it removed listed too (marked removed), so its changes stand out in place."""
    changes = {entry.path: entry for entry in layer_changes(image, index)}
    entries = [changes.get(entry.path, entry) for entry in stacked_entries(image, index)]
    return entries + [entry for entry in changes.values() if entry.change == "removed"]


def extract(image: Image, index: int, path: str, destination: Path) -> int:
    """Copy ``/path`` as of layer ``index`` to ``destination`` as ``docker cp`` does (modes and links kept,
    a directory with what is below it); returns the number of paths written."""
    with _lock:
        return copy_out(image_analysis(image), "/" + path, destination, layer=index)


class _Kept:
    """A write-only sink that keeps the first ``limit`` bytes (all when ``limit`` is None)."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self.parts: list[bytes] = []
        self.kept = 0

    def write(self, data: bytes) -> int:
        if self.limit is None or self.kept < self.limit:
            part = data if self.limit is None else data[: self.limit - self.kept]
            self.parts.append(part)
            self.kept += len(part)
        return len(data)


def read_file(image: Image, index: int, path: str, limit: int | None = PREVIEW_LIMIT) -> bytes:
    """Up to ``limit`` bytes of ``/path`` as of layer ``index``; a symlink reads as its target's name."""
    with _lock:
        analysis = image_analysis(image)
        info = analysis.tree(index).entry("/" + path)
        if info is not None and info.type_name == "symlink":
            return f"symbolic link to {info.linkname}\n".encode()
        sink = _Kept(limit)
        cat(analysis, "/" + path, sink, layer=index)  # type: ignore[arg-type]  # any object with write()
    return b"".join(sink.parts)


@record(frozen=True)
class ImageReport:
    """Everything ``layerlab analyze`` says about an image: dive's score and our reclaimable bytes."""

    layer_count: int
    dive: DiveScore
    waste: WasteReport


def image_report(image: Image) -> ImageReport:
    with _lock:
        analysis = image_analysis(image)
        return ImageReport(analysis.layer_count, analysis.dive, waste_report(analysis))


def waste(image: Image, top: int = 10) -> list[WasteRow]:
    """The worst offenders: bytes a layer ships that a later one hides, with the instruction that shipped them."""
    with _lock:
        report = waste_report(image_analysis(image))
    rows = []
    for offender in sorted(report.offenders, key=lambda o: o.bytes, reverse=True)[:top]:
        example = offender.examples[0].lstrip("/") if offender.examples else offender.category
        if offender.files > 1:
            example += f" (+{offender.files - 1} more)"
        rows.append(WasteRow(example, offender.bytes, offender.stored_layer, offender.stored_instruction,
                             how=f"{offender.how} by layer {offender.caused_by_layer}"))
    return rows
