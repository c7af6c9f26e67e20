"""What every step of one build shares: the request, the store, the event sink, the scratch space,
the context and Dockerfile, the build args, and each stage's image once it is done.

Stages run on threads; ``lock`` guards the context (its stat cache) and the cache records, and a
stage that needs another (``FROM``, ``COPY --from``, ``RUN --mount=from=``) waits on ``wait_for``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from layerlab.engine.builder.build_source import BuildSource
from layerlab.engine.builder.context import BuildContext
from layerlab.engine.builder.planner import stage_reference
from layerlab.engine.builder.request import BuildCancelled, BuildRequest
from layerlab.engine.builder.stat_cache import StatCache
from layerlab.engine.dockerfile.instructions import Dockerfile, Instruction
from layerlab.engine.errors import BuildError, LayerlabError, NotFound
from layerlab.engine.events import Event, EventSink
from layerlab.engine.fsutil import fresh_directory
from layerlab.engine.layers.stack import LayerStack
from layerlab.engine.store import Store

if TYPE_CHECKING:
    from layerlab.engine.runtime.runner import Runtime

STAT_CACHE_NAME = "buildcontext.db"


def locked_sink(events: EventSink) -> EventSink:
    """Stage threads report at once; the sink sees one event at a time."""
    lock = threading.Lock()

    def sink(event: Event) -> None:
        with lock:
            events(event)

    return sink


class BuildSession:
    def __init__(self, request: BuildRequest, store: Store, events: EventSink, workspace: Path,
                 source: BuildSource, global_args: dict[str, str]):
        self.request = request
        self.store = store
        self.events = events
        self.workspace = workspace
        self.source = source
        self.build_args = dict(request.build_args)
        self.global_args = global_args
        self.lock = threading.RLock()          # the context and the cache records
        self.stop = threading.Event()
        self.stage_images: dict[int, str] = {}
        self.stage_variables: dict[int, dict[str, str]] = {}   # each finished stage's ENV and ARG values
        self.stage_done: dict[int, threading.Event] = {}
        self._runtime = request.runtime
        self._context: BuildContext | None = None
        self._stat_cache: StatCache | None = None

    @property
    def dockerfile(self) -> Dockerfile:
        return self.source.dockerfile

    @property
    def context_root(self) -> Path:
        return self.source.context_root

    def where(self, instruction: Instruction) -> str:
        """``Dockerfile:line``, the prefix of every message about a step."""
        name = self.dockerfile.filename
        return f"{name}:{instruction.line}" if instruction.line else name

    def context(self) -> BuildContext:
        with self.lock:
            if self._context is None:
                if not self.source.tar_context:
                    self._stat_cache = StatCache(self.store.root / STAT_CACHE_NAME)
                self._context = BuildContext(self.context_root, excluder=self.source.matcher,
                                             stat_cache=self._stat_cache)
            return self._context

    def runtime(self) -> Runtime:
        with self.lock:
            if self._runtime is None:
                from layerlab.engine.runtime.runner import default_runtime  # loaded by the first RUN that runs

                self._runtime = default_runtime()
            return self._runtime

    def stage_finished(self, index: int, image_id: str, variables: dict[str, str]) -> None:
        self.stage_images[index] = image_id
        self.stage_variables[index] = dict(variables)
        self.stage_done[index].set()

    def wait_for(self, index: int) -> str:
        """The image of stage ``index``, once it is built (or ``BuildCancelled`` when the build stops)."""
        event = self.stage_done[index]
        while not event.wait(0.1):
            if self.stop.is_set():
                raise BuildCancelled("build stopped")
        return self.stage_images[index]

    def stage_root(self, name: str, instruction: Instruction) -> Path:
        """The file tree of a stage (by name or index) or of an image in the store, for ``--from``."""
        return self.snapshot(self.stage_image(name, instruction), self.workspace)

    def stage_image(self, name: str, instruction: Instruction) -> str:
        """The image ID of a stage (by name or index, once built) or of an image in the store."""
        index = stage_reference(self.dockerfile, name, len(self.dockerfile.stages))
        if index is not None:
            return self.wait_for(index)
        try:
            return str(self.store.resolve(name))
        except NotFound:
            raise BuildError(f"{self.where(instruction)}: --from={name}: no such stage or image in the "
                             "store") from None

    def snapshot(self, image_id: str, scratch_parent: Path) -> Path:
        """An image's whole file tree in one directory; an empty directory for scratch (no image yet)."""
        if not image_id:
            return fresh_directory(scratch_parent, "scratch-")
        # a source to walk and copy from wants one directory: the image's merged tree, made once
        return self.store.merged_tree(self.store.image(image_id))

    def image_layers(self, image_id: str) -> LayerStack | None:
        """An image's layer directories, read as one tree; None before a scratch stage's first commit."""
        if not image_id:
            return None
        image = self.store.image(image_id)
        # read path by path: each snapshot directory read is checked, never the whole base (see lookup_stack)
        return self.store.lookup_stack(image) if image.layers() else LayerStack.of([])

    def top_layer_dir(self, image_id: str) -> Path | None:
        """The directory of ``image_id``'s top layer, if that image and its snapshot are still there."""
        try:
            image = self.store.image(image_id) if image_id else None
        except NotFound:
            return None
        layers = image.layers() if image is not None else ()
        return self.store.layer_dir(layers[-1].chain_id) if layers else None

    def mount_layers(self, image_id: str, *, checked: bool = True) -> list[Path]:
        """The layer directories a RUN over ``image_id`` stacks, bottom to top (none for scratch);
        ``checked`` False: the caller runs ``snapshot_check`` before it keeps anything made over them."""
        image = self.store.image(image_id) if image_id else None
        return self.store.layer_stack(image, checked=checked) if image is not None and image.layers() else []

    def snapshot_check(self, image_id: str) -> Callable[[], None]:
        """The whole check of ``image_id``'s reused snapshots, to run on any thread (see ``check_reused``)."""
        image = self.store.image(image_id) if image_id else None
        return (lambda: self.store.check_snapshots(image)) if image is not None else (lambda: None)

    def close(self) -> None:
        if self._context is not None:
            try:
                self._context.save()
            except LayerlabError:
                pass
        if self._stat_cache is not None:
            self._stat_cache.close()
