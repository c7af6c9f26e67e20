"""Every failure says its cause, visibly and for long enough: Images actions, extract, a vanished image."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Label

from layerlab.tui.app import LayerlabApp
from layerlab.tui.catalog import StoreCatalog
from layerlab.tui.messages import ImageSelected, LayerSelected
from layerlab.tui.widgets.file_tree import LayerTree
from tests.tui.test_flow import find_node, wait_for
from tests.tui.test_images_actions import build_store  # noqa: F401  (a fixture)

pytestmark = pytest.mark.anyio

SIZE = (120, 40)


def notices(app) -> list[str]:
    return [str(notification.message) for notification in app._notifications]


def status(app) -> str:
    return str(app.query_one("#images-status", Label).content)


async def select_row(pilot, table: DataTable, predicate) -> None:
    for index, key in enumerate(table.rows):
        if predicate(key.value):
            table.move_cursor(row=index)
            await pilot.pause()
            return
    raise AssertionError("no such row")


async def test_removing_an_image_with_children_says_why(build_store, root: Path, config):  # noqa: F811
    app = LayerlabApp(StoreCatalog(build_store, root), config=config)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one("#images-table", DataTable)
        await wait_for(pilot, lambda: table.row_count > 0)
        await pilot.press("A")  # intermediate images too: they have children
        panel = app.query_one("#images-panel")
        await wait_for(pilot, lambda: table.row_count > 3)
        intermediate = next(row.ref for row in panel.rows if row.intermediate)
        await select_row(pilot, table, lambda ref: ref == intermediate)
        rows_before = table.row_count
        await pilot.press("d", "y")
        await wait_for(pilot, lambda: "dependent child images" in status(app))
        assert any("changing the store failed" in text and "dependent child images" in text for text in notices(app))
        assert table.row_count == rows_before  # nothing was removed


async def test_an_invalid_tag_says_why(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one("#images-table", DataTable)
        await wait_for(pilot, lambda: table.row_count > 0)
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.focused, Input))
        await pilot.press(*"Bad Tag", "enter")
        await wait_for(pilot, lambda: "invalid reference format" in status(app))
        assert any("'Bad Tag'" in text for text in notices(app))


async def test_extract_into_a_missing_folder_says_which(make_app, tmp_path: Path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.post_message(LayerSelected("demo/app:1.0", 1))
        tree = app.query_one(LayerTree)
        await wait_for(pilot, lambda: find_node(tree, "app") is not None)
        find_node(tree, "app").expand()
        await pilot.pause()
        tree.focus()
        tree.move_cursor(find_node(tree, "app/hello.py"))
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.focused, Input))
        prompt = app.focused
        prompt.value = str(tmp_path / "missing" / "hello.py")
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("extracting failed" in text for text in notices(app)))
        text = next(text for text in notices(app) if "extracting failed" in text)
        assert f"{tmp_path / 'missing'}: no such directory" in text


async def test_history_and_files_of_an_image_removed_elsewhere_say_so(make_app, catalog):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one("#images-table", DataTable)
        await wait_for(pilot, lambda: table.row_count > 0)
        catalog.store.remove("demo/app:latest")
        catalog.store.remove("demo/app:1.0")  # as another process would: the app still lists it
        app.post_message(ImageSelected("demo/app:1.0"))
        title = app.query_one("#history-title", Label)
        await wait_for(pilot, lambda: "demo/app:1.0" in str(title.content) and "loading" not in str(title.content))
        assert "demo/app:1.0" in str(title.content) and "no such image" in str(title.content).lower()
        waste = app.query_one("#waste-summary")
        await wait_for(pilot, lambda: "waste:" in str(waste.content) and "computing" not in str(waste.content))
        assert "no such image" in str(waste.content).lower()
