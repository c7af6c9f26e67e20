"""App-wide messages: selection between panels, store and context changes, build events.

Build events travel as the engine made them, wrapped in one ``EngineEvent``
message; the Build panel renders them and holds no build logic. The worker
that drives a build posts them through an ``EngineEventBridge``.

High-rate messages declare ``can_replace`` so a burst coalesces into one
handler call instead of flooding the queue: log lines themselves go into a
shared buffer (``BuildLog``) and ``BuildLogPending`` only says "drain it".
"""

from __future__ import annotations

import threading
from collections import deque
from pathlib import Path

from textual.message import Message
from textual.message_pump import MessagePump

from layerlab.engine import events
from layerlab.engine.record_type import field, record


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


class EngineEvent(Message):
    """One event of the engine's stream (``layerlab.engine.events``), as the engine sent it.

    Widgets match on the type of ``event`` (step started, cached, rebuilt with
    its reason, finished, failed; watch-mode changes and flips), so the app
    carries the engine's own values instead of a copy of each.
    """

    def __init__(self, event: events.Event) -> None:
        super().__init__()
        self.event = event


def built_ref(event: events.BuildFinished) -> str:
    """What a finished build is shown as: its first tag, else its image ID."""
    return event.tags[0] if event.tags else event.image_id


@record
class BuildLog:
    """Log lines from a build, written by the worker and drained by the Build panel.

    Appending is cheap and thread-safe; the worker posts ``BuildLogPending``
    after appending, and because that message replaces any pending one the
    panel drains many lines per refresh however fast they arrive.
    """

    lines: deque[tuple[int, int, str]] = field(default_factory=deque)  # step index, Dockerfile line, text
    pending: bool = False  # a BuildLogPending is on its way; no need to post another
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def append(self, step: events.StepRef, line: str) -> bool:
        """Keep a line; True when the caller should post ``BuildLogPending`` (none is outstanding).

        The step's Dockerfile line travels with the text: the panel names the step by it, and a
        drain may bring a step's lines before the panel has handled that step's start."""
        with self._lock:
            self.lines.append((step.index, step.dockerfile_line, line))
            if self.pending:
                return False
            self.pending = True
            return True

    def drain(self, limit: int = 5000) -> list[tuple[int, int, str]]:
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


# -- the engine's event stream -> messages ---------------------------------------


class EngineEventBridge:
    """An engine ``EventSink`` that posts each event to a widget (the Build panel) as an ``EngineEvent``.

    Safe to call from the worker thread that runs the build: ``post_message``
    is thread-safe, and log lines go through a ``BuildLog`` that posts only
    when no drain is outstanding, so a flood of lines costs the UI one
    message per drain, not one per line.
    """

    def __init__(self, target: MessagePump) -> None:
        self.target = target
        self.log = BuildLog()

    def __call__(self, event: events.Event) -> None:
        if isinstance(event, events.StepLog):
            if self.log.append(event.step, event.line):
                self.target.post_message(BuildLogPending(self.log))
            return
        self.target.post_message(EngineEvent(event))


# -- transfers (push) ----------------------------------------------------------------


@record
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

    def __init__(self, target: MessagePump, board: TransferBoard) -> None:
        self.target = target
        self.board = board

    def __call__(self, event: events.Event) -> None:
        if isinstance(event, events.TransferProgress) and self.board.update(event.digest, event.done, event.total):
            self.target.post_message(TransfersChanged(self.board))
