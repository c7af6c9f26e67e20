"""The Lessons screen: every sample context's lessons, the highlighted one's README beside the list.

Enter opens the lesson (``LessonScreen``): a fresh copy of its sample, built with the lesson's
Dockerfile and build args, the README beside the build, the edit to make, and a check of the marks.
"""

from __future__ import annotations

from rich.markdown import Markdown
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.screen import Screen
from textual.widgets import Label, OptionList, Static
from textual.widgets.option_list import Option

from layerlab.engine.api.lessons import Lesson, load_lessons
from layerlab.engine.errors import LayerlabError
from layerlab.tui.widgets.key_hints import KeyHints


def expected_text(lesson: Lesson) -> str:
    """``lines 4, 5, 6 rebuilt, line 3 cached``: the marks the lesson expects after its edit."""
    parts = []
    for lines, word in ((lesson.rebuilt, "rebuilt"), (lesson.cached, "cached")):
        if lines:
            parts.append(f"line{'s' if len(lines) > 1 else ''} {', '.join(map(str, lines))} {word}")
    return ", ".join(parts) or "no change"


def lesson_summary(lesson: Lesson) -> str:
    """The README's text, then what the lesson asks and what it expects, as Markdown."""
    args = " ".join(f"--build-arg {k}={v}" for k, v in lesson.build_args.items())
    built = f"`{lesson.dockerfile}`" + (f" with `{args}`" if args else "")
    return (f"**Lesson: {lesson.title}.** Builds {built}.\n\n**The edit:** {lesson.edit}\n\n"
            f"**Expect:** {expected_text(lesson)}.\n\n---\n\n{lesson.readme().rstrip()}")


class LeavesForPanels:
    """The panel keys (1-4) from a lesson screen: back to the panels, on the one asked for."""

    BINDINGS = [*(Binding(str(number), f"leave_for_panel('{panel}')", panel.title(), show=False)
                  for number, panel in enumerate(("images", "history", "files", "build"), start=1)),
                Binding("L", "back_to_lessons", "Lessons", show=False)]

    def action_back_to_lessons(self) -> None:
        app = self.app  # type: ignore[attr-defined]
        while not isinstance(app.screen, LessonsScreen) and isinstance(app.screen, LeavesForPanels):
            app.pop_screen()

    def action_leave_for_panel(self, panel: str) -> None:
        app = self.app  # type: ignore[attr-defined]
        while isinstance(app.screen, LeavesForPanels):
            app.pop_screen()
        app.action_show_panel(panel)


class LessonsScreen(LeavesForPanels, Screen[None]):
    DEFAULT_CSS = """
    LessonsScreen #lessons-list { width: 38; height: 1fr; }
    LessonsScreen #lessons-readme { width: 1fr; height: 1fr; padding: 0 1; border-left: solid $panel; }
    LessonsScreen #lessons-title { height: auto; padding: 0 1; color: $text-muted; }
    """
    BINDINGS = [
        *LeavesForPanels.BINDINGS,
        Binding("escape", "app.pop_screen", "Back", id="lessons.back", tooltip="Back to the panels"),
        Binding("enter", "open_lesson", "Open lesson", id="lessons.open", show=True,
                tooltip="Build the lesson's sample and walk through its edit"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.lessons: list[Lesson] = []

    def compose(self) -> ComposeResult:
        yield Label("Lessons: each sample context teaches one thing about layers and the build cache",
                    id="lessons-title")
        with Horizontal():
            yield OptionList(id="lessons-list")
            with VerticalScroll(id="lessons-readme"):
                yield Static("", id="lessons-text")
        yield KeyHints()

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self.load()

    @work(thread=True, exit_on_error=False, group="lessons", description="reading the lessons")
    def load(self) -> None:
        try:
            lessons = load_lessons()
        except LayerlabError as error:
            self.app.call_from_thread(self.query_one("#lessons-text", Static).update, error.one_line())
            return
        self.app.call_from_thread(self.show_lessons, lessons)

    def show_lessons(self, lessons: list[Lesson]) -> None:
        self.lessons = lessons
        options = self.query_one(OptionList)
        for number, lesson in enumerate(lessons, start=1):
            options.add_option(Option(f"{number}. {lesson.title}", id=lesson.id))
        if lessons:
            options.highlighted = 0

    @on(OptionList.OptionHighlighted, "#lessons-list")
    def highlighted(self, event: OptionList.OptionHighlighted) -> None:
        lesson = self.lesson(event.option.id)
        if lesson is not None:
            self.query_one("#lessons-text", Static).update(Markdown(lesson_summary(lesson)))

    @on(OptionList.OptionSelected, "#lessons-list")
    def selected(self, event: OptionList.OptionSelected) -> None:
        self.open(event.option.id)

    def action_open_lesson(self) -> None:
        options = self.query_one(OptionList)
        if options.highlighted is not None:
            self.open(options.get_option_at_index(options.highlighted).id)

    def lesson(self, lesson_id: str | None) -> Lesson | None:
        return next((lesson for lesson in self.lessons if lesson.id == lesson_id), None)

    def open(self, lesson_id: str | None) -> None:
        from layerlab.tui.screens.lesson import LessonScreen

        lesson = self.lesson(lesson_id)
        if lesson is not None:
            self.app.push_screen(LessonScreen(lesson))
