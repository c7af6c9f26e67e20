"""The Files panel, as dive lays it out: the image's layers beside the tree of the chosen layer's files.

Arrowing through the layer list moves the tree with it, keeping what was
open. ``v`` switches between the layer's own changes and the aggregated tree
(everything as of that layer, its changes marked in place); a search opens
every directory with a match. Preview and extract are in ``file_preview``.
"""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Input, Label, Static, Tree

from layerlab.engine.record_type import record
from layerlab.tui.screens.analysis import AnalysisScreen
from layerlab.tui.task_errors import ReportsTaskFailures
from layerlab.tui.widgets.file_preview import FilePreview
from layerlab.tui.widgets.file_tree import COLUMNS_HEADER, SCROLLBAR_ROOM, FileIndex, LayerTree, TreeState
from layerlab.tui.widgets.layer_list import LayerList
from layerlab.tui.catalog import (FileEntry, WasteRow, aggregated_entries, human_size, instruction_of_layer,
                                 layer_changes, waste)

CHANGES = ("added", "modified", "removed")
UNMODIFIED = ""  # the change of a path the layer did not touch (aggregated view)


def visible_entries(entries: list[FileEntry], hidden: set[str], needle: str) -> list[FileEntry]:
    needle = needle.lower()
    return [e for e in entries
            if e.change not in hidden and (not needle or needle in e.path.lower())]


class FilesPanel(ReportsTaskFailures, Horizontal):
    BINDINGS = [
        Binding("tab", "switch_pane", "Layers/tree", id="files.switch_pane",
                tooltip="Move between the layer list and the file tree"),
        Binding("v", "toggle_view", "Changes/aggregated", id="files.toggle_view",
                tooltip="Switch between this layer's changes and the whole tree as of this layer, its changes marked"),
        Binding("slash", "focus_search", "Search", id="files.search", tooltip="Show only paths containing text"),
        Binding("e", "expand_all", "Expand all", id="files.expand_all", tooltip="Open every directory"),
        Binding("c", "collapse_all", "Collapse all", id="files.collapse_all", tooltip="Close every directory"),
        Binding("A", "toggle_change('added')", "Hide added", id="files.hide_added", tooltip="Hide added files"),
        Binding("M", "toggle_change('modified')", "Hide modified", id="files.hide_modified",
                tooltip="Hide modified files"),
        Binding("R", "toggle_change('removed')", "Hide removed", id="files.hide_removed",
                tooltip="Hide removed files"),
        Binding("U", "toggle_change('')", "Hide unmodified", id="files.hide_unmodified",
                tooltip="Hide what this layer did not touch (aggregated view)"),
        Binding("z", "toggle_size_sort", "Sort by size", id="files.sort_size", tooltip="Largest first"),
        Binding("a", "analyze", "Analyze", id="files.analyze", show=False,
                tooltip="Efficiency, wasted and reclaimable bytes, the worst offenders and their fixes"),
        Binding("x", "extract", "Extract", id="files.extract",
                tooltip="Copy the selected file or directory out, modes kept (docker cp)"),
    ]

    @record
    class EntriesLoaded(Message):
        key: tuple
        entries: list[FileEntry]
        instruction: str

    @record
    class IndexReady(Message):
        key: tuple
        index: FileIndex
        searched: bool

    @record
    class WasteReady(Message):
        ref: str
        rows: list[WasteRow]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.ref: str | None = None
        self.layer_index: int | None = None
        self.stacked = False
        self.by_size = False
        self.hidden: set[str] = set()
        self.entries: list[FileEntry] = []
        self.instruction = ""
        self.searches: dict[str, str] = {}  # each image keeps its own search
        self.kept_state: TreeState | None = None  # what the tree had open before the current reload

    def compose(self) -> ComposeResult:
        with Vertical(id="files-left"):
            yield LayerList(id="layer-list")
            yield Static("", id="waste-summary")
        with Vertical(id="files-right"):
            yield Label("Choose an image in Images (enter)", id="files-title")
            yield Label("", id="files-instruction")
            yield Input(placeholder="search paths  (/)", id="file-search")
            yield Label(COLUMNS_HEADER + " " * SCROLLBAR_ROOM, id="tree-header")
            yield LayerTree(id="file-tree")
            yield FilePreview(id="file-preview-panel")

    @property
    def tree(self) -> LayerTree:
        return self.query_one(LayerTree)

    @property
    def search(self) -> Input:
        return self.query_one("#file-search", Input)

    def colours(self) -> dict[str, str]:
        variables = self.app.theme_variables
        return {change: variables.get(f"layer-{change}", "") for change in CHANGES}

    # -- what is shown --------------------------------------------------------

    def show_image(self, ref: str, again: bool = False) -> None:
        """A new image: its layers, its waste; the tree follows the layer list's cursor.
        ``again``: the name may now be another image (a rebuild moved the tag), read it afresh."""
        if ref == self.ref and not again:
            return
        if self.ref is not None:
            self.searches[self.ref] = self.search.value
        kept_layer = self.layer_index if ref == self.ref else None  # a rebuild: stay on the same layer
        self.ref = ref
        self.layer_index = None
        self.kept_state = None
        with self.search.prevent(Input.Changed):  # the new image's own search; no reload for the old one
            self.search.value = self.searches.get(ref, "")
        self.query_one("#waste-summary", Static).update("waste: computing…")
        self.query_one(LayerList).show_image(ref, kept_layer, again=again)
        self.load_waste(ref)

    def show_layer(self, ref: str, layer_index: int) -> None:
        self.show_image(ref)
        self.query_one(LayerList).show_image(ref, layer_index)

    @on(LayerList.Chosen)
    def layer_chosen(self, message: LayerList.Chosen) -> None:
        if message.ref != self.ref or message.layer_index == self.layer_index:
            return
        self.layer_index = message.layer_index
        self.query_one(FilePreview).clear()
        self.reload()

    def task_failed(self, group: str, text: str) -> None:
        # Said where the result was awaited, so no "loading…" is left standing.
        if group in ("files", "layers"):
            self.query_one("#files-title", Label).update(f"{self.ref}: {text}")
        elif group == "waste":
            self.query_one("#waste-summary", Static).update(f"waste: {text}")

    def view_key(self) -> tuple:
        return (self.ref, self.layer_index, self.stacked)

    def mode_name(self) -> str:
        return "aggregated" if self.stacked else "changes"

    def reload(self) -> None:
        if self.ref is None or self.layer_index is None:
            return
        self.kept_state = self.tree.state() if self.tree.index.children else self.kept_state
        self.query_one("#files-title", Label).update(f"layer {self.layer_index} {self.mode_name()}: loading…")
        self.load_entries(self.view_key())

    @work(thread=True, exclusive=True, exit_on_error=False, group="files", description="reading layer files")
    def load_entries(self, key: tuple) -> None:
        ref, layer_index, stacked = key
        image = self.app.catalog.open_image(ref)
        entries = aggregated_entries(image, layer_index) if stacked else layer_changes(image, layer_index)
        self.post_message(self.EntriesLoaded(key, entries, instruction_of_layer(image, layer_index)))

    @on(EntriesLoaded)
    def entries_loaded(self, message: EntriesLoaded) -> None:
        if message.key != self.view_key():
            return
        self.entries = message.entries
        self.instruction = message.instruction
        self.reindex()

    def reindex(self) -> None:
        """Filter and index off the UI thread; a big layer never stalls keys."""
        needle = self.search.value.strip()
        self.build_index(self.view_key(), visible_entries(self.entries, self.hidden, needle), self.by_size,
                         bool(needle))

    @work(thread=True, exclusive=True, exit_on_error=False, group="files-index", description="indexing files")
    def build_index(self, key: tuple, entries: list[FileEntry], by_size: bool, searched: bool) -> None:
        self.post_message(self.IndexReady(key, FileIndex.build(entries, by_size=by_size), searched))

    @on(IndexReady)
    def index_ready(self, message: IndexReady) -> None:
        if message.key != self.view_key():
            return
        # A search shows every match opened; otherwise what was open stays open.
        self.tree.show_index(message.index, self.colours(), state=self.kept_state, expand_all=message.searched)
        self.query_one("#files-title", Label).update(self.title_text())
        self.query_one("#files-instruction", Label).update(" ".join(self.instruction.split()))

    def title_text(self) -> Text:
        counts = {change: sum(1 for e in self.entries if e.change == change) for change in (*CHANGES, UNMODIFIED)}
        colours = self.colours()
        title = Text(f"layer {self.layer_index} {self.mode_name()}: ")
        for change in CHANGES:
            title.append(f"{counts[change]} {change}" + (" (hidden)" if change in self.hidden else ""),
                         style=colours[change])
            title.append("  ")
        if self.stacked:
            title.append(f"{counts[UNMODIFIED]} unmodified" + (" (hidden)" if UNMODIFIED in self.hidden else ""),
                         style="dim")
        return title

    # -- waste --------------------------------------------------------------

    @work(thread=True, exclusive=True, exit_on_error=False, group="waste", description="measuring waste")
    def load_waste(self, ref: str) -> None:
        self.post_message(self.WasteReady(ref, waste(self.app.catalog.open_image(ref))))

    @on(WasteReady)
    def waste_ready(self, message: WasteReady) -> None:
        if message.ref != self.ref:
            return
        summary = self.query_one("#waste-summary", Static)
        if not message.rows:
            summary.update(Text("waste: none (no file is shipped and then hidden by a later layer)", style="dim"))
            return
        total = sum(row.wasted for row in message.rows)
        table = Table.grid(padding=(0, 1))
        table.add_column(justify="right", no_wrap=True, style=self.colours()["removed"])
        table.add_column(ratio=1)
        for row in message.rows:
            detail = Text(f"/{row.path}")
            detail.append(f"\nshipped by layer {row.layer_index}" + (f", {row.how}" if row.how else ""),
                          style="italic")
            detail.append(f"\n{' '.join(row.instruction.split())}", style="dim")
            table.add_row(human_size(row.wasted), detail)
        offenders = f"{len(message.rows)} offender{'s' if len(message.rows) > 1 else ''}"
        summary.update(Group(Text(f"waste: {human_size(total)} in {offenders}  (a: analysis)", style="bold"), table))

    # -- keys ----------------------------------------------------------------

    def action_toggle_view(self) -> None:
        self.stacked = not self.stacked
        self.reload()

    def action_toggle_change(self, change: str) -> None:
        self.hidden ^= {change}
        self.kept_state = self.tree.state()
        self.reindex()

    def action_toggle_size_sort(self) -> None:
        self.by_size = not self.by_size
        self.kept_state = self.tree.state()
        self.reindex()

    def action_expand_all(self) -> None:
        if not self.tree.expand_all_nodes():
            self.app.notify("opened the first directories only: the tree is too big to open all at once",
                            severity="warning")

    def action_collapse_all(self) -> None:
        self.tree.collapse_all_nodes()

    def action_switch_pane(self) -> None:
        layers = self.query_one(LayerList)
        (self.tree if layers.has_focus else layers).focus()

    def action_analyze(self) -> None:
        if self.ref is not None:
            self.app.push_screen(AnalysisScreen(self.ref))

    def action_focus_search(self) -> None:
        self.search.focus()

    @on(Tree.NodeHighlighted, "#file-tree")
    def file_highlighted(self, event: Tree.NodeHighlighted) -> None:
        if isinstance(event.node.data, FileEntry):
            self.query_one(FilePreview).show(event.node.data, self.view_key(), self.tree.index)

    def action_extract(self) -> None:
        self.query_one(FilePreview).extract(self.tree.cursor_node, self.view_key())

    @on(Input.Changed, "#file-search")
    def search_changed(self) -> None:
        if not self.search.value.strip():
            self.kept_state = None  # the search opened everything; closing it starts from the top again
        self.reindex()

    @on(Input.Submitted, "#file-search")
    def search_done(self) -> None:
        self.tree.focus()
