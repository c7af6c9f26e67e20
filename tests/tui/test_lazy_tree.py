"""A 100,000-file layer: the index is built off the UI thread and the tree fills only what is opened."""

from __future__ import annotations

import pytest
from textual.app import App, ComposeResult

from layerlab.tui.widgets.file_tree import PAGE, FileIndex, LayerTree, MoreNode
from layerlab.tui.catalog import FileEntry

pytestmark = pytest.mark.anyio


def big_layer() -> list[FileEntry]:
    """100 directories of 500 files, and one flat directory of 50,000 (no directory entries listed)."""
    entries = [FileEntry(f"usr/share/d{d:03}/f{f:04}", "file", 10, 0o644, "added")
               for d in range(100) for f in range(500)]
    entries += [FileEntry(f"flat/file{f:05}", "file", 1, 0o644, "added") for f in range(50_000)]
    return entries


class TreeApp(App[None]):
    def compose(self) -> ComposeResult:
        yield LayerTree()


def test_index_implies_directories_and_sums_sizes():
    index = FileIndex.build(big_layer())
    assert index.file_count == 100_000
    assert [e.path for e in index.children[""]] == ["flat", "usr"]
    assert index.dir_sizes["usr/share"] == 100 * 500 * 10
    assert index.dir_sizes[""] == 500_000 + 50_000
    by_size = FileIndex.build(big_layer(), by_size=True)
    assert [e.path for e in by_size.children[""]] == ["usr", "flat"]


async def test_hundred_thousand_files_populate_lazily():
    index = FileIndex.build(big_layer())
    app = TreeApp()
    async with app.run_test(size=(100, 30)) as pilot:
        tree = app.query_one(LayerTree)
        tree.show_index(index, {})
        await pilot.pause()
        assert tree.node_count() == 3  # root, flat/, usr/
        usr = tree.root.children[1]
        usr.expand()
        await pilot.pause()
        share = usr.children[0]
        assert share.data.path == "usr/share" and not share.children
        share.expand()
        await pilot.pause()
        assert len(share.children) == 100
        flat = tree.root.children[0]
        flat.expand()
        await pilot.pause()
        assert len(flat.children) == PAGE + 1  # one page, then "… more"
        more = flat.children[-1]
        assert isinstance(more.data, MoreNode) and more.data.start == PAGE
        tree.move_cursor(more)
        tree.focus()
        await pilot.press("enter")
        assert len(flat.children) == 2 * PAGE + 1
        assert tree.node_count() < 1500  # of 100,103 entries
