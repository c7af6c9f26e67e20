"""The Files panel: a layer's changes or the stacked tree, preview, extract, waste summary."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from pygments.lexers import get_lexer_for_filename
from pygments.util import ClassNotFound
from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Input, Label, Static, Tree

from layerlab.tui.screens.dialogs import PromptScreen
from layerlab.tui.task_errors import ReportsTaskFailures
from layerlab.tui.widgets.file_tree import FileIndex, LayerTree
from layerlab.tui.catalog import (FileEntry, WasteRow, hex_dump, human_size, instruction_of_layer, is_binary,
                                 layer_changes, read_file, stacked_entries, waste)

CHANGES = ("added", "modified", "removed")


def lexer_name(path: str) -> str:
    try:
        return get_lexer_for_filename(path.rsplit("/", 1)[-1]).aliases[0]
    except (ClassNotFound, IndexError):
        return "text"


def visible_entries(entries: list[FileEntry], hidden: set[str], needle: str) -> list[FileEntry]:
    needle = needle.lower()
    return [e for e in entries
            if e.change not in hidden and (not needle or needle in e.path.lower())]


class FilesPanel(ReportsTaskFailures, Horizontal):
    BINDINGS = [
        Binding("v", "toggle_view", "Changes/stacked", id="files.toggle_view",
                tooltip="Switch between this layer's changes and the whole tree as of this layer"),
        Binding("A", "toggle_change('added')", "Hide added", id="files.hide_added", tooltip="Hide added files"),
        Binding("M", "toggle_change('modified')", "Hide modified", id="files.hide_modified",
                tooltip="Hide modified files"),
        Binding("R", "toggle_change('removed')", "Hide removed", id="files.hide_removed",
                tooltip="Hide removed files"),
        Binding("z", "toggle_size_sort", "Sort by size", id="files.sort_size", tooltip="Largest first"),
        Binding("slash", "focus_search", "Search", id="files.search", tooltip="Show only paths containing text"),
        Binding("x", "extract", "Extract", id="files.extract", tooltip="Write the selected file to a path"),
    ]

    @dataclass
    class EntriesLoaded(Message):
        key: tuple
        entries: list[FileEntry]
        instruction: str

    @dataclass
    class IndexReady(Message):
        key: tuple
        index: FileIndex

    @dataclass
    class PreviewReady(Message):
        path: str
        data: bytes

    @dataclass
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
        self.preview_path: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(id="files-left"):
            yield Label("Choose a layer in History (enter)", id="files-title")
            yield Input(placeholder="search paths  (/)", id="file-search")
            yield LayerTree(id="file-tree")
        with Vertical(id="files-right"):
            with VerticalScroll(id="preview-scroll"):
                yield Static("", id="file-preview")
            yield Static("", id="waste-summary")

    @property
    def tree(self) -> LayerTree:
        return self.query_one(LayerTree)

    def colours(self) -> dict[str, str]:
        variables = self.app.theme_variables
        return {change: variables.get(f"layer-{change}", "") for change in CHANGES}

    # -- what is shown --------------------------------------------------------

    def show_image(self, ref: str) -> None:
        """A new image: its waste summary; the tree waits for a layer."""
        if ref == self.ref:
            return
        self.ref = ref
        self.layer_index = None
        self.query_one("#waste-summary", Static).update("waste: computing…")
        self.load_waste(ref)

    def show_layer(self, ref: str, layer_index: int) -> None:
        self.show_image(ref)
        self.layer_index = layer_index
        self.query_one("#file-preview", Static).update("")
        self.reload()

    def task_failed(self, group: str, text: str) -> None:
        # Said where the result was awaited, so no "loading…" is left standing.
        if group == "files":
            self.query_one("#files-title", Label).update(f"layer {self.layer_index}: {text}")
        elif group == "waste":
            self.query_one("#waste-summary", Static).update(f"waste: {text}")
        elif group == "preview":
            self.query_one("#file-preview", Static).update(text)

    def view_key(self) -> tuple:
        return (self.ref, self.layer_index, self.stacked)

    def reload(self) -> None:
        if self.ref is None or self.layer_index is None:
            return
        mode = "stacked tree" if self.stacked else "changes"
        self.query_one("#files-title", Label).update(f"layer {self.layer_index} {mode}: loading…")
        self.load_entries(self.view_key())

    @work(thread=True, exclusive=True, exit_on_error=False, group="files", description="reading layer files")
    def load_entries(self, key: tuple) -> None:
        ref, layer_index, stacked = key
        image = self.app.catalog.open_image(ref)
        entries = stacked_entries(image, layer_index) if stacked else layer_changes(image, layer_index)
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
        entries = visible_entries(self.entries, self.hidden, self.query_one("#file-search", Input).value.strip())
        self.build_index(self.view_key(), entries, self.by_size)

    @work(thread=True, exclusive=True, exit_on_error=False, group="files-index", description="indexing files")
    def build_index(self, key: tuple, entries: list[FileEntry], by_size: bool) -> None:
        self.post_message(self.IndexReady(key, FileIndex.build(entries, by_size=by_size)))

    @on(IndexReady)
    def index_ready(self, message: IndexReady) -> None:
        if message.key != self.view_key():
            return
        self.tree.show_index(message.index, self.colours())
        counts = {change: sum(1 for e in self.entries if e.change == change) for change in CHANGES}
        mode = "stacked tree" if self.stacked else "changes"
        summary = "  ".join(f"{counts[c]} {c}" + (" (hidden)" if c in self.hidden else "") for c in CHANGES)
        created_by = " ".join(self.instruction.split())[:70]
        self.query_one("#files-title", Label).update(
            f"layer {self.layer_index} {mode}: {summary if not self.stacked else ''}\n{created_by}")

    # -- preview and extract ----------------------------------------------------

    @on(Tree.NodeHighlighted, "#file-tree")
    def file_highlighted(self, event: Tree.NodeHighlighted) -> None:
        entry = event.node.data
        if isinstance(entry, FileEntry) and entry.kind != "dir" and entry.change != "removed":
            self.preview_path = entry.path
            self.load_preview(self.view_key(), entry.path)
        elif isinstance(entry, FileEntry):
            self.preview_path = None
            self.query_one("#file-preview", Static).update(Text(self.describe(entry), style="dim"))

    def describe(self, entry: FileEntry) -> str:
        if entry.change == "removed":
            return f"{entry.path}\nremoved in this layer (whiteout)"
        size = self.tree.index.size_of(entry)
        return f"{entry.path or '/'}\ndirectory, {human_size(size)} below it"

    @work(thread=True, exclusive=True, exit_on_error=False, group="preview", description="reading a file")
    def load_preview(self, key: tuple, path: str) -> None:
        ref, layer_index, _ = key
        self.post_message(self.PreviewReady(path, read_file(self.app.catalog.open_image(ref), layer_index, path)))

    @on(PreviewReady)
    def preview_ready(self, message: PreviewReady) -> None:
        if message.path != self.preview_path:
            return
        preview = self.query_one("#file-preview", Static)
        if is_binary(message.data):
            header = Text(f"{message.path}: binary, {human_size(len(message.data))} shown\n\n", style="bold")
            preview.update(header + Text(hex_dump(message.data)))
            return
        text = message.data.decode("utf-8", errors="replace")
        preview.update(Syntax(text, lexer_name(message.path), theme=self.app.pygments_style, line_numbers=True,
                              word_wrap=False))

    def action_extract(self) -> None:
        node = self.tree.cursor_node
        entry = node.data if node is not None else None
        if not isinstance(entry, FileEntry) or entry.kind not in ("file", "hardlink", "symlink"):
            self.app.notify("choose a file to extract", severity="warning")
            return
        if entry.change == "removed":
            self.app.notify("that file is removed in this layer", severity="warning")
            return
        key = self.view_key()

        def extract_to(destination: str | None) -> None:
            if destination:
                self.extract_file(key, entry.path, Path(destination))

        self.app.push_screen(PromptScreen(f"Extract /{entry.path} to", value=entry.name), extract_to)

    @work(thread=True, exit_on_error=False, group="extract", description="extracting a file")
    def extract_file(self, key: tuple, path: str, destination: Path) -> None:
        ref, layer_index, _ = key
        data = read_file(self.app.catalog.open_image(ref), layer_index, path, limit=None)
        if destination.exists():
            self.app.call_from_thread(self.app.notify, f"{destination} exists; not overwritten", severity="error")
            return
        destination.write_bytes(data)
        self.app.call_from_thread(self.app.notify, f"wrote {human_size(len(data))} to {destination}")

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
        text = Text(f"waste: {human_size(total)} in the worst {len(message.rows)} offenders\n", style="bold")
        for row in message.rows:
            instruction = " ".join(row.instruction.split())[:50]
            text.append(f"{human_size(row.wasted):>8}  /{row.path}", style=self.colours()["removed"])
            text.append(f"  {row.how}\n" if row.how else "\n", style="italic")
            text.append(f"{'':>8}  shipped by layer {row.layer_index}: {instruction}\n", style="dim")
        summary.update(text)

    # -- toggles ----------------------------------------------------------------

    def action_toggle_view(self) -> None:
        self.stacked = not self.stacked
        self.reload()

    def action_toggle_change(self, change: str) -> None:
        self.hidden ^= {change}
        self.reindex()

    def action_toggle_size_sort(self) -> None:
        self.by_size = not self.by_size
        self.reindex()

    def action_focus_search(self) -> None:
        self.query_one("#file-search", Input).focus()

    @on(Input.Changed, "#file-search")
    def search_changed(self) -> None:
        self.reindex()

    @on(Input.Submitted, "#file-search")
    def search_done(self) -> None:
        self.tree.focus()
