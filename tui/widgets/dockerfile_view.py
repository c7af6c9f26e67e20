"""The Build panel's Dockerfile: each line with its gutter mark, number, highlighted code, and
the step's verdict beside it (a miss's reason, a hit's note, a flip, timing and size), wrapped under
its own code at any width."""

from __future__ import annotations

from typing import Mapping

from rich.syntax import Syntax
from rich.text import Text
from textual import events
from textual.message import Message
from textual.widgets import Static

from layerlab.engine.record_type import record
from layerlab.tui.catalog import human_size
from layerlab.tui.widgets.build_state import BuildState
from layerlab.tui.widgets.prediction import PREDICTION_MARKS

MARKS = {"cached": "✓", "rebuilt": "↻", "running": "▶", "failed": "✗", "base": "●", "": " ", **PREDICTION_MARKS}


def line_name(step: int, line: int) -> str:
    """``line 4``; ``#N`` for a step with no line of its own (the ``--label`` step)."""
    return f"line {line}" if line else f"#{step}"


class DockerfileView(Static):
    """The Dockerfile with its gutter (see ``render_dockerfile``); a click on a line picks its step's log.

    A line longer than the view wraps under its own code, never back at column 0 under the gutter, so a
    long reason stays beside its step; ``rows`` keeps which Dockerfile line each screen row belongs to.
    """

    @record
    class LineClicked(Message):
        line: int  # 1-based

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.lines: list[tuple[Text, Text]] = []
        self.rows: list[int] = []

    def show(self, lines: list[tuple[Text, Text]]) -> None:
        self.lines = lines
        self.reflow()

    def on_resize(self) -> None:
        self.reflow()

    def reflow(self) -> None:
        width = self.size.width
        out, rows = Text(), []
        for number, (gutter, content) in enumerate(self.lines, start=1):
            laid_out = width > gutter.cell_len + 10  # before layout there is no width to wrap at
            pieces = list(content.wrap(self.app.console, width - gutter.cell_len)) if laid_out else [content]
            for index, piece in enumerate(pieces or [Text()]):
                piece.rstrip()
                out.append_text(gutter if index == 0 else Text(" " * gutter.cell_len))
                out.append_text(piece)
                out.append("\n")
                rows.append(number)
        out.rstrip()
        self.rows = rows
        self.update(out)

    def on_click(self, event: events.Click) -> None:
        if 0 <= event.y < len(self.rows):
            self.post_message(self.LineClicked(self.rows[event.y]))


def render_dockerfile(text: str, pygments_style: str, build: BuildState, colours: dict[str, str],
                      selected_line: int | None = None,
                      notes: Mapping[int, str] | None = None) -> list[tuple[Text, Text]]:
    """One (gutter, content) pair per line: mark and line number; highlighted code, then reason and timing.

    ``selected_line`` (the step whose log is shown alone) has its number in reverse; ``notes`` are
    BuildKit's view (line -> where BuildKit would build the line differently), shown last and dim.
    """
    notes = notes or {}
    lines = text.splitlines() or [""]
    highlighted = Syntax(text, "docker", theme=pygments_style).highlight(text).split("\n")
    by_line = build.by_line()
    width = len(str(len(lines)))
    rendered = []
    for number, code in enumerate(highlighted[: len(lines)], start=1):
        state = by_line.get(number)
        mark = state.mark if state else ""
        gutter = Text()
        gutter.append(f" {MARKS[mark]} ", style=f"bold {colours.get(mark, '')}")
        gutter.append(f"{number:>{width}}", style="reverse bold" if number == selected_line else "dim")
        gutter.append(" ")
        out = code.copy()
        if state is not None:
            out.append("  ")
            if state.flip:
                flip_colour = colours.get("cached" if state.flip.endswith("cached") else "rebuilt", "")
                out.append(f"{state.flip} ", style=f"bold reverse {flip_colour}")
            # A miss names its cause; a hit says why only when a change did not count (its record
            # details would only crowd the line: the log has them).
            if state.reason and mark in ("rebuilt", "failed", "cached", "would-rebuild"):
                out.append(state.reason, style=f"italic {colours.get(mark, '')}")
            extras = []
            if state.seconds is not None:
                extras.append(f"{state.seconds:.1f}s")
            if state.size:
                extras.append(human_size(state.size))
            if extras:
                out.append("  " + ", ".join(extras), style="dim")
        if number in notes:
            out.append(f"  ⓑ {notes[number]}", style="dim italic")
        rendered.append((gutter, out))
    return rendered
