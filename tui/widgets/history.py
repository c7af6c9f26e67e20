"""The History panel: the selected image's layers, created-by, size and a size bar."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Label

from layerlab.engine.oci.digest import short_id
from layerlab.tui.messages import LayerSelected
from layerlab.tui.task_errors import ReportsTaskFailures
from layerlab.tui.widgets.row_table import RowTable
from layerlab.tui.catalog import HistoryRow, created_text, history_rows, human_size

BAR_WIDTH = 20
# Layer, created, size and bar columns with the table's cell padding; created-by gets the rest.
OTHER_COLUMNS_WIDTH = 7 + 21 + 10 + BAR_WIDTH + 2 + 4


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def short_ref(ref: str | None) -> str:
    """An image ID as Docker shows it (12 hex digits); a name as it is."""
    if ref and ref.startswith("sha256:"):
        return short_id(ref)
    return ref or ""


def size_bar(size: int, largest: int, width: int = BAR_WIDTH) -> str:
    if largest <= 0 or size <= 0:
        return ""
    return "█" * max(1, round(width * size / largest))


class HistoryPanel(ReportsTaskFailures, Vertical):
    BINDINGS = [
        Binding("e", "toggle_empty", "Empty layers", id="history.toggle_empty",
                tooltip="Show or hide history entries that made no layer"),
    ]

    @dataclass
    class Loaded(Message):
        ref: str
        rows: list[HistoryRow]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.ref: str | None = None
        self.rows: list[HistoryRow] = []
        self.show_empty = True

    def compose(self) -> ComposeResult:
        yield Label("Choose an image in Images (enter)", id="history-title")
        yield RowTable(id="history-table")

    def on_mount(self) -> None:
        # A layer's number is its place among the image's layers, from 0: the number Files and the
        # waste list show, and `layerlab layers`/`--layer N` take. An entry that made no layer has none.
        self.query_one(DataTable).add_columns(("Layer", "index"), ("Created", "created"), ("Created by", "created_by"),
                                              ("Size", "size"), ("", "bar"))

    def show_image(self, ref: str) -> None:
        self.ref = ref
        self.query_one("#history-title", Label).update(f"{short_ref(ref)}: loading…")
        self.load_history(ref)

    @work(thread=True, exclusive=True, exit_on_error=False, group="history", description="reading image history")
    def load_history(self, ref: str) -> None:
        image = self.app.catalog.open_image(ref)
        self.post_message(self.Loaded(ref, history_rows(image)))

    def task_failed(self, group: str, text: str) -> None:
        if group == "history":  # e.g. another process removed the image: say so instead of "loading…"
            self.rows = []
            self.query_one(DataTable).clear()
            self.query_one("#history-title", Label).update(f"{short_ref(self.ref)}: {text}")

    @on(Loaded)
    def show_rows(self, message: Loaded) -> None:
        if message.ref != self.ref:
            return  # an older selection finished late
        self.rows = message.rows
        self.refill()

    def refill(self) -> None:
        table = self.query_one(DataTable)
        table.clear()
        bar_style = self.app.theme_variables.get("size-bar", "blue")
        largest = max((row.size for row in self.rows), default=0)
        layers = sum(1 for row in self.rows if row.layer_index is not None)
        total = sum(row.size for row in self.rows)
        # Created-by takes what the other columns leave, so Size and the bar stay on screen.
        created_by_width = max(20, self.app.size.width - OTHER_COLUMNS_WIDTH)  # this panel may be hidden
        now = self.app.catalog.now()
        for row in self.rows:
            if row.empty_layer and not self.show_empty:
                continue
            style = "dim" if row.layer_index is None else ""
            created_by = " ".join(row.created_by.split()) or row.comment or "(no history)"
            number = "" if row.layer_index is None else str(row.layer_index)
            table.add_row(Text(number, style=style), Text(created_text(row.created_at, now), style=style),
                          Text(shorten(created_by, created_by_width), style=style),
                          Text(human_size(row.size) if row.layer_index is not None else "0B", style=style),
                          Text(size_bar(row.size, largest), style=bar_style), key=str(row.index))
        self.query_one("#history-title", Label).update(
            f"{short_ref(self.ref)}: {layers} layers, {human_size(total)}  ·  enter opens a layer in Files")

    def row_by_key(self, key: str) -> HistoryRow | None:
        return next((row for row in self.rows if str(row.index) == key), None)

    @on(DataTable.RowSelected, "#history-table")
    def layer_chosen(self, event: DataTable.RowSelected) -> None:
        row = self.row_by_key(event.row_key.value)
        if row is None or self.ref is None:
            return
        if row.layer_index is None:
            self.app.notify("this history entry made no layer (empty layer)", severity="warning")
            return
        self.post_message(LayerSelected(self.ref, row.layer_index))

    def action_toggle_empty(self) -> None:
        self.show_empty = not self.show_empty
        self.refill()
