"""The Files panel as a dive user expects it, at 80x24 and 120x40.

The layer list beside the tree (arrowing moves the tree), the aggregated view
with the layer's changes marked, expand/collapse all, mode/owner/size columns,
hiding unmodified paths, search results opened, a search per image, toggles
that keep what was open, and extract that keeps the mode.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from textual.widgets import Input

from layerlab.tui.messages import ImageSelected, LayerSelected
from layerlab.tui.widgets.file_tree import LayerTree
from layerlab.tui.widgets.files import FilesPanel
from layerlab.tui.widgets.layer_list import LayerList
from tests.tui.conftest import wait_for
from tests.tui.test_flow import find_node

pytestmark = pytest.mark.anyio

SIZES = [(80, 24), (120, 40)]


async def open_files(app, pilot, ref: str = "demo/app:1.0", layer: int = 1) -> tuple[FilesPanel, LayerTree]:
    app.post_message(LayerSelected(ref, layer))
    files, tree = app.query_one(FilesPanel), app.query_one(LayerTree)
    await wait_for(pilot, lambda: files.layer_index == layer and tree.index.children
                   and "loading" not in str(app.query_one("#files-title").content))
    return files, tree


@pytest.mark.parametrize("size", SIZES)
async def test_arrowing_through_the_layer_list_moves_the_tree_and_keeps_it_open(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        files, tree = await open_files(app, pilot, layer=1)
        layers = app.query_one(LayerList)
        assert [str(key.value) for key in layers.rows] == ["0", "1", "2"]  # every layer, numbered from 0
        assert layers.cursor_row == 1
        find_node(tree, "app").expand()
        await pilot.pause()
        tree.focus()
        tree.move_cursor(find_node(tree, "app/hello.py"))
        await pilot.press("tab")
        assert app.focused is layers
        await pilot.press("down")
        await wait_for(pilot, lambda: files.layer_index == 2 and find_node(tree, "app/data.bin") is not None)
        # The top layer removes the binary; the directory opened on layer 1 is still open on layer 2.
        assert find_node(tree, "app/data.bin").data.change == "removed"
        assert find_node(tree, "app").is_expanded
        await pilot.press("up", "up")
        await wait_for(pilot, lambda: files.layer_index == 0 and find_node(tree, "bin") is not None)
        assert "layer 0 changes" in str(app.query_one("#files-title").content)
        await pilot.press("tab")
        assert app.focused is tree


@pytest.mark.parametrize("size", SIZES)
async def test_aggregated_view_marks_the_layers_changes_and_hides_unmodified(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        files, tree = await open_files(app, pilot, layer=1)
        tree.focus()
        await pilot.press("v")
        await wait_for(pilot, lambda: files.stacked and find_node(tree, "bin") is not None)
        for path in ("app", "etc"):
            find_node(tree, path).expand()
        await pilot.pause()
        assert find_node(tree, "app/hello.py").data.change == "added"
        assert find_node(tree, "etc/passwd").data.change == "modified"
        assert find_node(tree, "bin").data.change == ""  # busybox's, untouched by this layer
        title = str(app.query_one("#files-title").content)
        assert "layer 1 aggregated" in title and "unmodified" in title
        await pilot.press("U")
        await wait_for(pilot, lambda: find_node(tree, "bin") is None)
        # Only the layer's changes are left, and what was open stays open.
        assert find_node(tree, "app/hello.py") is not None and find_node(tree, "etc/passwd") is not None
        assert "unmodified (hidden)" in str(app.query_one("#files-title").content)


@pytest.mark.parametrize("size", SIZES)
async def test_expand_all_and_collapse_all(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        files, tree = await open_files(app, pilot, ref="busybox:latest", layer=0)
        tree.focus()
        await pilot.press("e")
        await wait_for(pilot, lambda: find_node(tree, "bin/busybox") is not None)
        assert find_node(tree, "bin").is_expanded and find_node(tree, "etc").is_expanded
        await pilot.press("c")
        await pilot.pause()
        assert not any(node.is_expanded for node in tree.root.children)
        assert tree.cursor_node is tree.root


@pytest.mark.parametrize("size", SIZES)
async def test_mode_owner_and_size_columns_end_at_the_right_edge(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        files, tree = await open_files(app, pilot, ref="busybox:latest", layer=0)
        find_node(tree, "bin").expand()
        await pilot.pause()
        busybox = find_node(tree, "bin/busybox")
        entry = busybox.data
        label = tree.render_label(busybox, tree.rich_style, tree.rich_style).plain
        assert label.split()[-4:] == ["A", f"{entry.mode & 0o7777:04o}", f"{entry.uid}:{entry.gid}",
                                      label.split()[-1]]
        assert entry.mode & 0o777 == 0o755 and label.endswith("MB")  # the size column, as the CLI prints it
        # Name and columns fit the tree's width at this depth (nothing scrolls off to the right), and the
        # columns end at the same place one level up.
        assert 2 * tree.guide_depth + len(label) <= tree.size.width
        etc = tree.render_label(find_node(tree, "etc"), tree.rich_style, tree.rich_style).plain
        assert len(etc) - len(label) == tree.guide_depth and " 0755 " in etc
        header = str(app.query_one("#tree-header").content)
        assert "mode" in header and "owner" in header and "size" in header


@pytest.mark.parametrize("size", SIZES)
async def test_search_opens_every_match_and_belongs_to_its_image(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        files, tree = await open_files(app, pilot, layer=1)
        tree.focus()
        await pilot.press("slash")
        await wait_for(pilot, lambda: isinstance(app.focused, Input))
        await pilot.press(*"hello", "enter")
        # The match is on screen without opening its directory by hand.
        await wait_for(pilot, lambda: find_node(tree, "app/hello.py") is not None)
        assert find_node(tree, "app").is_expanded and find_node(tree, "etc") is None
        app.post_message(ImageSelected("busybox:latest"))
        await wait_for(pilot, lambda: files.ref == "busybox:latest" and files.layer_index == 0
                       and find_node(tree, "bin") is not None)
        assert files.search.value == ""  # another image: the search was demo/app's
        app.post_message(LayerSelected("demo/app:1.0", 1))
        await wait_for(pilot, lambda: files.ref == "demo/app:1.0" and find_node(tree, "app/hello.py") is not None)
        assert files.search.value == "hello"


@pytest.mark.parametrize("size", SIZES)
async def test_toggles_keep_what_was_open_and_the_cursor(make_app, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        files, tree = await open_files(app, pilot, layer=1)
        find_node(tree, "app").expand()
        await pilot.pause()
        tree.focus()
        tree.move_cursor(find_node(tree, "app/hello.py"))
        for key in ("z", "M", "z", "M"):
            before = tree.index
            await pilot.press(key)
            await wait_for(pilot, lambda: tree.index is not before)
            await pilot.pause()
            assert find_node(tree, "app").is_expanded, key
            assert tree.cursor_node is find_node(tree, "app/hello.py"), key


@pytest.mark.parametrize("size", SIZES)
async def test_extract_keeps_the_mode(make_app, tmp_path: Path, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        files, tree = await open_files(app, pilot, ref="busybox:latest", layer=0)
        find_node(tree, "bin").expand()
        await pilot.pause()
        tree.focus()
        tree.move_cursor(find_node(tree, "bin/busybox"))
        await pilot.press("x")
        await wait_for(pilot, lambda: isinstance(app.focused, Input))
        app.focused.value = str(tmp_path / "busybox")
        old_umask = os.umask(0o077)  # the image's mode, not one the umask leaves
        try:
            await pilot.press("enter")
            await wait_for(pilot, lambda: any("extracted /bin/busybox" in str(n.message) for n in app._notifications))
        finally:
            os.umask(old_umask)
        assert stat.S_IMODE((tmp_path / "busybox").stat().st_mode) == 0o755
        assert (tmp_path / "busybox").read_bytes()[:4] == b"\x7fELF"
