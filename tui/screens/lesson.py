"""One lesson, worked end to end: the sample's README beside its build, the edit to make, the check.

1. Opening copies the sample afresh (``ROOT/lessons/ID``) and builds it with the lesson's
   Dockerfile and build args: that fills the cache.
2. The lesson names the edit. ``p`` predicts it first (nothing is built); ``e`` makes it (or make
   it yourself in the copy, with any editor); ``b`` builds again.
3. The second build's marks are checked against the lesson's ``lesson.toml``: the line below the
   build says whether they came out as the lesson says, and names any line that did not.

Builds go through the catalog's ``build_request``, as every build of the app goes through the
engine's build API; ``r`` starts the lesson again from a fresh copy.
"""

from __future__ import annotations

from pathlib import Path

from rich.markdown import Markdown
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Label, Static

from layerlab.engine.api.building import Built
from layerlab.engine.api.lessons import Lesson, LessonMark, apply_change, check, open_workspace, predicted_change
from layerlab.engine.builder.request import BuildRequest
from layerlab.engine.errors import LayerlabError
from layerlab.tui.messages import EngineEvent, EngineEventBridge
from layerlab.tui.screens.lessons import LeavesForPanels, expected_text, lesson_summary
from layerlab.tui.widgets.build import BuildPanel
from layerlab.tui.widgets.key_hints import KeyHints


class LessonBuildPanel(BuildPanel):
    """The Build panel, its build, predict and escape keys the lesson's own."""

    BINDINGS = [
        Binding("b", "screen.build", "Build", id="lesson.build", tooltip="Build the lesson's copy now"),
        Binding("e", "screen.make_edit", "Make the edit", id="lesson.edit", tooltip="Make the lesson's edit for you"),
        Binding("p", "screen.predict", "Predict", id="lesson.predict",
                tooltip="Show which steps the lesson's edit would rebuild, without building"),
        Binding("r", "screen.restart", "Restart", id="lesson.restart", tooltip="Start again from a fresh copy"),
        Binding("escape", "app.pop_screen", "Lessons", id="lesson.back", tooltip="Back to the list of lessons"),
        # The panel's other keys work as on the Build panel, out of the footer to leave room for the lesson's.
        *(Binding(key, action, description, show=False) for key, action, description in (
            ("c", "clear_log", "Clear log"), ("f", "toggle_follow", "Follow log"),
            ("right_square_bracket", "select_step(1)", "Step log"), ("a", "show_all_steps", "All steps"))),
        Binding("o", "screen.options", "Options", show=False),
    ]


class LessonScreen(LeavesForPanels, Screen[None]):
    BINDINGS = LeavesForPanels.BINDINGS
    DEFAULT_CSS = """
    LessonScreen #lesson-readme { width: 2fr; height: 1fr; padding: 0 1; border-right: solid $panel; }
    LessonScreen LessonBuildPanel { width: 3fr; height: 1fr; }
    LessonScreen #lesson-step { width: 1fr; height: auto; padding: 0 1; background: $boost; }
    """

    def __init__(self, lesson: Lesson) -> None:
        super().__init__()
        self.lesson = lesson
        self.workspace: Path | None = None
        self.builds = 0            # builds of this copy so far: the first fills the cache, later ones are checked
        self.edited = False

    def compose(self) -> ComposeResult:
        with Horizontal():
            with VerticalScroll(id="lesson-readme"):
                yield Static(Markdown(lesson_summary(self.lesson)), id="lesson-text")
            yield LessonBuildPanel(id="lesson-build")
        yield Label(f"{self.lesson.title}: copying the sample…", id="lesson-step")
        yield KeyHints()

    @property
    def panel(self) -> LessonBuildPanel:
        return self.query_one(LessonBuildPanel)

    def on_mount(self) -> None:
        self.query_one("#build-log").focus()
        self.start()

    def say(self, text: str) -> None:
        self.query_one("#lesson-step", Label).update(text)

    # -- the steps -------------------------------------------------------------------

    def request(self) -> BuildRequest:
        assert self.workspace is not None
        args = self.lesson.args_after() if self.edited else dict(self.lesson.build_args)
        return BuildRequest(context_dir=self.workspace, dockerfile=self.lesson.dockerfile, build_args=args,
                            tags=[f"lesson-{self.lesson.id}:latest"])

    @work(thread=True, exclusive=True, exit_on_error=False, group="lesson-build", description="lesson build")
    def start(self) -> None:
        """A fresh copy of the sample, then its first build."""
        try:
            workspace = open_workspace(self.lesson, self.app.catalog.lesson_root())  # type: ignore[attr-defined]
            dockerfile = workspace / self.lesson.dockerfile
            text = dockerfile.read_text(encoding="utf-8")
        except (LayerlabError, OSError) as error:
            self.app.call_from_thread(self.say, f"cannot open the lesson: {_text(error)}")
            return
        self.app.call_from_thread(self.opened, workspace, dockerfile, text)
        self.run_build()

    def opened(self, workspace: Path, dockerfile: Path, text: str) -> None:
        self.workspace, self.builds, self.edited = workspace, 0, False
        self.panel.show_dockerfile(dockerfile, text)
        self.say(f"1/3 Building {self.lesson.dockerfile} to fill the cache…")

    def run_build(self) -> None:
        """Build the copy (in the calling worker thread); the outcome lands in ``built``."""
        try:
            result = self.app.catalog.build_with(self.request(), EngineEventBridge(self.panel))  # type: ignore
        except LayerlabError as error:
            self.app.call_from_thread(self.say, f"the build failed: {error.one_line()}  ·  r starts again")
            return
        self.app.call_from_thread(self.built, result)

    def built(self, result: Built) -> None:
        self.builds += 1
        if self.builds == 1:
            self.say(f"2/3 Now: {self.lesson.edit}  ·  p predicts it, e makes it (or edit {self.workspace}), "
                     "then b builds")
            return
        marks = [LessonMark(step.step.dockerfile_line, step.cache, step.reason) for step in result.steps]
        problems = check(self.lesson, marks)
        if problems:
            self.say("3/3 ✗ Not as the lesson says: " + "; ".join(problems) + "  ·  r starts again")
        else:
            self.say(f"3/3 ✓ As the lesson says: {expected_text(self.lesson)}  ·  r starts again, escape picks another")

    def action_build(self) -> None:
        if self.workspace is None:
            return
        if self.builds >= 1 and not self.edited:
            self.say(f"building without the lesson's edit ({self.lesson.change.describe()}): e makes it")
        self.build_again()

    @work(thread=True, exclusive=True, exit_on_error=False, group="lesson-build", description="lesson build")
    def build_again(self) -> None:
        self.run_build()

    def action_make_edit(self) -> None:
        if self.workspace is None or self.builds < 1:
            self.say("wait for the first build: the edit is checked against it")
            return
        done = apply_change(self.lesson, self.workspace)
        self.edited = True
        self.say(f"2/3 Edit made: {done}  ·  p predicts, b builds and checks the marks")

    def action_predict(self) -> None:
        if self.workspace is None or self.builds < 1:
            self.say("wait for the first build: a prediction reads its cache")
            return
        request = self.request()
        if self.lesson.change.build_arg:
            request.build_args = dict(self.lesson.build_args)   # the change itself supplies the new value
        self.panel.predict(request, predicted_change(self.lesson))

    def action_options(self) -> None:
        self.say(f"a lesson builds with its own options ({self.lesson.dockerfile}"
                 + "".join(f", {k}={v}" for k, v in self.request().build_args.items()) + "): o works on the Build panel")

    def action_restart(self) -> None:
        self.panel.forget_prediction()
        self.start()

    @on(EngineEvent)
    def keep_build_here(self, message: EngineEvent) -> None:
        # The lesson's build is this screen's: the app's panels (Images, History) need not follow it.
        message.stop()


def _text(error: BaseException) -> str:
    return error.one_line() if isinstance(error, LayerlabError) else str(error)
