"""The Files panel's preview of the file under the tree's cursor, and extracting it.

A text file is shown highlighted, a binary one as a hex dump, a directory or a
removed path described. Extract copies out as ``docker cp`` does: the image's
mode (busybox stays 0755), links as links, a directory with what is below it.
"""

from __future__ import annotations

from pathlib import Path

from pygments.lexers import get_lexer_for_filename
from pygments.util import ClassNotFound
from rich.syntax import Syntax
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.message import Message
from textual.widgets import Static
from textual.widgets.tree import TreeNode

from layerlab.engine.record_type import record
from layerlab.tui.screens.dialogs import PromptScreen
from layerlab.tui.task_errors import ReportsTaskFailures
from layerlab.tui.widgets.file_tree import FileIndex
from layerlab.tui.catalog import FileEntry, extract, hex_dump, human_size, is_binary, read_file


def lexer_name(path: str) -> str:
    try:
        return get_lexer_for_filename(path.rsplit("/", 1)[-1]).aliases[0]
    except (ClassNotFound, IndexError):
        return "text"


def describe(entry: FileEntry, index: FileIndex) -> str:
    if entry.change == "removed":
        return f"{entry.path}\nremoved in this layer (whiteout)"
    return (f"{entry.path or '/'}\ndirectory, mode {entry.mode & 0o7777:04o}, owner {entry.uid}:{entry.gid}, "
            f"{human_size(index.size_of(entry))} below it")


class FilePreview(ReportsTaskFailures, VerticalScroll):
    @record
    class Ready(Message):
        path: str
        data: bytes

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.path: str | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="file-preview")

    def clear(self) -> None:
        self.path = None
        self.query_one("#file-preview", Static).update("")

    def show(self, entry: FileEntry, key: tuple, index: FileIndex) -> None:
        if entry.kind != "dir" and entry.change != "removed":
            self.path = entry.path
            self.load_preview(key, entry.path)
        else:
            self.path = None
            self.query_one("#file-preview", Static).update(Text(describe(entry, index), style="dim"))

    def task_failed(self, group: str, text: str) -> None:
        if group == "preview":
            self.query_one("#file-preview", Static).update(text)

    @work(thread=True, exclusive=True, exit_on_error=False, group="preview", description="reading a file")
    def load_preview(self, key: tuple, path: str) -> None:
        ref, layer_index, _ = key
        self.post_message(self.Ready(path, read_file(self.app.catalog.open_image(ref), layer_index, path)))

    @on(Ready)
    def preview_ready(self, message: Ready) -> None:
        if message.path != self.path:
            return
        preview = self.query_one("#file-preview", Static)
        if is_binary(message.data):
            header = Text(f"{message.path}: binary, {human_size(len(message.data))} shown\n\n", style="bold")
            preview.update(header + Text(hex_dump(message.data)))
            return
        text = message.data.decode("utf-8", errors="replace")
        preview.update(Syntax(text, lexer_name(message.path), theme=self.app.pygments_style, line_numbers=True,
                              word_wrap=False))
        self.scroll_home(animate=False)

    # -- extract -------------------------------------------------------------------

    def extract(self, node: TreeNode | None, key: tuple) -> None:
        entry = node.data if node is not None else None
        if not isinstance(entry, FileEntry) or not entry.path:
            self.app.notify("choose a file or directory to extract", severity="warning")
            return
        if entry.change == "removed":
            self.app.notify("that path is removed in this layer", severity="warning")
            return

        def extract_to(destination: str | None) -> None:
            if destination:
                self.extract_path(key, entry.path, Path(destination).expanduser())

        self.app.push_screen(PromptScreen(f"Extract /{entry.path} to", value=entry.name), extract_to)

    @work(thread=True, exit_on_error=False, group="extract", description="extracting")
    def extract_path(self, key: tuple, path: str, destination: Path) -> None:
        ref, layer_index, _ = key
        if destination.exists() and not destination.is_dir():
            self.app.call_from_thread(self.app.notify, f"{destination} exists; not overwritten", severity="error")
            return
        written = extract(self.app.catalog.open_image(ref), layer_index, path, destination)
        self.app.call_from_thread(self.app.notify, f"extracted /{path} to {destination} "
                                  f"({written} path{'s' if written != 1 else ''})")
