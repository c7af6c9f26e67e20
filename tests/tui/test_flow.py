"""Pilot tests: the panels and the main flow image -> layer -> file preview."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from rich.syntax import Syntax
from rich.text import Text
from textual.widgets import DataTable, Input, Static, TabbedContent

from layerlab.tui.messages import ImageSelected, LayerSelected
from layerlab.tui.widgets.file_tree import LayerTree
from layerlab.tui.widgets.files import FilesPanel
from layerlab.tui.catalog import FileEntry

pytestmark = pytest.mark.anyio

SIZE = (120, 40)


def column(table: DataTable, key: str) -> list[str]:
    return [str(table.get_cell(row_key, key)) for row_key in table.rows]


async def wait_for(pilot, condition, tries: int = 200) -> None:
    """Let workers finish: pause until ``condition()`` holds (fails the test if it never does)."""
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition never became true")


def plain(renderable, width: int = 100) -> str:
    """What a renderable shows, as text."""
    from rich.console import Console

    console = Console(width=width, color_system=None, record=True, file=io.StringIO())
    console.print(renderable)
    return console.export_text()


def find_node(tree: LayerTree, path: str):
    stack = [tree.root]
    while stack:
        node = stack.pop()
        if isinstance(node.data, FileEntry) and node.data.path == path:
            return node
        stack.extend(node.children)
    return None


async def test_images_panel_lists_filters_and_sorts(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one("#images-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        assert column(table, "repository") == ["busybox", "demo/app", "demo/app"]
        assert sorted(column(table, "tag")) == ["1.0", "latest", "latest"]
        await pilot.press("slash", "d", "e", "m")
        assert app.query_one("#image-filter", Input).value == "dem"
        assert column(table, "repository") == ["demo/app", "demo/app"]
        await pilot.press("enter")  # leaves the filter for the table
        assert app.focused is table
        await pilot.press("s")  # repository -> created
        assert app.query_one("#images-panel").sort_key == "created"


async def test_enter_on_image_opens_history_with_dimmed_empty_layer(make_app):
    app = make_app()
    messages = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        table = app.query_one("#images-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        await pilot.press("slash", *"1.0", "enter")  # filter, then back to the table
        assert table.row_count == 1
        await pilot.press("enter")
        assert any(isinstance(m, ImageSelected) and m.ref == "demo/app:1.0" for m in messages)
        assert app.query_one(TabbedContent).active == "history"
        history = app.query_one("#history-table", DataTable)
        await wait_for(pilot, lambda: history.row_count == 5)
        created_by = column(history, "created_by")
        assert created_by[2] == "COPY app /app # buildkit"
        env_cell = history.get_cell("3", "created_by")
        assert isinstance(env_cell, Text) and env_cell.style == "dim"
        bars = column(history, "bar")
        assert bars[0] and bars[2] and not bars[1]  # layers have bars, the CMD entry none


async def test_image_to_layer_to_file_preview(make_app):
    app = make_app()
    messages = []
    async with app.run_test(size=SIZE, message_hook=messages.append) as pilot:
        app.post_message(ImageSelected("demo/app:1.0"))
        history = app.query_one("#history-table", DataTable)
        await wait_for(pilot, lambda: history.row_count == 5)
        history.focus()
        history.move_cursor(row=2)  # COPY app /app
        await pilot.press("enter")
        assert any(isinstance(m, LayerSelected) and m.layer_index == 1 for m in messages)
        assert app.query_one(TabbedContent).active == "files"
        tree = app.query_one(LayerTree)
        await wait_for(pilot, lambda: find_node(tree, "app") is not None)
        app_dir = find_node(tree, "app")
        assert find_node(tree, "app/hello.py") is None  # not loaded until opened
        app_dir.expand()
        await pilot.pause()
        hello = find_node(tree, "app/hello.py")
        assert hello is not None and hello.data.change == "added"
        assert find_node(tree, "etc/passwd") is None
        find_node(tree, "etc").expand()
        await pilot.pause()
        assert find_node(tree, "etc/passwd").data.change == "modified"
        tree.focus()
        tree.move_cursor(hello)
        preview = app.query_one("#file-preview", Static)
        await wait_for(pilot, lambda: isinstance(preview.content, Syntax))
        assert preview.content.code.startswith("import sys")
        assert preview.content.lexer.name == "Python"


async def test_binary_preview_removed_files_and_waste(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.post_message(LayerSelected("demo/app:1.0", 1))
        tree = app.query_one(LayerTree)
        await wait_for(pilot, lambda: find_node(tree, "app") is not None)
        find_node(tree, "app").expand()
        await pilot.pause()
        tree.move_cursor(find_node(tree, "app/data.bin"))
        preview = app.query_one("#file-preview", Static)
        await wait_for(pilot, lambda: "binary" in str(preview.content))
        assert "00000000  00 01 02 03" in str(preview.content)
        waste = app.query_one("#waste-summary", Static)
        await wait_for(pilot, lambda: "app/data.bin" in plain(waste.content))
        assert "RUN /bin/sh -c rm /app/data.bin" not in plain(waste.content)  # the instruction that shipped it
        assert "COPY app /app" in plain(waste.content)
        # The top layer removes the binary; hiding removed files empties its tree.
        app.post_message(LayerSelected("demo/app:1.0", 2))
        await wait_for(pilot, lambda: [e.change for e in tree.index.children.get("app", [])] == ["removed"])
        find_node(tree, "app").expand()
        await pilot.pause()
        assert find_node(tree, "app/data.bin").data.change == "removed"
        tree.focus()
        await pilot.press("R")
        await wait_for(pilot, lambda: find_node(tree, "app") is None)


async def test_stacked_view_and_extract(make_app, tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        files = app.query_one(FilesPanel)
        app.post_message(LayerSelected("demo/app:1.0", 2))
        tree = app.query_one(LayerTree)
        await wait_for(pilot, lambda: find_node(tree, "app") is not None)
        tree.focus()
        await pilot.press("v")
        await wait_for(pilot, lambda: files.stacked and find_node(tree, "bin") is not None)
        find_node(tree, "app").expand()
        await pilot.pause()
        assert find_node(tree, "app/hello.py") is not None
        # Removed by the top layer: listed, marked removed, as dive's aggregated view shows this layer's changes.
        assert find_node(tree, "app/data.bin").data.change == "removed"
        assert find_node(tree, "app/hello.py").data.change == ""  # added lower down: not this layer's change
        tree.move_cursor(find_node(tree, "app/hello.py"))
        await pilot.press("x")
        await pilot.press("enter")  # accept the suggested name
        await wait_for(pilot, lambda: (tmp_path / "hello.py").exists())
        assert (tmp_path / "hello.py").read_bytes().startswith(b"import sys")


async def test_escape_leaves_the_image_filter(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one("#images-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.focused, Input))
        await pilot.press(*"busy")
        await wait_for(pilot, lambda: table.row_count == 1)
        await pilot.press("escape")
        await wait_for(pilot, lambda: table.row_count == 3)
        assert app.focused is table and app.query_one("#image-filter", Input).value == ""
