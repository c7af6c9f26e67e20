"""Shared by the Build panel tests: a small context, the Dockerfile view's lines, polling the UI."""

from __future__ import annotations

from pathlib import Path

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
