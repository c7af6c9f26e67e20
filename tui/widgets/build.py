"""The Build panel: the Dockerfile highlighted, a gutter of cache marks, and the build log.

It renders the stream of build messages from ``tui.messages`` and decides
nothing itself: which step was cached or rebuilt, and why, comes in the
messages. Between builds it remembers the last marks, so a rebuild shows
which steps flipped from cached to rebuilt.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from rich.syntax import Syntax
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widgets import Label, Log, Static

from tui.messages import (BuildFailed, BuildFinished, BuildLogPending, BuildStarted, ContextChanged, DockerfileChanged,
                          StepCached, StepFinished, StepRebuilt, StepsFlipped, StepStarted)
from tui.widgets.sources import human_size

MARKS = {"cached": "✓", "rebuilt": "↻", "running": "▶", "failed": "✗", "base": "●", "": " "}
FINISHED_MARKS = {"hit": "cached", "miss": "rebuilt", "base": "base"}
LOG_LINES_KEPT = 20_000


@dataclass
class StepState:
    step: int
    line: int
    instruction: str
    mark: str = "running"  # running, cached, rebuilt, failed, base (a FROM: neither cached nor built)
    reason: str = ""
    seconds: float | None = None
    size: int | None = None
    flipped: bool = False  # cached in the previous build, rebuilt in this one


@dataclass
class BuildState:
    steps: dict[int, StepState] = field(default_factory=dict)
    previous_marks: dict[int, str] = field(default_factory=dict)  # line -> mark of the last build
    status: str = ""

    def by_line(self) -> dict[int, StepState]:
        return {state.line: state for state in self.steps.values()}


class DockerfileView(Static):
    """The Dockerfile with its gutter (see ``render_dockerfile``)."""


def render_dockerfile(text: str, pygments_style: str, build: BuildState, colours: dict[str, str]) -> Text:
    """One row per line: gutter mark, line number, highlighted code, then reason and timing."""
    lines = text.splitlines() or [""]
    highlighted = Syntax(text, "docker", theme=pygments_style).highlight(text).split("\n")
    by_line = build.by_line()
    width = len(str(len(lines)))
    out = Text()
    for number, code in enumerate(highlighted[: len(lines)], start=1):
        state = by_line.get(number)
        mark = state.mark if state else ""
        out.append(f" {MARKS[mark]} ", style=f"bold {colours.get(mark, '')}")
        out.append(f"{number:>{width}} ", style="dim")
        out.append_text(code)
        if state is not None:
            out.append("  ")
            if state.flipped:
                out.append("cached → rebuilt ", style=f"bold reverse {colours.get('rebuilt', '')}")
            # A miss names its cause; a hit's record details would only crowd the line.
            if state.reason and mark in ("rebuilt", "failed"):
                out.append(state.reason, style=f"italic {colours.get(mark, '')}")
            extras = []
            if state.seconds is not None:
                extras.append(f"{state.seconds:.1f}s")
            if state.size:
                extras.append(human_size(state.size))
            if extras:
                out.append("  " + ", ".join(extras), style="dim")
        out.append("\n")
    out.rstrip()
    return out


class BuildPanel(Vertical):
    BINDINGS = [
        Binding("b", "app.build_context", "Build", id="build.start", tooltip="Build the open context now"),
        Binding("c", "clear_log", "Clear log", id="build.clear_log", tooltip="Empty the build log"),
        Binding("f", "toggle_follow", "Follow log", id="build.follow", tooltip="Keep the log scrolled to the end"),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dockerfile_path: Path | None = None
        self.dockerfile_text = ""
        self.build = BuildState()

    def compose(self) -> ComposeResult:
        yield Label("No build context open: layerlab tui CONTEXT", id="build-title")
        with VerticalScroll(id="dockerfile-scroll"):
            yield DockerfileView("", id="dockerfile-view")
        yield Label("", id="build-status")
        yield Log(id="build-log", max_lines=LOG_LINES_KEPT, auto_scroll=True)

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.redraw())

    def colours(self) -> dict[str, str]:
        variables = self.app.theme_variables
        colours = {mark: variables.get(f"gutter-{mark}", "") for mark in ("cached", "rebuilt", "running", "failed")}
        colours["base"] = "dim"
        return colours

    def redraw(self) -> None:
        view = self.query_one(DockerfileView)
        view.update(render_dockerfile(self.dockerfile_text, self.app.pygments_style, self.build, self.colours()))
        self.query_one("#build-status", Label).update(self.build.status)

    # -- the context -------------------------------------------------------------

    def show_dockerfile(self, path: Path, text: str) -> None:
        self.dockerfile_path = path
        self.dockerfile_text = text
        self.query_one("#build-title", Label).update(f"{path.parent.name}/{path.name}")
        self.redraw()

    @on(DockerfileChanged)
    def dockerfile_changed(self, message: DockerfileChanged) -> None:
        self.show_dockerfile(message.path, message.text)
        if message.changed:
            names = ", ".join(p.name for p in message.changed[:3])
            self.build.status = f"context changed: {names}"
            self.redraw()

    # -- the build stream ------------------------------------------------------------

    @on(BuildStarted)
    def build_started(self, message: BuildStarted) -> None:
        self.build = BuildState(previous_marks={s.line: s.mark for s in self.build.steps.values()},
                                status=f"building {message.target}…")
        self.query_one(Log).write_line(f"── build {message.target} ──")
        self.redraw()

    @on(StepStarted)
    def step_started(self, message: StepStarted) -> None:
        self.build.steps[message.step] = StepState(message.step, message.line, message.instruction)
        self.build.status = f"step {message.step}: {message.instruction}"
        self.redraw()

    @on(StepCached)
    def step_cached(self, message: StepCached) -> None:
        self.set_mark(message.step, "cached", message.reason)

    @on(StepRebuilt)
    def step_rebuilt(self, message: StepRebuilt) -> None:
        state = self.set_mark(message.step, "rebuilt", message.reason)
        if state is not None:
            state.flipped = self.build.previous_marks.get(state.line) == "cached"
            self.redraw()

    def set_mark(self, step: int, mark: str, reason: str) -> StepState | None:
        state = self.build.steps.get(step)
        if state is None:
            return None
        state.mark = mark
        state.reason = reason
        self.redraw()
        return state

    @on(StepFinished)
    def step_finished(self, message: StepFinished) -> None:
        state = self.build.steps.get(message.step)
        if state is not None:
            state.seconds = message.seconds
            state.size = message.size
            if state.mark == "running" and message.cache in FINISHED_MARKS:
                state.mark = FINISHED_MARKS[message.cache]
            self.redraw()

    @on(BuildFinished)
    def build_finished(self, message: BuildFinished) -> None:
        cached = sum(1 for s in self.build.steps.values() if s.mark == "cached")
        ref = message.image_ref
        shown = ref.split(":", 1)[1][:12] if ref.startswith("sha256:") else ref
        self.build.status = (f"built {shown} in {message.seconds:.1f}s: "
                             f"{cached} cached, {len(self.build.steps) - cached} rebuilt")
        self.redraw()

    @on(BuildFailed)
    def build_failed(self, message: BuildFailed) -> None:
        if message.step is not None:
            self.set_mark(message.step, "failed", message.message)
        self.build.status = f"build failed: {message.message}"
        self.redraw()

    @on(ContextChanged)
    def context_changed(self, message: ContextChanged) -> None:
        names = ", ".join(message.paths[:4]) + (" …" if len(message.paths) > 4 else "")
        what = "Dockerfile" if message.dockerfile_changed and not names else names
        self.build.status = f"changed: {what}; rebuilding…"
        self.query_one(Log).write_line(f"── changed: {what} ──")
        self.redraw()

    @on(StepsFlipped)
    def steps_flipped(self, message: StepsFlipped) -> None:
        """The engine's own comparison with the previous build replaces the panel's guess."""
        for state in self.build.steps.values():
            state.flipped = False
        for step, before, _reason in message.flips:
            state = self.build.steps.get(step)
            if state is not None:
                state.flipped = before == "hit"
        flipped = [str(step) for step, before, _ in message.flips if before == "hit"]
        if flipped:
            self.build.status += f"  ·  cached → rebuilt: step {', '.join(flipped)}"
        self.redraw()

    @on(BuildLogPending)
    def log_pending(self, message: BuildLogPending) -> None:
        lines = message.log.drain()
        if lines:
            self.query_one(Log).write_lines([f"#{step} {line}" for step, line in lines])
        if message.log.lines and not message.log.pending:
            # More arrived than one drain takes: come back after this refresh.
            message.log.pending = True
            self.post_message(BuildLogPending(message.log))

    def action_clear_log(self) -> None:
        self.query_one(Log).clear()

    def action_toggle_follow(self) -> None:
        log = self.query_one(Log)
        log.auto_scroll = not log.auto_scroll
        self.app.notify("following the log" if log.auto_scroll else "log paused at this position")
