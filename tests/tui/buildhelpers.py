"""Shared by the Build panel tests: a small context, the Dockerfile view's lines, polling the UI."""

from __future__ import annotations

from pathlib import Path

from layerlab.engine import events
from layerlab.tui.messages import EngineEvent
from layerlab.tui.widgets.build import DockerfileView

SIZE = (120, 40)


def hello_context(tmp_path: Path, dockerfile: str) -> Path:
    """A context folder ``hello`` with ``dockerfile`` and a one-line ``hello.txt``."""
    folder = tmp_path / "hello"
    folder.mkdir()
    (folder / "Dockerfile").write_text(dockerfile)
    (folder / "hello.txt").write_text("hello\n")
    return folder


def view_lines(app) -> list[str]:
    return str(app.query_one(DockerfileView).content).splitlines()


async def wait_for(pilot, condition, seconds: float = 60) -> None:
    """Poll ``condition`` between UI turns; fail with the Dockerfile view after ``seconds``."""
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition never became true; Dockerfile view:\n" + "\n".join(view_lines(pilot.app)))


def step_ref(index: int, line: int, instruction: str) -> events.StepRef:
    return events.StepRef(index, "", index, 0, instruction, line)


def cached(step: events.StepRef) -> events.StepCached:
    return events.StepCached(step, record="", result="", reason="")


def finished(tag: str, seconds: float) -> events.BuildFinished:
    return events.BuildFinished(image_id="sha256:" + "0" * 64, tags=(tag,), duration=seconds)


def post_events(panel, *stream: events.Event) -> None:
    """Hand engine events to the panel as the bridge does."""
    for event in stream:
        panel.post_message(EngineEvent(event))
