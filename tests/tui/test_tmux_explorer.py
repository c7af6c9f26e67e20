"""The explorer in a real terminal (tmux) at 80x24 and 120x40: the keys as the terminal sends them
(Home, End, Tab, ?), the footer and the columns as drawn, History after the window is resized."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.tui.test_tmux import Tmux, tmux  # noqa: F401  (tmux is the fixture)

SIZES = [(80, 24), (120, 40)]


def start(tmux: Tmux, root: Path, tmp_path: Path, size: tuple[int, int]) -> None:
    tmux.start_app(root, tmp_path, size)
    tmux.wait_for("3 of 3 images")


def keys(tmux: Tmux, *names: str) -> None:
    for name in names:
        tmux.run("send-keys", "-t", "app", name)
        time.sleep(0.3)  # one key per refresh, as a person types


def footer(screen: str) -> str:
    return screen.rstrip("\n").splitlines()[-1]


def quit_app(tmux: Tmux) -> None:
    keys(tmux, "q")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and tmux.alive():
        time.sleep(0.2)
    assert not tmux.alive()


@pytest.mark.parametrize("size", SIZES)
def test_images_keys_footer_and_analysis_in_a_terminal(tmux: Tmux, store, root: Path, tmp_path: Path, size):
    start(tmux, root, tmp_path, size)
    screen = tmux.screen()
    assert "ago" in screen and "MB" in screen  # ages and the Size column, on screen at this width
    hints = footer(screen)
    assert hints.rstrip().endswith("^p palette")
    before_palette = hints[: hints.rindex("▏")].rstrip()
    assert before_palette.split()[-1] in {"Filter", "Sort", "Tag", "Remove", "Inspect", "Analyze", "Save", "Push",
                                          "images", "Reload", "Images", "History", "Files", "Build", "Help", "Quit"}
    keys(tmux, "End", "a")  # the last row (demo/app:latest), then its analysis
    screen = tmux.wait_for("efficiency (dive's score)")
    assert "demo/app:latest" in screen and "reclaimable bytes" in screen
    keys(tmux, "Escape")
    time.sleep(0.5)
    keys(tmux, "Home", "a")
    screen = tmux.wait_for("efficiency (dive's score)")
    assert "busybox:latest" in screen
    keys(tmux, "Escape")
    time.sleep(0.5)
    quit_app(tmux)


@pytest.mark.parametrize("size", SIZES)
def test_files_layer_list_and_columns_in_a_terminal(tmux: Tmux, store, root: Path, tmp_path: Path, size):
    start(tmux, root, tmp_path, size)
    keys(tmux, "Down", "Enter")  # demo/app:1.0
    tmux.wait_for("enter opens a layer")
    keys(tmux, "3")
    screen = tmux.wait_for("layer 0 changes")
    assert "mode" in screen and "owner" in screen and "0755" in screen
    keys(tmux, "Tab", "Down")
    screen = tmux.wait_for("layer 1 changes")
    assert "app/" in screen and "hello.py" not in screen  # app/ listed with its columns, still closed
    keys(tmux, "Down")
    screen = tmux.wait_for("layer 2 changes")
    keys(tmux, "Tab", "e")
    screen = tmux.wait_for("data.bin")
    row = next(line for line in screen.splitlines() if "─ data.bin" in line).split("─ data.bin", 1)[1]
    assert row.split()[0] == "D"  # removed by this layer: no mode, owner or size
    quit_app(tmux)


@pytest.mark.parametrize("size", SIZES)
def test_help_keys_as_typed_and_its_last_row_in_a_terminal(tmux: Tmux, store, root: Path, tmp_path: Path, size):
    start(tmux, root, tmp_path, size)
    keys(tmux, "?")
    screen = tmux.wait_for("app.help")
    row = next(line for line in screen.splitlines() if "app.help" in line)
    assert "?, f1" in row and "question_mark" not in screen
    keys(tmux, "End")
    screen = tmux.wait_for("build.all_steps")  # the last binding of the last panel
    keys(tmux, "Escape")
    time.sleep(0.5)
    quit_app(tmux)


def test_history_reflows_when_the_window_shrinks(tmux: Tmux, store, root: Path, tmp_path: Path):
    start(tmux, root, tmp_path, (120, 40))
    keys(tmux, "Down", "Enter")
    tmux.wait_for("enter opens a layer")
    tmux.run("resize-window", "-t", "app", "-x", "80", "-y", "24")
    deadline = time.monotonic() + 15
    header = ""
    while time.monotonic() < deadline:
        screen = tmux.screen()
        header = next((line for line in screen.splitlines() if "Created by" in line), "")
        if len(screen.splitlines()[0]) <= 80 and "Size" in header:
            break
        time.sleep(0.2)
    assert "Size" in header
    rows = [line for line in tmux.screen().splitlines() if "ago" in line]
    assert rows and all("B" in line.split("ago", 1)[1] for line in rows)  # each row's size is on screen
    quit_app(tmux)
