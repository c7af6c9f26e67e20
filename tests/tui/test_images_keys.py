"""Images as a lazydocker user drives it: Home/End, remove twice, untag said as such, `a`, the palette, ages.

Each runs at 80x24 and at 120x40.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import DataTable, Static

from layerlab.tui.screens.analysis import AnalysisScreen
from layerlab.tui.screens.dialogs import ConfirmScreen
from layerlab.tui.widgets.key_hints import KeyHints
from tests.tui.conftest import wait_for
from tests.tui.test_flow import plain

pytestmark = pytest.mark.anyio

SIZES = [(80, 24), (120, 40)]
REPO = Path(__file__).resolve().parents[2]


def refs(table: DataTable) -> list[str]:
    return [str(key.value) for key in table.rows]


def notes(app) -> list[str]:
    return [str(notification.message) for notification in app._notifications]


def cli(root: Path, *args: str) -> str:
    return subprocess.run([sys.executable, "-m", "layerlab", "--root", str(root), *args], check=True,
                          capture_output=True, text=True, cwd=REPO).stdout


@pytest.mark.parametrize("size", SIZES)
async def test_home_and_end_jump_to_the_first_and_last_image(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        table = app.query_one("#images-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        await pilot.press("end")
        assert table.cursor_row == 2
        await pilot.press("home")
        assert table.cursor_row == 0


@pytest.mark.parametrize("size", SIZES)
async def test_a_second_remove_acts_on_the_row_under_the_cursor(make_app, store, size):
    store.tag("busybox:latest", "zzz/last:1")  # a fourth row, sorted last
    app = make_app()
    async with app.run_test(size=size) as pilot:
        table = app.query_one("#images-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 4)
        assert refs(table) == ["busybox:latest", "demo/app:1.0", "demo/app:latest", "zzz/last:1"]
        table.move_cursor(row=1)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: table.row_count == 3)
        # Docker's rule: demo/app:latest still names the image, so only the tag went, and it says so.
        await wait_for(pilot, lambda: any(text.startswith("untagged demo/app:1.0") for text in notes(app)))
        assert table.cursor_row == 1 and refs(table)[1] == "demo/app:latest"
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "demo/app:latest" in str(app.screen.query_one("#confirm-question").content)
        await pilot.press("y")
        await wait_for(pilot, lambda: table.row_count == 2)
        await wait_for(pilot, lambda: any(text.startswith("removed demo/app:latest: deleted") for text in notes(app)))
        assert refs(table) == ["busybox:latest", "zzz/last:1"]
        assert table.cursor_row == 1  # the last row took the removed one's place


@pytest.mark.parametrize("size", SIZES)
async def test_a_opens_the_analysis_with_the_clis_numbers(make_app, root: Path, size):
    printed = cli(root, "analyze", "demo/app:1.0")
    app = make_app()
    async with app.run_test(size=size) as pilot:
        table = app.query_one("#images-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        table.move_cursor(row=1)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, AnalysisScreen))
        body = app.screen.query_one("#analysis-body", Static)
        await wait_for(pilot, lambda: "efficiency" in plain(body.content, size[0]))
        shown = plain(body.content, size[0])
        for line in printed.splitlines():
            # The summary lines: the same values, to the byte and the fourth decimal.
            if line.strip().startswith(("efficiency", "reclaimable bytes", "in your layers", "in base image")):
                label, value = line.split(":", 1)
                assert label.strip() in shown and value.strip() in shown, line
        assert "4.1kB" in printed and "4.1kB" in shown  # the binary a later RUN deletes
        assert "fix: files copied in and deleted later" in shown
        await pilot.press("escape")
        await wait_for(pilot, lambda: not isinstance(app.screen, AnalysisScreen))


@pytest.mark.parametrize("size", SIZES)
async def test_ages_and_sizes_are_the_clis(make_app, root: Path, size):
    printed = cli(root, "images")
    app = make_app()
    async with app.run_test(size=size) as pilot:
        table = app.query_one("#images-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        for key in table.rows:
            repository, tag = str(table.get_cell(key, "repository")), str(table.get_cell(key, "tag"))
            line = next(line for line in printed.splitlines() if line.split()[:2] == [repository, tag])
            assert str(table.get_cell(key, "created")) in line and line.endswith(str(table.get_cell(key, "size")))
        created = [str(table.get_cell(key, "created")) for key in table.rows]
        assert all(text.endswith(" ago") for text in created)
        # The Size column is on screen, not scrolled off to the right.
        size_column = table.get_column_index("size")
        assert sum(column.get_render_width(table) for column in table.ordered_columns[:size_column + 1]) <= size[0]


@pytest.mark.parametrize("size", SIZES)
async def test_the_palette_offers_every_images_action(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.query_one("#images-table", DataTable).row_count == 3)
        titles = {command.title for command in app.get_system_commands(app.screen)}
        assert {"Tag", "Remove", "Save", "Push", "Inspect", "Analyze", "Build", "Open context…"} <= titles
        app.query_one("#images-table", DataTable).move_cursor(row=1)
        await pilot.press("ctrl+p")
        await pilot.press(*"analyze")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, AnalysisScreen))
        assert app.screen.ref == "demo/app:1.0"


@pytest.mark.parametrize("size", SIZES)
async def test_the_footer_shows_whole_hints_only(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.query_one("#images-table", DataTable).row_count == 3)
        hints = app.query_one(KeyHints)
        for panel in ("1", "2", "3", "4"):
            await pilot.press(panel)
            await pilot.pause()
            text = str(hints.render())
            assert len(text) == size[0] and text.rstrip().endswith("^p palette")
            shown = text[: text.rindex("▏")].rstrip()
            descriptions = [hint[2] for hint in hints.hints]
            # Every word shown belongs to a whole hint: the text ends with one of the descriptions.
            assert any(shown.endswith(description) for description in descriptions), shown


@pytest.mark.parametrize("size", SIZES)
async def test_the_palette_opens_another_context(make_app, tmp_path: Path, size):
    from textual.widgets import Input

    from layerlab.tui.screens.dialogs import PromptScreen
    from layerlab.tui.widgets.dockerfile_view import DockerfileView

    context = tmp_path / "other"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo from-the-other-context\n")
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.query_one("#images-table", DataTable).row_count == 3)
        await pilot.press("ctrl+p")
        await pilot.press(*"open context")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        app.screen.query_one(Input).value = str(tmp_path / "missing")
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("missing/Dockerfile: no such file" in text for text in notes(app)))
        assert app.context is None
        await pilot.press("ctrl+p")
        await pilot.press(*"open context")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        app.screen.query_one(Input).value = str(context)
        await pilot.press("enter")
        view = app.query_one(DockerfileView)
        await wait_for(pilot, lambda: "from-the-other-context" in str(view.content))
        assert app.active_panel == "build" and app.sub_title == "other"
