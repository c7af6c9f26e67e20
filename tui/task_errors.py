"""Failures of work done off the UI thread, said to the user.

Textual's ``Worker.StateChanged`` does not bubble: a panel's failed worker
never reaches the app. Each panel that runs workers mixes in
``ReportsTaskFailures``; a failure then becomes a ``TaskFailed`` message,
which bubbles to the app (one notification, long enough to read), and the
panel may also say it in place (``task_failed``), where the work was awaited.
"""

from __future__ import annotations

from textual.message import Message
from textual.worker import Worker, WorkerState

from layerlab.engine.errors import LayerlabError


def failure_text(error: BaseException | None) -> str:
    """One line naming the cause: the engine's own line, or the path and the OS's words."""
    if isinstance(error, LayerlabError):
        return error.one_line()
    if isinstance(error, OSError) and error.strerror:
        return f"{error.filename}: {error.strerror}" if error.filename else error.strerror
    return f"{type(error).__name__}: {error}" if error is not None else "unknown error"


class TaskFailed(Message):
    """A worker's task (``task``: its description) failed with ``text``."""

    def __init__(self, task: str, text: str) -> None:
        super().__init__()
        self.task = task
        self.text = text


class ReportsTaskFailures:
    """Mixed into a widget: its failed workers are reported, never dropped."""

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.state != WorkerState.ERROR:
            return
        task = event.worker.description or event.worker.group or "task"
        text = failure_text(event.worker.error)
        self.task_failed(event.worker.group, text)
        self.post_message(TaskFailed(task, text))  # type: ignore[attr-defined]

    def task_failed(self, group: str, text: str) -> None:
        """Say the failure where its result would have appeared (a panel's title, say)."""
