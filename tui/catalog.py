"""The app's one adapter to the engine: ``layerlab.engine.api`` and the store, in the shapes the panels draw.

Rows, history, files, waste and saving are the engine's (``layerlab.engine.api``);
this module only binds them to the open store and adds what is purely about
showing them (times as text, hex dumps). Everything here may block (it reads
tars and SQLite), so panels call it from thread workers only.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Protocol

from layerlab.engine.api.ages import created_since
from layerlab.engine.api.building import Built, build, watch_and_build
from layerlab.engine.api.predicting import predict
from layerlab.engine.api.image_rows import ImageRow, image_rows
from layerlab.engine.api.layer_files import (PREVIEW_LIMIT, FileEntry, ImageReport, WasteRow, aggregated_entries,
                                             extract, image_report, layer_changes, read_file, stacked_entries, waste)
from layerlab.engine.api.layer_history import HistoryRow, history_rows, instruction_of_layer
from layerlab.engine.api.saving import SAVE_FORMATS as ENGINE_SAVE_FORMATS
from layerlab.engine.api.saving import save, saves_directory
from layerlab.engine.api.sizes import human_size
from layerlab.engine.events import EventSink
from layerlab.engine.image import Image
from layerlab.engine.store.facade import Store
from layerlab.engine.store.records import StoredImage
from layerlab.tui.build_options import BuildOptions

if TYPE_CHECKING:
    from layerlab.engine.builder.predict import Change, Prediction
    from layerlab.engine.builder.request import BuildRequest

__all__ = ["Catalog", "StoreCatalog", "ImageRow", "HistoryRow", "FileEntry", "WasteRow", "ImageReport", "image_report",
           "SAVE_FORMATS",
           "PREVIEW_LIMIT", "history_rows", "instruction_of_layer", "layer_changes", "stacked_entries",
           "aggregated_entries", "extract",
           "read_file", "waste", "human_size", "saves_directory", "created_text", "context_tag", "is_binary",
           "hex_dump"]

# What the Save dialog offers: an archive, or a layout directory.
SAVE_FORMATS = {name: ENGINE_SAVE_FORMATS[name] for name in ("docker", "oci")}


class Catalog(Protocol):
    """The store as the app sees it."""

    def image_rows(self) -> list[ImageRow]: ...
    def open_image(self, ref: str) -> Image: ...
    def tag(self, source: str, target: str) -> None: ...
    def remove(self, ref: str, force: bool = False) -> list[tuple[str, str]]: ...
    def now(self) -> datetime: ...
    def watch_path(self) -> Path | None: ...
    def save(self, ref: str, target: Path, format: str) -> None: ...
    def push(self, source: str, target: str, events: EventSink) -> object: ...
    def build(self, context: Path, events: EventSink, options: BuildOptions = BuildOptions()) -> Built: ...
    def watch_and_build(self, context: Path, events: EventSink, stop: threading.Event,
                        options: BuildOptions = BuildOptions()) -> None: ...
    def build_with(self, request: BuildRequest, events: EventSink) -> Built: ...
    def predict(self, request: BuildRequest, change: Change) -> Prediction: ...
    def lesson_root(self) -> Path: ...


class StoreCatalog:
    """A ``Catalog`` over the store at ``root``."""

    def __init__(self, store: Store, root: Path | None = None,
                 clock: Callable[[], datetime] = lambda: datetime.now(timezone.utc)) -> None:
        self.store = store
        self.root = root
        self.clock = clock  # "now" for ages; fixed in screenshots so "2 years ago" does not drift

    def now(self) -> datetime:
        return self.clock()

    def image_rows(self) -> list[ImageRow]:
        return image_rows(self.store.images())

    def open_image(self, ref: str) -> StoredImage:
        return self.store.image(ref)

    def tag(self, source: str, target: str) -> None:
        self.store.tag(source, target)

    def remove(self, ref: str, force: bool = False) -> list[tuple[str, str]]:
        """Docker's rmi: ``("Untagged", ref)`` and ``("Deleted", id)`` lines, in the order they happened."""
        return self.store.remove(ref, force=force)

    def watch_path(self) -> Path | None:
        return self.root

    def save(self, ref: str, target: Path, format: str) -> None:
        """Write ``ref`` to ``target``: an archive file (whole or not at all) or an OCI layout directory."""
        save(self.store, [ref], target, format)

    def push(self, source: str, target: str, events: EventSink) -> object:
        """Push the store's image ``source`` to the reference ``target``, reporting ``TransferProgress``."""
        from layerlab.engine.registry.push import push

        return push(target, self.store, source=source, events=events)

    def build(self, context: Path, events: EventSink, options: BuildOptions = BuildOptions()) -> Built:
        """Build ``context`` with ``options`` into the store, reporting engine events to ``events``."""
        return build(self.store, build_request(context, options), events)

    def watch_and_build(self, context: Path, events: EventSink, stop: threading.Event,
                        options: BuildOptions = BuildOptions()) -> None:
        """Build now, then again on every relevant change in ``context``, until ``stop`` is set."""
        watch_and_build(self.store, build_request(context, options), events, stop)

    def build_with(self, request: BuildRequest, events: EventSink) -> Built:
        """Build ``request`` as it stands (its Dockerfile, args and tags): a lesson's builds."""
        return build(self.store, request, events)

    def predict(self, request: BuildRequest, change: Change) -> Prediction:
        """Which steps of ``request`` would rebuild after ``change``; nothing is built."""
        return predict(self.store, request, change)

    def lesson_root(self) -> Path:
        """Where lessons copy their samples to (``ROOT/lessons/ID``)."""
        return self.store.root


def build_request(context: Path, options: BuildOptions) -> "BuildRequest":
    from layerlab.engine.builder.request import BuildRequest

    return BuildRequest(context_dir=context, dockerfile=str(options.dockerfile_path(context)),
                        build_args=options.args(), target=options.target, no_cache=options.no_cache,
                        tags=[context_tag(context)])


def context_tag(context: Path) -> str:
    """The tag the app gives what it builds: the context directory's name (``hello:latest``),
    so each rebuild moves one tag instead of adding another untagged image."""
    name = re.sub(r"[^a-z0-9._-]+", "-", context.resolve().name.lower()).strip("._-")
    return f"{name or 'context'}:latest"


def created_text(moment: datetime | None, now: datetime) -> str:
    """A creation time as the panels show it: its age, as the CLI's CREATED column says it (``2 hours ago``)."""
    return "" if moment is None else created_since(moment, now)


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
