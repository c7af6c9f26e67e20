"""The lesson screens under Pilot: the list, a lesson built, and a check that fails when the edit is skipped."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerlab.engine.api.lessons import load_lessons
from layerlab.tui.screens.lesson import LessonScreen
from layerlab.tui.screens.lessons import LessonsScreen
from tests.peers import need_program
from tests.tui.buildhelpers import SIZE, wait_for

pytestmark = pytest.mark.anyio


def step_text(app) -> str:
    return str(app.screen.query_one("#lesson-step").content)


async def test_skipping_the_edit_fails_the_check_and_names_the_lines(make_app, root: Path):
    need_program("runc")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("L")
        await wait_for(pilot, lambda: isinstance(app.screen, LessonsScreen) and app.screen.lessons)
        assert [lesson.id for lesson in app.screen.lessons] == [lesson.id for lesson in load_lessons()]
        await pilot.press("enter")   # the first lesson: hello
        await wait_for(pilot, lambda: isinstance(app.screen, LessonScreen) and step_text(app).startswith("2/3"))
        workspace = root / "lessons" / "hello"
        assert (workspace / "greeting.txt").read_text() == "Hello from layerlab!\n"   # a fresh copy
        await pilot.press("b")        # no edit made: every step stays cached, which the lesson does not expect
        await wait_for(pilot, lambda: step_text(app).startswith("3/3"))
        text = step_text(app)
        assert text.startswith("3/3 ✗ Not as the lesson says")
        assert "line 4: expected rebuilt, came out cached" in text
        await pilot.press("r")        # again from a fresh copy, this time with the edit
        await wait_for(pilot, lambda: step_text(app).startswith("2/3"))
        await pilot.press("e")
        assert (workspace / "greeting.txt").read_text() == "Hello again from layerlab!\n"
        await pilot.press("b")
        await wait_for(pilot, lambda: step_text(app).startswith("3/3"))
        assert step_text(app).startswith("3/3 ✓ As the lesson says: lines 4, 5, 6 rebuilt, line 3 cached")
        # The panel keys leave the lesson for the panels.
        await pilot.press("1")
        await wait_for(pilot, lambda: not isinstance(app.screen, (LessonScreen, LessonsScreen)))
        assert app.active_panel == "images"
