"""SVG snapshots of the panels at a fixed terminal size (update with --snapshot-update)."""

from __future__ import annotations

from pathlib import Path

from textual.widgets import DataTable, Input

from layerlab.tui.app import LayerlabApp
from layerlab.engine import events
from layerlab.tui.messages import LayerSelected
from layerlab.tui.widgets.build import BuildPanel
from layerlab.tui.widgets.file_tree import LayerTree
from layerlab.tui.catalog import FileEntry
from tests.tui.buildhelpers import cached, finished, post_events, step_ref

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
        # The waste list is drawn (a renderable, no longer the "computing…" text).
        await settle(pilot, lambda: node(tree, "app") is not None
                     and not isinstance(app.query_one("#waste-summary").content, str))
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
    plain_catalog.store.tag("plain:1", "hello:latest")  # the image the events below say was built
    app = LayerlabApp(plain_catalog, config=config, context=context)

    async def built(pilot):
        await pilot.press("4")
        panel = app.query_one(BuildPanel)
        base, copy, run = step_ref(1, 1, "FROM plain:1"), step_ref(2, 2, "COPY hello.txt /hello.txt"), \
            step_ref(3, 3, "RUN cat /hello.txt")
        post_events(panel, events.BuildStarted(dockerfile="Dockerfile", context="hello", steps=3),
                    events.StepStarted(base), cached(base),
                    events.StepStarted(copy), events.StepRebuilt(copy, "file hello.txt changed"),
                    events.StepStarted(run), events.StepRebuilt(run, "parent rebuilt"),
                    finished("hello:latest", 0.5))
        await settle(pilot, lambda: "built" in str(app.query_one("#build-status").content))

    assert snap_compare(app, terminal_size=SIZE, run_before=built)


def test_help_screen_high_contrast(snap_compare, plain_catalog, config):
    app = LayerlabApp(plain_catalog, config=config, theme="high-contrast")
    assert snap_compare(app, terminal_size=SIZE, press=["question_mark", "_"])
