"""Every screen at 80x24 and 120x40: History reflows, reasons wrap under their step, the Build split
follows the Dockerfile, status lines wrap at words, the help screen shows keys as typed, watch opens on Build."""

from __future__ import annotations

from pathlib import Path

import pytest
from rich.text import Text
from textual.widgets import DataTable, Label

from layerlab.engine import events
from layerlab.tui.messages import ImageSelected
from layerlab.tui.screens.help import HelpScreen
from layerlab.tui.widgets.build import BuildPanel
from layerlab.tui.widgets.dockerfile_view import DockerfileView
from tests.tui.buildhelpers import post_events, step_ref
from tests.tui.conftest import wait_for

pytestmark = pytest.mark.anyio

SIZES = [(80, 24), (120, 40)]
LONG_REASON = ("greeting.txt: content changed (sha256:1f2e3d4c5b6a → sha256:6a5b4c3d2e1f), "
               "mode 0644 → 0755, owner 0:0 → 1000:1000, and the build arg VERSION changed from 1.0 to 1.1")


def on_screen(table: DataTable, key: str) -> bool:
    """The column ``key`` ends inside the table's width (nothing to scroll to)."""
    index = table.get_column_index(key)
    return sum(column.get_render_width(table) for column in table.ordered_columns[:index + 1]) <= table.size.width


@pytest.fixture
def context(tmp_path: Path) -> Path:
    context = tmp_path / "hello"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nCOPY greeting.txt /\nRUN cat /greeting.txt\n")
    (context / "greeting.txt").write_text("hi\n")
    return context


async def test_history_reflows_when_the_terminal_is_resized(make_app):
    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        app.post_message(ImageSelected("demo/app:1.0"))
        table = app.query_one("#history-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 5)
        # The panel fits its columns once the rows are in: wait for that fit, not only for the rows.
        await wait_for(pilot, lambda: on_screen(table, "size") and on_screen(table, "bar"))
        wide = table.ordered_columns[table.get_column_index("created_by")].content_width
        await pilot.resize_terminal(80, 24)
        await wait_for(pilot, lambda: table.ordered_columns[table.get_column_index("created_by")].content_width < wide
                       or not any("…" in str(table.get_cell(key, "created_by")) for key in table.rows))
        await pilot.pause()
        assert on_screen(table, "size") and on_screen(table, "bar")
        assert table.size.width == 80
        await pilot.resize_terminal(120, 40)
        await pilot.pause(0.2)
        assert on_screen(table, "size") and on_screen(table, "bar")


@pytest.mark.parametrize("size", SIZES)
async def test_a_long_reason_wraps_under_its_own_step(make_app, context: Path, size):
    app = make_app(context=context)
    async with app.run_test(size=size) as pilot:
        await pilot.press("4")
        panel = app.query_one(BuildPanel)
        copy = step_ref(2, 2, "COPY greeting.txt /")
        post_events(panel, events.BuildStarted(dockerfile="Dockerfile", context="hello", steps=3),
                    events.StepStarted(copy), events.StepRebuilt(copy, LONG_REASON))
        view = app.query_one(DockerfileView)
        await wait_for(pilot, lambda: "1.1" in str(view.content))
        rows = str(view.content).split("\n")
        assert all(len(row) <= view.size.width for row in rows)
        copy_rows = [row for row, line in zip(rows, view.rows) if line == 2]
        assert len(copy_rows) > 1 and "COPY greeting.txt" in copy_rows[0]
        code_column = copy_rows[0].index("COPY")
        # Every continuation starts at the code's column, not back under the gutter at column 0.
        for row in copy_rows[1:]:
            assert row[:code_column].strip() == "" and row[code_column] != " "
        # A click on a wrapped row still picks the step it belongs to.
        await pilot.click("#dockerfile-view", offset=(code_column + 2, view.rows.index(2) + 1))
        await wait_for(pilot, lambda: panel.log_step == 2)


@pytest.mark.parametrize("size", SIZES)
async def test_the_build_split_follows_the_dockerfile(make_app, context: Path, size):
    app = make_app(context=context)
    async with app.run_test(size=size) as pilot:
        await pilot.press("4")
        view = app.query_one(DockerfileView)
        await wait_for(pilot, lambda: "COPY" in str(view.content))
        await pilot.pause()
        scroll, log = app.query_one("#dockerfile-scroll"), app.query_one("#build-log")
        assert scroll.size.height == 3  # three lines: no more
        assert log.size.height > scroll.size.height


@pytest.mark.parametrize("size", SIZES)
async def test_the_status_line_wraps_at_a_word(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await wait_for(pilot, lambda: app.query_one("#images-table", DataTable).row_count == 3)
        panel = app.query_one("#images-panel")
        panel.failure = "tag demo/app:1.0 as registry.example.invalid/a/very/long/repository/name:tag failed"
        panel.refill()
        await pilot.pause()
        status = app.query_one("#images-status", Label)
        text = str(status.content)
        # The line keeps inside the screen and wraps (at a space, as text does) instead of running off it.
        assert status.region.right <= size[0]
        needed = len(Text(text).wrap(app.console, status.size.width))
        assert status.size.height == needed and (needed > 1 or len(text) + 2 <= size[0])
        assert needed > 1 if size[0] == 80 else True


@pytest.mark.parametrize("size", SIZES)
async def test_help_shows_keys_as_typed_and_reaches_its_last_row(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        table = app.screen.query_one(DataTable)
        keys = {str(table.get_cell(key, "id")): str(table.get_cell(key, "keys")) for key in table.rows}
        assert keys["app.help"] == "?, f1" and keys["images.filter"] == "/" and keys["build.prev_step"] == "["
        assert not any("question_mark" in text or "slash" in text or "square" in text for text in keys.values())
        await pilot.press("end")
        assert table.cursor_row == table.row_count - 1
        await pilot.pause()
        # The last row is inside the visible part of the table.
        assert table.scroll_offset.y + table.scrollable_content_region.height > table.row_count
        title = app.screen.query_one(".document-title", Label)
        assert "[keymap]" in str(title.render())
        await pilot.press("home")
        assert table.cursor_row == 0


@pytest.mark.parametrize("size", SIZES)
async def test_watch_opens_on_the_build_panel(make_app, context: Path, size):
    app = make_app(context=context, watch=True)
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        assert app.active_panel == "build" and app.focused is app.query_one("#build-log")


@pytest.mark.parametrize("size", SIZES)
async def test_the_log_keeps_following_when_the_dockerfile_grows(make_app, context: Path, size):
    from textual.widgets import Log

    from layerlab.tui.messages import EngineEventBridge

    app = make_app(context=context)
    async with app.run_test(size=size) as pilot:
        await pilot.press("4")
        panel = app.query_one(BuildPanel)
        log = app.query_one("#build-log", Log)
        run = step_ref(3, 3, "RUN cat /greeting.txt")
        bridge = EngineEventBridge(panel)
        bridge(events.BuildStarted(dockerfile="Dockerfile", context="hello", steps=3))
        bridge(events.StepStarted(run))
        for number in range(200):
            bridge(events.StepLog(run, "stdout", f"output line {number}"))
        await wait_for(pilot, lambda: log.line_count >= 200)
        await pilot.pause()
        assert log.is_vertical_scroll_end
        height = log.size.height
        # A long reason wraps: the Dockerfile takes more rows and the log fewer, still showing its end.
        bridge(events.StepRebuilt(run, LONG_REASON))
        await wait_for(pilot, lambda: log.size.height < height)
        await pilot.pause()
        assert log.is_vertical_scroll_end
