"""Every lesson end to end in a real terminal: tmux runs `layerlab tui`, L opens the lessons, each is
opened, its first build fills the cache, p predicts the edit, e makes it, b builds, and the check
says the marks came out as the lesson says."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from layerlab.engine.api.lessons import load_lessons
from tests.peers import need_program
from tests.tui.test_tmux import Tmux, tmux  # noqa: F401  (the fixture)

LESSONS = load_lessons()
# Each lesson at one of the two sizes the app is checked at, alternating.
CASES = [(index, lesson.id, (120, 40) if index % 2 == 0 else (80, 24)) for index, lesson in enumerate(LESSONS)]


def keys(tmux: Tmux, *names: str) -> None:
    tmux.run("send-keys", "-t", "app", *names)


def joined(screen: str) -> str:
    """The screen with wrapped lines joined and runs of spaces closed, for text that may wrap."""
    return " ".join(" ".join(screen.split()).split())


def wait_for_text(tmux: Tmux, text: str, timeout: float = 90) -> str:
    """Like ``Tmux.wait_for``, for text the screen may wrap over two lines (the lesson's step line)."""
    deadline = time.monotonic() + timeout
    screen = ""
    while time.monotonic() < deadline:
        screen = tmux.screen()
        if text in joined(screen) or text in screen:
            return screen
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never appeared; screen was:\n{screen}")


@pytest.mark.parametrize("index,lesson_id,size", CASES, ids=[case[1] for case in CASES])
def test_lesson_runs_end_to_end(tmux: Tmux, store, root: Path, tmp_path: Path, index: int, lesson_id: str,
                                size: tuple[int, int]):
    need_program("runc")
    lesson = LESSONS[index]
    tmux.start_app(root, tmp_path, size)
    tmux.wait_for("demo/app")
    keys(tmux, "L")
    wait_for_text(tmux, f"{index + 1}. {lesson.title}"[:30])
    for _ in range(index):
        keys(tmux, "Down")
    # The highlighted lesson is shown beside the list: its edit, what to expect, the README.
    wait_for_text(tmux, f"Lesson: {lesson.title}"[:24])   # what fits on one row beside the list at 80×24
    assert "The edit:" in tmux.screen()
    keys(tmux, "Enter")
    screen = wait_for_text(tmux, "2/3 Now:")   # the first build filled the cache
    assert lesson.dockerfile in screen
    keys(tmux, "p")
    wait_for_text(tmux, "predicted (nothing built)")
    keys(tmux, "e")
    wait_for_text(tmux, "Edit made:")
    keys(tmux, "b")
    screen = wait_for_text(tmux, "3/3 ")
    assert "3/3 ✓ As the lesson says" in screen, screen
    keys(tmux, "Escape")
    wait_for_text(tmux, "Lessons: each sample context")   # back on the list
    keys(tmux, "Escape")
    tmux.wait_for("demo/app")
    keys(tmux, "q")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and tmux.alive():
        time.sleep(0.2)
    assert not tmux.alive()
