"""What the panels read from the engine, in the shapes the panels draw.

This is the one module that knows the store's and the layers' API; when the
engine's analysis lands, ``layer_changes``/``stacked_entries``/``waste``
become calls into it and nothing else in the app changes. Everything here
may block (it reads tars), so panels call it from thread workers only.
"""

from __future__ import annotations

import json
import tarfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence

from engine.errors import CorruptLayer, NotFound
from engine.image import Image

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
PREVIEW_LIMIT = 256 * 1024


@dataclass(frozen=True)
class ImageRow:
    ref: str  # what to hand back to the store: "repo:tag", or the ID when untagged
    image_id: str
    repository: str
    tag: str
    created: str
    size: int

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


class Catalog(Protocol):
    """The store as the app sees it."""

    def image_rows(self) -> list[ImageRow]: ...
    def open_image(self, ref: str) -> Image: ...
    def tag(self, source: str, target: str) -> None: ...
    def remove(self, ref: str, force: bool = False) -> None: ...
    def watch_path(self) -> Path | None: ...


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
    """A ``Catalog`` over ``engine.store.Store``."""

    def __init__(self, store: Any, root: Path | None = None) -> None:
        self.store = store
        self.root = root

    def image_rows(self) -> list[ImageRow]:
        rows: list[ImageRow] = []
        for record in self.store.images():
            image_id = str(getattr(record, "id", None) or getattr(record, "image_id"))
            created = _created_text(getattr(record, "created", None))
            size = int(getattr(record, "size", 0) or 0)
            # Familiar names ("busybox:latest") as Docker shows them; the store resolves them back.
            tags = [str(t) for t in (getattr(record, "familiar_tags", None) or getattr(record, "tags", None) or ())]
            if not tags:
                rows.append(ImageRow(image_id, image_id, "<none>", "<none>", created, size))
            for tag in tags:
                repository, name = _split_tag(tag)
                rows.append(ImageRow(tag, image_id, repository, name, created, size))
        return rows

    def open_image(self, ref: str) -> Image:
        return self.store.image(ref)

    def tag(self, source: str, target: str) -> None:
        self.store.tag(source, target)

    def remove(self, ref: str, force: bool = False) -> None:
        self.store.remove(ref, force=force)

    def watch_path(self) -> Path | None:
        return self.root

    def build(self, context: Path, events: Callable) -> Any:
        """Build ``context`` (its ``Dockerfile``) into the store, reporting engine events to ``events``."""
        from engine.build import BuildRequest, build

        return build(BuildRequest(context_dir=context), self.store, events)

    def watch_and_build(self, context: Path, events: Callable, stop: threading.Event) -> None:
        """Build now, then again on every relevant change in ``context``, until ``stop`` is set."""
        from engine.build import BuildRequest
        from engine.build.watch import watch_and_build

        watch_and_build(BuildRequest(context_dir=context), self.store, events, stop)


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
        size = 0 if own_layer is None else int(layers[own_layer].size)
        rows.append(HistoryRow(index, _created_text(entry.get("created")), entry.get("created_by", ""),
                               entry.get("comment", ""), empty, own_layer, size))
        if own_layer is not None:
            layer_index += 1
    # Layers without history entries (some importers write none) still show.
    for extra in range(layer_index, len(layers)):
        rows.append(HistoryRow(len(rows), "", "", "", False, extra, int(layers[extra].size)))
    return rows


def instruction_of_layer(image: Image, layer_index: int) -> str:
    for row in history_rows(image):
        if row.layer_index == layer_index:
            return row.created_by
    return ""


# -- a layer's files ----------------------------------------------------------------


def _clean(name: str) -> str:
    name = name.lstrip("/")
    while name.startswith("./"):
        name = name[2:]
    return name.rstrip("/")


def _kind(member: tarfile.TarInfo) -> str:
    if member.isdir():
        return "dir"
    if member.issym():
        return "symlink"
    if member.islnk():
        return "hardlink"
    if member.isfile():
        return "file"
    return "other"


def _members(layer: Any) -> Iterator[tarfile.TarInfo]:
    stream = layer.open_uncompressed()
    try:
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            yield from archive
    except tarfile.TarError as error:
        raise CorruptLayer(f"layer {getattr(layer, 'diff_id', '?')}: {error}") from None
    finally:
        stream.close()


def _raw_entries(layer: Any) -> Iterator[tuple[str, FileEntry | None]]:
    """(path, entry) per tar member; entry None means a whiteout removing ``path``."""
    for member in _members(layer):
        path = _clean(member.name)
        if not path:
            continue
        parent, _, base = path.rpartition("/")
        if base == OPAQUE_MARKER:
            continue
        if base.startswith(WHITEOUT_PREFIX):
            target = base[len(WHITEOUT_PREFIX):]
            yield (f"{parent}/{target}" if parent else target), None
            continue
        yield path, FileEntry(path, _kind(member), member.size if member.isfile() else 0,
                              member.mode, link_target=member.linkname)


def layer_changes(layers: Sequence[Any], index: int) -> list[FileEntry]:
    """What layer ``index`` adds, modifies and removes relative to the layers below it."""
    below: dict[str, FileEntry] = {}
    for layer in layers[:index]:
        _apply(below, _raw_entries(layer))
    changes: list[FileEntry] = []
    for path, entry in _raw_entries(layers[index]):
        if entry is None:
            old = below.get(path)
            changes.append(FileEntry(path, old.kind if old else "other", old.size if old else 0,
                                     old.mode if old else 0, change="removed"))
        elif entry.kind == "dir" and path in below:
            continue  # a directory re-listed only to carry its children
        else:
            change = "modified" if path in below else "added"
            changes.append(FileEntry(entry.path, entry.kind, entry.size, entry.mode, change, entry.link_target))
    return changes


def _apply(tree: dict[str, FileEntry], entries: Iterator[tuple[str, FileEntry | None]]) -> None:
    for path, entry in entries:
        if entry is None:
            prefix = path + "/"
            for existing in [p for p in tree if p == path or p.startswith(prefix)]:
                del tree[existing]
        else:
            tree[path] = entry


def stacked_entries(layers: Sequence[Any], index: int) -> list[FileEntry]:
    """The whole filesystem as of layer ``index`` (all layers up to it applied)."""
    tree: dict[str, FileEntry] = {}
    for layer in layers[: index + 1]:
        _apply(tree, _raw_entries(layer))
    return list(tree.values())


def read_file(layers: Sequence[Any], index: int, path: str, limit: int = PREVIEW_LIMIT) -> bytes:
    """Up to ``limit`` bytes of ``path`` as of layer ``index`` (from the topmost layer that has it)."""
    for layer_index in range(index, -1, -1):
        found = _read_from_layer(layers[layer_index], path, limit)
        if found is _WHITED_OUT:
            break
        if found is not None:
            if isinstance(found, _HardLink):
                return read_file(layers, layer_index, found.target, limit)
            return found
    raise NotFound(f"{path}: not in layer {index} or below")


class _HardLink(str):
    @property
    def target(self) -> str:
        return str(self)


_WHITED_OUT = object()


def _read_from_layer(layer: Any, path: str, limit: int) -> Any:
    parent, _, base = path.rpartition("/")
    whiteout = f"{parent}/{WHITEOUT_PREFIX}{base}" if parent else WHITEOUT_PREFIX + base
    stream = layer.open_uncompressed()
    try:
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                name = _clean(member.name)
                if name == whiteout:
                    return _WHITED_OUT
                if name != path:
                    continue
                if member.issym():
                    return f"symbolic link to {member.linkname}\n".encode()
                if member.islnk():
                    return _HardLink(_clean(member.linkname))
                if not member.isfile():
                    return b""
                handle = archive.extractfile(member)
                return handle.read(limit) if handle else b""
    except tarfile.TarError as error:
        raise CorruptLayer(f"layer {getattr(layer, 'diff_id', '?')}: {error}") from None
    finally:
        stream.close()
    return None


def waste(image: Image, top: int = 10) -> list[WasteRow]:
    """Bytes shipped in one layer and hidden (overwritten or removed) by a later one."""
    layers = list(image.layers())
    seen: dict[str, tuple[int, int]] = {}  # path -> (size, layer index) of the visible copy
    wasted: list[WasteRow] = []
    instructions = {row.layer_index: row.created_by for row in history_rows(image) if row.layer_index is not None}
    for layer_index, layer in enumerate(layers):
        for path, entry in _raw_entries(layer):
            hidden = seen.pop(path, None)
            if hidden is not None and hidden[0] > 0:
                wasted.append(WasteRow(path, hidden[0], hidden[1], instructions.get(hidden[1], "")))
            if entry is None:
                prefix = path + "/"
                for child in [p for p in seen if p.startswith(prefix)]:
                    size, where = seen.pop(child)
                    if size:
                        wasted.append(WasteRow(child, size, where, instructions.get(where, "")))
            elif entry.kind == "file":
                seen[path] = (entry.size, layer_index)
    wasted.sort(key=lambda row: row.wasted, reverse=True)
    return wasted[:top]


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
