"""SVG snapshots of the panels at a fixed terminal size (update with --snapshot-update)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input

from layerlab.tui.app import LayerlabApp
from layerlab.tui.messages import BuildFinished, BuildStarted, LayerSelected, StepCached, StepRebuilt, StepStarted
from layerlab.tui.widgets.build import BuildPanel
from layerlab.tui.widgets.file_tree import LayerTree
from layerlab.tui.catalog import FileEntry

SIZE = (120, 40)


async def settle(pilot, condition) -> None:
    for _ in range(250):
        if condition():
            break
        await pilot.pause(0.02)
    await pilot.pause(0.1)
    for widget in pilot.app.query(Input):
        widget.cursor_blink = False


def node(tree: LayerTree, path: str):
    stack = [tree.root]
    while stack:
        current = stack.pop()
        if isinstance(current.data, FileEntry) and current.data.path == path:
            return current
        stack.extend(current.children)
    return None


def test_images_panel(snap_compare, plain_catalog, config):
    app = LayerlabApp(plain_catalog, config=config)

    async def loaded(pilot):
        await settle(pilot, lambda: app.query_one("#images-table", DataTable).row_count == 2)

    assert snap_compare(app, terminal_size=SIZE, run_before=loaded)


def test_files_panel_with_preview(snap_compare, plain_catalog, config):
    app = LayerlabApp(plain_catalog, config=config)

    async def preview(pilot):
        app.post_message(LayerSelected("demo/app:1.0", 1))
        tree = app.query_one(LayerTree)
        await settle(pilot, lambda: node(tree, "app") is not None and "waste:" in str(
            app.query_one("#waste-summary").content) and "computing" not in str(app.query_one("#waste-summary").content))
        node(tree, "app").expand()
        await pilot.pause()
        tree.focus()
        tree.move_cursor(node(tree, "app/hello.py"))
        await settle(pilot, lambda: "import" in str(getattr(app.query_one("#file-preview").content, "code", "")))

    assert snap_compare(app, terminal_size=SIZE, run_before=preview)


def test_build_panel_marks(snap_compare, plain_catalog, config, tmp_path: Path):
    context = tmp_path / "hello"
    context.mkdir()
    (context / "Dockerfile").write_text('FROM plain:1\nCOPY hello.txt /hello.txt\nRUN cat /hello.txt\nCMD ["sh"]\n')
    app = LayerlabApp(plain_catalog, config=config, context=context)

    async def built(pilot):
        await pilot.press("4")
        panel = app.query_one(BuildPanel)
        panel.post_message(BuildStarted("hello"))
        panel.post_message(StepStarted(1, 1, "FROM plain:1"))
        panel.post_message(StepCached(1))
        panel.post_message(StepStarted(2, 2, "COPY hello.txt /hello.txt"))
        panel.post_message(StepRebuilt(2, "file hello.txt changed"))
        panel.post_message(StepStarted(3, 3, "RUN cat /hello.txt"))
        panel.post_message(StepRebuilt(3, "parent rebuilt"))
        panel.post_message(BuildFinished("hello:latest", 0.5))
        await settle(pilot, lambda: "built" in str(app.query_one("#build-status").content))

    assert snap_compare(app, terminal_size=SIZE, run_before=built)


def test_help_screen_high_contrast(snap_compare, plain_catalog, config):
    app = LayerlabApp(plain_catalog, config=config, theme="high-contrast")
    assert snap_compare(app, terminal_size=SIZE, press=["question_mark", "_"])
