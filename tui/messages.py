"""App-wide messages: selection between panels, store and context changes, build events.

The build messages mirror the engine's build events one to one (step
started, cached, rebuilt with its reason, log, finished, failed); the Build
panel renders them and holds no build logic. A front end translates each
engine event into the matching message and posts it from the worker that
drives the build.

High-rate messages declare ``can_replace`` so a burst coalesces into one
handler call instead of flooding the queue: log lines themselves go into a
shared buffer (``BuildLog``) and ``BuildLogPending`` only says "drain it".
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from textual.message import Message


# -- selection -------------------------------------------------------------


class ImageSelected(Message):
    """An image was chosen (Images panel, or a build finished); History follows."""

    def __init__(self, ref: str) -> None:
        super().__init__()
        self.ref = ref


class LayerSelected(Message):
    """A layer of an image was chosen in History; Files follows."""

    def __init__(self, ref: str, layer_index: int) -> None:
        super().__init__()
        self.ref = ref
        self.layer_index = layer_index


class StoreChanged(Message):
    """Something (maybe another process) changed the store; lists reload."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, StoreChanged)


class DockerfileChanged(Message):
    """The open context's Dockerfile was (re)read."""

    def __init__(self, path: Path, text: str, changed: tuple[Path, ...] = ()) -> None:
        super().__init__()
        self.path = path
        self.text = text
        self.changed = changed

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, DockerfileChanged) and message.path == self.path


# -- build events ----------------------------------------------------------


class BuildStarted(Message):
    """A build of ``target`` (a context, or a tag) began; marks of the last build are kept to compare."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target


class StepStarted(Message):
    """A step began; ``line`` is the 1-based Dockerfile line of its instruction."""

    def __init__(self, step: int, line: int, instruction: str) -> None:
        super().__init__()
        self.step = step
        self.line = line
        self.instruction = instruction


class StepCached(Message):
    def __init__(self, step: int, reason: str = "") -> None:
        super().__init__()
        self.step = step
        self.reason = reason


class StepRebuilt(Message):
    """A cache miss; ``reason`` names the file, arg, text or parent that changed."""

    def __init__(self, step: int, reason: str) -> None:
        super().__init__()
        self.step = step
        self.reason = reason


class StepFinished(Message):
    """A step is done; ``cache`` is "hit", "miss" or "base" (a FROM), as the engine says."""

    def __init__(self, step: int, seconds: float, size: int | None = None, cache: str = "") -> None:
        super().__init__()
        self.step = step
        self.seconds = seconds
        self.size = size
        self.cache = cache


class BuildFinished(Message):
    def __init__(self, image_ref: str, seconds: float) -> None:
        super().__init__()
        self.image_ref = image_ref
        self.seconds = seconds


class BuildFailed(Message):
    def __init__(self, step: int | None, message: str) -> None:
        super().__init__()
        self.step = step
        self.message = message


class ContextChanged(Message):
    """Watch mode saw these context paths change; a rebuild follows."""

    def __init__(self, paths: tuple[str, ...], dockerfile_changed: bool) -> None:
        super().__init__()
        self.paths = paths
        self.dockerfile_changed = dockerfile_changed


class StepsFlipped(Message):
    """After a watch rebuild: each rebuilt step, how it went the build before ("hit", "miss", "new"), and why."""

    def __init__(self, flips: tuple[tuple[int, str, str], ...]) -> None:
        super().__init__()
        self.flips = flips


@dataclass
class BuildLog:
    """Log lines from a build, written by the worker and drained by the Build panel.

    Appending is cheap and thread-safe; the worker posts ``BuildLogPending``
    after appending, and because that message replaces any pending one the
    panel drains many lines per refresh however fast they arrive.
    """

    lines: deque[tuple[int, str]] = field(default_factory=deque)
    pending: bool = False  # a BuildLogPending is on its way; no need to post another
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def append(self, step: int, line: str) -> bool:
        """Keep a line; True when the caller should post ``BuildLogPending`` (none is outstanding)."""
        with self._lock:
            self.lines.append((step, line))
            if self.pending:
                return False
            self.pending = True
            return True

    def drain(self, limit: int = 5000) -> list[tuple[int, str]]:
        with self._lock:
            # Cleared before taking lines, so a line added after this drain posts a new message.
            self.pending = False
            if len(self.lines) <= limit:
                # The usual case: hand over the whole deque; the writer, waiting on this lock, is not
                # held up by copying.
                taken, self.lines = self.lines, deque()
            else:
                taken = [self.lines.popleft() for _ in range(limit)]
        return list(taken)


class BuildLogPending(Message):
    """New lines wait in the build's ``BuildLog``."""

    def __init__(self, log: BuildLog) -> None:
        super().__init__()
        self.log = log

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, BuildLogPending) and message.log is self.log


# -- the engine's event stream -> these messages ---------------------------------


class EngineEventBridge:
    """An engine ``EventSink`` that posts the matching message to a widget (the Build panel).

    Safe to call from the worker thread that runs the build: ``post_message``
    is thread-safe, and log lines go through a ``BuildLog`` that posts only
    when no drain is outstanding, so a flood of lines costs the UI one
    message per drain, not one per line.
    """

    def __init__(self, target) -> None:
        self.target = target
        self.log = BuildLog()

    def __call__(self, event) -> None:
        message = self.translate(event)
        if message is not None:
            self.target.post_message(message)

    def translate(self, event) -> Message | None:
        from layerlab.engine import events

        match event:
            case events.BuildStarted():
                return BuildStarted(event.target or event.context)
            case events.StepStarted(step=step):
                line = getattr(step, "dockerfile_line", None) or getattr(step, "line", 0)
                return StepStarted(step.index, line, step.instruction)
            case events.StepCached(step=step):
                return StepCached(step.index, event.reason)
            case events.StepRebuilt(step=step):
                return StepRebuilt(step.index, event.reason)
            case events.StepLog(step=step):
                return BuildLogPending(self.log) if self.log.append(step.index, event.line) else None
            case events.StepFinished(step=step):
                # a FROM is neither cached nor built: the engine reports it as a hit on its base image
                keyword = step.instruction.split(None, 1)[0].upper() if step.instruction.strip() else ""
                cache = "base" if keyword == "FROM" else event.cache
                return StepFinished(step.index, event.duration, event.layer_size or None, cache)
            case events.StepFailed(step=step):
                return BuildFailed(step.index, event.error)
            case events.BuildFinished():
                return BuildFinished(event.tags[0] if event.tags else event.image_id, event.duration)
            case events.BuildFailed():
                return BuildFailed(event.step.index if event.step else None, event.error)
        if type(event).__name__ == "WatchChange":
            return ContextChanged(tuple(event.paths), bool(event.dockerfile_changed))
        if type(event).__name__ == "WatchRebuilt":
            return StepsFlipped(tuple((flip.step.index, flip.before, flip.reason) for flip in event.flipped))
        return None


# -- transfers (push) ----------------------------------------------------------------


@dataclass
class TransferBoard:
    """Bytes moved per blob of one push, written by the worker's event sink and read by the panel.

    Like ``BuildLog``: the sink updates the board and posts ``TransfersChanged``
    only when none is outstanding, so a chunked upload costs the UI one
    message per redraw, not one per chunk.
    """

    action: str
    target: str
    blobs: dict[str, tuple[int, int]] = field(default_factory=dict)  # digest -> (done, total), in push order
    error: str = ""
    finished: bool = False
    pending: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def update(self, digest: str, done: int, total: int) -> bool:
        """Record progress; True when the caller should post ``TransfersChanged``."""
        with self._lock:
            self.blobs[digest] = (done, total)
            if self.pending:
                return False
            self.pending = True
            return True

    def snapshot(self) -> list[tuple[str, int, int]]:
        with self._lock:
            self.pending = False
            return [(digest, done, total) for digest, (done, total) in self.blobs.items()]


class TransfersChanged(Message):
    """A push moved bytes, finished or failed; the board says how far each blob got."""

    def __init__(self, board: TransferBoard) -> None:
        super().__init__()
        self.board = board

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, TransfersChanged) and message.board is self.board


class TransferEventBridge:
    """An engine ``EventSink`` for a push: ``TransferProgress`` events onto a ``TransferBoard``."""

    def __init__(self, target, board: TransferBoard) -> None:
        self.target = target
        self.board = board

    def __call__(self, event) -> None:
        from layerlab.engine import events

        if isinstance(event, events.TransferProgress) and self.board.update(event.digest, event.done, event.total):
            self.target.post_message(TransfersChanged(self.board))
