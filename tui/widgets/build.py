"""The Build panel: the Dockerfile highlighted, a gutter of cache marks, and the build log.

It renders the engine's build events (each in an ``EngineEvent`` message) and decides
nothing itself: which step was cached or rebuilt, and why, comes in the
messages. Between builds it remembers the last marks, so a rebuild shows
which steps flipped, cached → rebuilt or rebuilt → cached; a cached step whose
inputs changed in a way that does not count says why beside it (touched only,
restored).

A step is named by its Dockerfile line everywhere in the panel (the gutter's
numbers, the log's ``line 4`` prefix, the status line, the reasons the engine
gives), never by a step count. The log can show one step's lines only: ``[``
and ``]`` (or a click on a Dockerfile line) pick the step, ``a`` shows every
step again. The panel keeps the lines itself and writes to the log widget only while it is on
screen, so a build flooding its log costs nothing while another panel is
in view.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.widget import Widget
from textual.widgets import Label, Log

from layerlab.engine import events as engine_events
from layerlab.engine.api.building import buildkit_notes
from layerlab.engine.oci.digest import short_id
from layerlab.tui.messages import BuildLogPending, DockerfileChanged, EngineEvent, built_ref
from layerlab.tui.widgets.build_state import BuildState, StepState
from layerlab.tui.widgets.prediction import PREDICT_BINDINGS, PREDICTION_COLOURS, ShowsPredictions
from layerlab.tui.widgets.following_log import FollowingLog
from layerlab.tui.widgets.dockerfile_view import MARKS, DockerfileView, line_name, render_dockerfile

__all__ = ["BuildPanel", "DockerfileView", "MARKS", "line_name", "render_dockerfile"]

FINISHED_MARKS = {"hit": "cached", "miss": "rebuilt", "base": "base"}
LOG_LINES_KEPT = 20_000
# Lines taken per drain: small enough that a flood never holds a key back for long (each drain runs
# on the UI thread), large enough that a drain keeps up with any build.
LOG_LINES_PER_DRAIN = 1000


class BuildPanel(ShowsPredictions, Vertical):
    BINDINGS = [
        Binding("b", "app.build_context", "Build", id="build.start", tooltip="Build the open context now"),
        Binding("c", "clear_log", "Clear log", id="build.clear_log", tooltip="Empty the build log"),
        Binding("f", "toggle_follow", "Follow log", id="build.follow", tooltip="Keep the log scrolled to the end"),
        Binding("left_square_bracket", "select_step(-1)", "Previous step's log", id="build.prev_step",
                tooltip="Show only the previous step's log lines", show=False),
        Binding("right_square_bracket", "select_step(1)", "Step log", id="build.next_step",
                tooltip="Show only the next step's log lines ([ for the previous one)"),
        Binding("a", "show_all_steps", "All steps", id="build.all_steps", tooltip="Show every step's log lines"),
        Binding("o", "app.build_options", "Options", id="build.options",
                tooltip="The context, its Dockerfile, build args, target and --no-cache"),
        *PREDICT_BINDINGS,
        Binding("k", "toggle_buildkit_view", "BuildKit view", id="build.buildkit_view",
                tooltip="Show or hide where BuildKit would build a line differently", show=False),
    ]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.dockerfile_path: Path | None = None
        self.dockerfile_text = ""
        self.build = BuildState()
        self.log_lines: deque[tuple[int | None, str]] = deque(maxlen=LOG_LINES_KEPT)  # None: a separator
        self.unwritten: deque[str] = deque(maxlen=LOG_LINES_KEPT)  # shown lines not yet in the log widget
        self.log_step: int | None = None  # the step whose lines the log shows alone; None shows all
        self.flags = ""  # the build's options as `build` flags, shown beside the Dockerfile's name
        self.buildkit_view = True  # notes where BuildKit would build a line differently
        self.buildkit_notes: dict[int, str] = {}

    def compose(self) -> ComposeResult:
        yield Label("No build context open: layerlab tui CONTEXT", id="build-title")
        with VerticalScroll(id="dockerfile-scroll"):
            yield DockerfileView("", id="dockerfile-view")
        yield Label("", id="build-status")
        yield FollowingLog(id="build-log", max_lines=LOG_LINES_KEPT, auto_scroll=True)

    def on_mount(self) -> None:
        self.app.theme_changed_signal.subscribe(self, lambda _theme: self.redraw())

    def colours(self) -> dict[str, str]:
        variables = self.app.theme_variables
        colours = {mark: variables.get(f"gutter-{mark}", "") for mark in ("cached", "rebuilt", "running", "failed")}
        colours["base"] = "dim"
        colours.update({mark: variables.get(name, "") for mark, name in PREDICTION_COLOURS.items()})
        colours["would-keep"] += " dim"
        return colours

    def redraw(self) -> None:
        view = self.query_one(DockerfileView)
        selected = self.build.steps.get(self.log_step) if self.log_step is not None else None
        view.show(render_dockerfile(self.dockerfile_text, self.app.pygments_style, self.build, self.colours(),
                                    selected.line if selected else None,
                                    self.buildkit_notes if self.buildkit_view else None))
        status = self.build.status
        if selected is not None:
            status += f"  ·  log: {self.step_name(selected.step)} only ({selected.instruction[:40]}); a shows all"
        self.query_one("#build-status", Label).update(status)

    # -- the context -------------------------------------------------------------

    def show_dockerfile(self, path: Path, text: str) -> None:
        if self.dockerfile_path is not None and path != self.dockerfile_path:
            self.build = BuildState()  # another Dockerfile: the old marks say nothing of its lines
        elif self.dockerfile_text and text != self.dockerfile_text:
            self.build.follow_edit(self.dockerfile_text, text)
        if text != self.dockerfile_text or path != self.dockerfile_path:
            self.buildkit_notes = buildkit_notes(text, path.name)
        self.dockerfile_path = path
        self.dockerfile_text = text
        title = f"{path.parent.name}/{path.name}" + (f"  {self.flags}" if self.flags else "")
        self.query_one("#build-title", Label).update(title)
        self.redraw()

    @on(DockerfileChanged)
    def dockerfile_changed(self, message: DockerfileChanged) -> None:
        self.show_dockerfile(message.path, message.text)
        if message.changed:
            names = ", ".join(p.name for p in message.changed[:3])
            self.build.status = f"context changed: {names}"
            self.redraw()

    # -- the build stream ------------------------------------------------------------

    @on(EngineEvent)
    def engine_event(self, message: EngineEvent) -> None:
        match message.event:
            case engine_events.BuildStarted() as event:
                self.build_started(event.target or event.context)
            case engine_events.StepStarted(step=step):
                self.build.steps[step.index] = StepState(step.index, step.dockerfile_line, step.instruction)
                self.build.status = f"{self.step_name(step.index)}: {step.instruction}"
                self.redraw()
            case engine_events.StepCached(step=step) as event:
                # As BuildKit's plain output: the step's log says it was CACHED, and from which record.
                self.add_log_lines([(step.index, f"CACHED {event.reason}".rstrip())])
                self.step_cached(step.index, event.causes)
            case engine_events.StepRebuilt(step=step) as event:
                self.step_rebuilt(step.index, event.reason)
            case engine_events.StepFinished() as event:
                self.step_finished(event)
            case engine_events.StepFailed(step=step) as event:
                self.add_log_lines([(step.index, f"failed: {event.error}")])
                self.set_mark(step.index, "failed", event.error)
            case engine_events.BuildFinished() as event:
                self.build_finished(built_ref(event), event.duration)
            case engine_events.BuildFailed() as event:
                self.build_failed(event.step.index if event.step else None, event.error, event.dockerfile_line)
            case engine_events.WatchIgnored() as event:
                names = ", ".join(event.paths[:4]) + (" …" if len(event.paths) > 4 else "")
                self.build.status = f"changed: {names}; ignored by .dockerignore: no rebuild"
                self.add_log_lines([(None, f"── {self.build.status} ──")])
                self.redraw()
            case engine_events.WatchChange() as event:
                self.context_changed(event.paths, event.dockerfile_changed)
            case engine_events.WatchRebuilt() as event:
                self.steps_flipped(event)

    def reread_dockerfile(self) -> None:
        """Show the Dockerfile as the build about to run reads it.

        Read here, in event order, rather than waiting for the context watcher: its news may come
        after the build's (it can start late, or lag), and a parse error's line is a line of this text.
        """
        if self.dockerfile_path is None:
            return
        try:
            text = self.dockerfile_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return  # the context watcher says what is wrong with the file
        self.show_dockerfile(self.dockerfile_path, text)

    def build_started(self, target: str) -> None:
        self.forget_prediction()
        self.reread_dockerfile()
        self.build = BuildState(previous_marks={s.line: s.mark for s in self.build.steps.values()},
                                status=f"building {target}…")
        if self.log_step is not None:
            self.show_step_log(None)  # a new build's steps may not match the old numbers
        self.add_log_lines([(None, f"── build {target} ──")])
        self.redraw()

    def step_rebuilt(self, step: int, reason: str) -> None:
        self.add_log_lines([(step, f"rebuilt: {reason}")])
        state = self.set_mark(step, "rebuilt", reason)
        if state is not None:
            state.flip = "cached → rebuilt" if self.build.previous_marks.get(state.line) == "cached" else ""
            self.redraw()

    def step_cached(self, step: int, notes: tuple[engine_events.Cause, ...]) -> None:
        # Beside the line only what a person may wonder about: a change that did not count.
        texts = [note.text for note in notes]
        shown = "; ".join(texts[:2]) + (f" +{len(texts) - 2} more" if len(texts) > 2 else "")
        state = self.set_mark(step, "cached", shown)
        if state is not None:
            state.flip = "rebuilt → cached" if self.build.previous_marks.get(state.line) == "rebuilt" else ""
            self.redraw()

    def set_mark(self, step: int, mark: str, reason: str) -> StepState | None:
        state = self.build.steps.get(step)
        if state is None:
            return None
        state.mark = mark
        state.reason = reason
        self.redraw()
        return state

    def step_finished(self, event: engine_events.StepFinished) -> None:
        state = self.build.steps.get(event.step.index)
        if state is None:
            return
        state.seconds = event.duration
        state.size = event.layer_size or None
        if event.reused_files:
            self.add_log_lines([(event.step.index, engine_events.reused_words(event.reused_files))])
        # a FROM is neither cached nor built: the engine reports it as a hit on its base image
        words = event.step.instruction.split(None, 1)
        cache = "base" if words and words[0].upper() == "FROM" else event.cache
        if state.mark == "running" and cache in FINISHED_MARKS:
            state.mark = FINISHED_MARKS[cache]
        self.redraw()

    def build_finished(self, ref: str, seconds: float) -> None:
        marks = [s.mark for s in self.build.steps.values()]
        shown = short_id(ref) if ref.startswith("sha256:") else ref
        self.build.status = (f"built {shown} in {seconds:.1f}s: "
                             f"{marks.count('cached')} cached, {marks.count('rebuilt')} rebuilt")
        # The log keeps every build's outcome: the status line shows only the last one, and a watch
        # rebuild may follow at once.
        self.add_log_lines([(None, f"── {self.build.status} ──")])
        self.redraw()

    def build_failed(self, step: int | None, error: str, line: int = 0) -> None:
        if step is not None:
            self.set_mark(step, "failed", error)
        elif line:
            # No step ran (the Dockerfile did not parse): the gutter marks the line the error names.
            self.build.failed_line, self.build.failure = line, error
        self.build.status = f"build failed: {error}"
        self.add_log_lines([(None, f"── {self.build.status} ──")])
        self.redraw()

    def context_changed(self, paths: tuple[str, ...], dockerfile_changed: bool) -> None:
        if dockerfile_changed:
            self.reread_dockerfile()
        names = ", ".join(paths[:4]) + (" …" if len(paths) > 4 else "")
        what = "Dockerfile" if dockerfile_changed and not names else names
        self.build.status = f"changed: {what}; rebuilding…"
        self.add_log_lines([(None, f"── changed: {what} ──")])
        self.redraw()

    def steps_flipped(self, event: engine_events.WatchRebuilt) -> None:
        """The engine's own comparison with the previous build replaces the panel's guess; then what
        changed, and whether it counted."""
        for state in self.build.steps.values():
            state.flip = ""
        flips = {"cached → rebuilt": [], "rebuilt → cached": []}
        for flip in event.flipped:
            state = self.build.steps.get(flip.step.index)
            kind = {("hit", "miss"): "cached → rebuilt", ("miss", "hit"): "rebuilt → cached"}.get(
                (flip.before, flip.after))
            if state is not None and kind is not None:
                state.flip = kind
                flips[kind].append(self.step_name(flip.step.index).removeprefix("line "))
        for kind, lines in flips.items():
            if lines:
                self.build.status += f"  ·  {kind}: line{'s' if len(lines) > 1 else ''} {', '.join(lines)}"
        uncounted = [cause.text for cause in event.changes if cause.kind in ("touched", "restored", "unused")]
        if uncounted:
            rebuilt = any(flip.after == "miss" for flip in event.flipped)
            verdict = "; ".join(uncounted[:2]) + (f" +{len(uncounted) - 2} more" if len(uncounted) > 2 else "")
            verdict += "" if rebuilt else ": no step rebuilt"
            self.build.status += f"  ·  {verdict}"
            self.add_log_lines([(None, f"── {verdict} ──")])
        self.redraw()

    @on(BuildLogPending)
    def log_pending(self, message: BuildLogPending) -> None:
        lines = message.log.drain(LOG_LINES_PER_DRAIN)
        if lines:
            self.keep_log_lines([(step, f"{line_name(step, line)}  {text}") for step, line, text in lines])
        if message.log.lines and not message.log.pending:
            # More arrived than one drain takes: come back after this refresh.
            message.log.pending = True
            self.post_message(BuildLogPending(message.log))

    # -- the log ---------------------------------------------------------------------

    def add_log_lines(self, lines: list[tuple[int | None, str]]) -> None:
        """Log ``(step, text)`` lines (step None: a separator), each step's named by its line."""
        self.keep_log_lines([(step, text if step is None else f"{self.step_name(step)}  {text}")
                             for step, text in lines])

    def keep_log_lines(self, lines: list[tuple[int | None, str]]) -> None:
        """Log lines as shown, with the step each belongs to (for the one-step filter)."""
        self.log_lines.extend(lines)
        wanted = self.log_step
        self.unwritten.extend(text for step, text in lines if wanted is None or step is None or step == wanted)
        if self.on_screen():
            self.write_unwritten()

    def step_name(self, step: int) -> str:
        """``line 4``: a step as the gutter shows it."""
        state = self.build.steps.get(step)
        return line_name(step, state.line if state is not None else 0)

    def write_unwritten(self) -> None:
        if self.unwritten:
            lines = list(self.unwritten)
            self.unwritten.clear()
            self.query_one(Log).write_lines(lines)

    def on_screen(self) -> bool:
        """False while another panel is in view (the log widget then need not keep up)."""
        node = self
        while isinstance(node, Widget):
            if not node.display:
                return False
            node = node.parent
        return True

    def on_show(self, _event: events.Show) -> None:
        self.write_unwritten()

    def refill_log(self) -> None:
        """Write the log again from the kept lines, as the step filter asks."""
        self.query_one(Log).clear()
        self.unwritten.clear()
        lines = list(self.log_lines)
        self.log_lines.clear()
        self.keep_log_lines(lines)

    def action_select_step(self, offset: int) -> None:
        steps = sorted(self.build.steps)
        if not steps:
            self.app.notify("no build steps yet: b builds", severity="warning")
            return
        if self.log_step in steps:
            index = max(0, min(len(steps) - 1, steps.index(self.log_step) + offset))
        else:
            index = 0 if offset > 0 else len(steps) - 1
        self.show_step_log(steps[index])

    def show_step_log(self, step: int | None) -> None:
        self.log_step = step
        self.refill_log()
        self.redraw()

    def action_show_all_steps(self) -> None:
        self.show_step_log(None)

    @on(DockerfileView.LineClicked)
    def line_clicked(self, message: DockerfileView.LineClicked) -> None:
        state = self.build.by_line().get(message.line)
        if state is not None:
            self.show_step_log(None if self.log_step == state.step else state.step)

    def action_toggle_buildkit_view(self) -> None:
        self.buildkit_view = not self.buildkit_view
        self.redraw()
        self.app.notify("BuildKit's view: notes where BuildKit would build a line differently"
                        if self.buildkit_view else "BuildKit's view hidden")

    def action_clear_log(self) -> None:
        self.log_lines.clear()
        self.unwritten.clear()
        self.query_one(Log).clear()

    def action_toggle_follow(self) -> None:
        log = self.query_one(Log)
        log.auto_scroll = not log.auto_scroll
        self.app.notify("following the log" if log.auto_scroll else "log paused at this position")
