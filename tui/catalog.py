"""What the panels read from the engine, in the shapes the panels draw.

This is the one module that knows the engine's API: the store (images, tags,
builds) and ``layerlab.engine.analysis`` (layer changes, stacked trees, file
contents, waste). Everything here may block (it reads tars and SQLite), so
panels call it from thread workers only.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Protocol

from layerlab.engine.image import Image, layer_content_size

PREVIEW_LIMIT = 256 * 1024


@dataclass(frozen=True)
class ImageRow:
    ref: str  # what to hand back to the store: "repo:tag", or the ID when untagged
    image_id: str
    repository: str
    tag: str
    created: str
    size: int
    intermediate: bool = False  # a build step's image: hidden unless all images are shown (``images -a``)

    @property
    def short_id(self) -> str:
        return self.image_id.split(":", 1)[-1][:12]


@dataclass(frozen=True)
class HistoryRow:
    index: int
    created: str
    created_by: str
    comment: str
    empty_layer: bool
    layer_index: int | None  # position in image.layers(), None for an empty layer
    size: int


@dataclass(frozen=True)
class FileEntry:
    path: str  # no leading slash: "etc/passwd"
    kind: str  # file, dir, symlink, hardlink, other
    size: int
    mode: int
    change: str = ""  # added, modified, removed; "" in the stacked view
    link_target: str = ""

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class WasteRow:
    path: str
    wasted: int  # bytes shipped in a lower layer but hidden by a later one
    layer_index: int
    instruction: str
    how: str = ""  # e.g. "overwritten by layer 2"


class Catalog(Protocol):
    """The store as the app sees it."""

    def image_rows(self) -> list[ImageRow]: ...
    def open_image(self, ref: str) -> Image: ...
    def tag(self, source: str, target: str) -> None: ...
    def remove(self, ref: str, force: bool = False) -> None: ...
    def watch_path(self) -> Path | None: ...
    def save(self, ref: str, target: Path, format: str) -> None: ...
    def push(self, source: str, target: str, events: Callable) -> Any: ...


SAVE_FORMATS = {"docker-archive": "a docker save tar (pre-25 layout)", "oci-layout": "an OCI image layout directory"}


# -- the store -----------------------------------------------------------------


def _split_tag(tag: str) -> tuple[str, str]:
    repository, sep, name = tag.rpartition(":")
    if not sep or "/" in name:
        return tag, "latest"
    return repository, name


def _created_text(value: Any) -> str:
    if value is None:
        return ""
    if hasattr(value, "strftime"):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return str(value).replace("T", " ").split(".")[0].rstrip("Z")


class StoreCatalog:
    """A ``Catalog`` over ``layerlab.engine.store.Store``."""

    def __init__(self, store: Any, root: Path | None = None) -> None:
        self.store = store
        self.root = root

    def image_rows(self) -> list[ImageRow]:
        rows: list[ImageRow] = []
        for record in self.store.images():
            image_id = str(getattr(record, "id", None) or getattr(record, "image_id"))
            created = _created_text(getattr(record, "created", None))
            size = int(getattr(record, "size", 0) or 0)
            intermediate = bool(getattr(record, "intermediate", False))
            # Familiar names ("busybox:latest") as Docker shows them; the store resolves them back.
            tags = [str(t) for t in (getattr(record, "familiar_tags", None) or getattr(record, "tags", None) or ())]
            if not tags:
                rows.append(ImageRow(image_id, image_id, "<none>", "<none>", created, size, intermediate))
            for tag in tags:
                repository, name = _split_tag(tag)
                rows.append(ImageRow(tag, image_id, repository, name, created, size, intermediate))
        return rows

    def open_image(self, ref: str) -> Image:
        return self.store.image(ref)

    def tag(self, source: str, target: str) -> None:
        self.store.tag(source, target)

    def remove(self, ref: str, force: bool = False) -> None:
        self.store.remove(ref, force=force)

    def watch_path(self) -> Path | None:
        return self.root

    def save(self, ref: str, target: Path, format: str) -> None:
        """Write ``ref`` to ``target``: a docker-archive file (whole or not at all) or an OCI layout directory."""
        from layerlab.engine.errors import UsageError
        from layerlab.engine.fsutil import atomic_write
        from layerlab.engine.transports.docker_archive import write_docker_archive
        from layerlab.engine.transports.oci_layout import write_oci_layout

        image = self.store.image(ref)
        # Saving by ID keeps no tag, as docker save does; by name keeps that name.
        tags = [] if ref.startswith("sha256:") else [ref]
        if format == "oci-layout":
            write_oci_layout([(image, tags)], target)
        elif format == "docker-archive":
            with atomic_write(target) as out:
                write_docker_archive([(image, tags)], out)
        else:
            raise UsageError(f"unknown save format {format!r} (expected one of: {', '.join(SAVE_FORMATS)})")

    def push(self, source: str, target: str, events: Callable) -> Any:
        """Push the store's image ``source`` to the reference ``target``, reporting ``TransferProgress``."""
        from layerlab.engine.registry.push import push

        return push(target, self.store, source=source, events=events)

    def build(self, context: Path, events: Callable) -> Any:
        """Build ``context`` (its ``Dockerfile``) into the store, reporting engine events to ``events``."""
        from layerlab.engine.builder import BuildRequest, build

        return build(BuildRequest(context_dir=context, tags=[context_tag(context)]), self.store, events)

    def watch_and_build(self, context: Path, events: Callable, stop: threading.Event) -> None:
        """Build now, then again on every relevant change in ``context``, until ``stop`` is set."""
        from layerlab.engine.builder import BuildRequest
        from layerlab.engine.builder.watch import watch_and_build

        watch_and_build(BuildRequest(context_dir=context, tags=[context_tag(context)]), self.store, events, stop)


def context_tag(context: Path) -> str:
    """The tag the app gives what it builds: the context directory's name (``hello:latest``),
    so each rebuild moves one tag instead of adding another untagged image."""
    name = re.sub(r"[^a-z0-9._-]+", "-", context.resolve().name.lower()).strip("._-")
    return f"{name or 'context'}:latest"


# -- an image's history -----------------------------------------------------------


def config_of(image: Image) -> dict:
    return json.loads(image.config_bytes())


def history_rows(image: Image) -> list[HistoryRow]:
    """History entries bottom to top, each paired with its layer (empty ones have none)."""
    layers = list(image.layers())
    history = config_of(image).get("history") or []
    rows: list[HistoryRow] = []
    layer_index = 0
    for index, entry in enumerate(history):
        empty = bool(entry.get("empty_layer"))
        own_layer = None if empty or layer_index >= len(layers) else layer_index
        size = 0 if own_layer is None else layer_content_size(layers[own_layer])
        rows.append(HistoryRow(index, _created_text(entry.get("created")), entry.get("created_by", ""),
                               entry.get("comment", ""), empty, own_layer, size))
        if own_layer is not None:
            layer_index += 1
    # Layers without history entries (some importers write none) still show.
    for extra in range(layer_index, len(layers)):
        rows.append(HistoryRow(len(rows), "", "", "", False, extra, layer_content_size(layers[extra])))
    return rows


def instruction_of_layer(image: Image, layer_index: int) -> str:
    for row in history_rows(image):
        if row.layer_index == layer_index:
            return row.created_by
    return ""


# -- a layer's files (layerlab.engine.analysis) ----------------------------------------------

_ANALYSES: dict[str, Any] = {}  # config digest -> ImageAnalysis, the few most recent
_ANALYSES_KEPT = 3
# One image's analysis is shared by the panel's workers (tree, preview, waste); its tree cache is not
# thread-safe, so calls into it take turns.
_ANALYSIS_LOCK = threading.RLock()

_KINDS = {"file": "file", "dir": "dir", "symlink": "symlink", "hardlink": "hardlink"}
_CHANGES = {"A": "added", "M": "modified", "D": "removed"}


def image_analysis(image: Image) -> Any:
    """The engine's analysis of ``image`` (every layer read once), cached by image ID."""
    from layerlab.engine.analysis import LayerSource, analyze

    key = str(image.config_digest)
    with _ANALYSIS_LOCK:
        if key in _ANALYSES:
            return _ANALYSES[key]
        layers = list(image.layers())
        instructions = {row.layer_index: row.created_by for row in history_rows(image) if row.layer_index is not None}
        sources = [LayerSource(open=layer.open_uncompressed, instruction=instructions.get(index, ""),
                               diff_id=str(layer.diff_id), label=f"layer {index}")
                   for index, layer in enumerate(layers)]
        analysis = analyze(sources)
        while len(_ANALYSES) >= _ANALYSES_KEPT:
            _ANALYSES.pop(next(iter(_ANALYSES)))
        _ANALYSES[key] = analysis
        return analysis


def _entry(path: str, info: Any, change: str = "") -> FileEntry:
    path = path.lstrip("/")
    if info is None:  # a directory implied by its children
        return FileEntry(path, "dir", 0, 0o755, change)
    kind = _KINDS.get(info.type_name, "other")
    size = info.size if kind == "file" else 0
    return FileEntry(path, kind, size, info.mode, change, info.linkname or "")


def layer_changes(image: Image, index: int) -> list[FileEntry]:
    """What layer ``index`` adds, modifies and removes relative to the layers below it."""
    with _ANALYSIS_LOCK:
        changes = image_analysis(image).layer_changes(index)
    return [_entry(change.path, change.entry if change.code != "D" else None, _CHANGES.get(change.code, ""))
            if change.code != "D" else FileEntry(change.path.lstrip("/"), "other", 0, 0, "removed")
            for change in changes]


def stacked_entries(image: Image, index: int) -> list[FileEntry]:
    """The whole filesystem as of layer ``index`` (all layers up to it applied)."""
    with _ANALYSIS_LOCK:
        return [_entry(path, info) for path, info in image_analysis(image).tree(index).walk("/")]


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
    from layerlab.engine.analysis.extract import cat

    with _ANALYSIS_LOCK:
        analysis = image_analysis(image)
        info = analysis.tree(index).entry("/" + path)
        if info is not None and info.type_name == "symlink":
            return f"symbolic link to {info.linkname}\n".encode()
        sink = _Kept(limit)
        cat(analysis, "/" + path, sink, layer=index)
    return b"".join(sink.parts)


def waste(image: Image, top: int = 10) -> list[WasteRow]:
    """The worst offenders: bytes a layer ships that a later one hides, with the instruction that shipped them."""
    from layerlab.engine.analysis import waste_report

    with _ANALYSIS_LOCK:
        report = waste_report(image_analysis(image))
    rows = []
    for offender in sorted(report.offenders, key=lambda o: o.bytes, reverse=True)[:top]:
        example = offender.examples[0].lstrip("/") if offender.examples else offender.category
        if offender.files > 1:
            example += f" (+{offender.files - 1} more)"
        rows.append(WasteRow(example, offender.bytes, offender.stored_layer, offender.stored_instruction,
                             how=f"{offender.how} by layer {offender.caused_by_layer}"))
    return rows


def is_binary(data: bytes) -> bool:
    if b"\x00" in data[:8192]:
        return True
    try:
        data[:8192].decode("utf-8")
    except UnicodeDecodeError as error:
        # A multibyte character cut at the preview limit is still text.
        return error.start < len(data[:8192]) - 4
    return False


def hex_dump(data: bytes, rows: int = 32) -> str:
    lines = []
    for offset in range(0, min(len(data), rows * 16), 16):
        chunk = data[offset : offset + 16]
        hexes = " ".join(f"{b:02x}" for b in chunk)
        text = "".join(chr(b) if 32 <= b < 127 else "." for b in chunk)
        lines.append(f"{offset:08x}  {hexes:<47}  {text}")
    return "\n".join(lines)


def human_size(size: int) -> str:
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f}{unit}" if unit == "B" else f"{value:.1f}{unit}"
        value /= 1000
    return f"{size}B"
