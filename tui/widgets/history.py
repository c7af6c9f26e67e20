"""The History panel: the selected image's layers, created-by, size and a size bar."""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Label

from layerlab.engine.oci.digest import short_id
from layerlab.engine.record_type import record
from layerlab.tui.messages import LayerSelected
from layerlab.tui.task_errors import ReportsTaskFailures
from layerlab.tui.widgets.row_table import RowTable
from layerlab.tui.catalog import HistoryRow, created_text, history_rows, human_size

BAR_WIDTH = 20
# A layer's number is its place among the image's layers, from 0: the number Files and the
# waste list show, and `layerlab layers`/`--layer N` take. An entry that made no layer has none.
COLUMNS = (("Layer", "index"), ("Created", "created"), ("Created by", "created_by"), ("Size", "size"), ("", "bar"))
CELL_PADDING = 2  # a DataTable cell's padding, one each side
SCROLLBAR_ROOM = 2


def bar_width(width: int) -> int:
    """The size bar's width: full on a wide terminal, shorter on a narrow one, so created-by keeps room."""
    return BAR_WIDTH if width >= 110 else 10 if width >= 90 else 6


def shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def fit_columns(table: DataTable, cells: dict[str, list[str]]) -> None:
    """Each column exactly as wide as its title or its widest cell."""
    for column in table.ordered_columns:
        texts = cells.get(str(column.key.value), [])
        column.content_width = max([column.label.cell_len, *(len(text) for text in texts)])


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

    @record
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
        self.query_one(DataTable).add_columns(*COLUMNS)

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

    def on_resize(self) -> None:
        if self.rows:
            self.refill()  # created-by takes the new width; Size and the bar stay on screen

    def refill(self) -> None:
        table = self.query_one(DataTable)
        cursor = table.cursor_row
        table.clear()
        bar_style = self.app.theme_variables.get("size-bar", "blue")
        largest = max((row.size for row in self.rows), default=0)
        layers = sum(1 for row in self.rows if row.layer_index is not None)
        total = sum(row.size for row in self.rows)
        now = self.app.catalog.now()
        shown = [row for row in self.rows if not (row.empty_layer and not self.show_empty)]
        numbers = ["" if row.layer_index is None else str(row.layer_index) for row in shown]
        created = [created_text(row.created_at, now) for row in shown]
        sizes = [human_size(row.size) if row.layer_index is not None else "0B" for row in shown]
        # Created-by takes what the other columns leave, so Size and the bar stay on screen at any width.
        width = self.size.width or self.app.size.width  # a hidden panel has no size of its own
        bar = bar_width(width)
        others = sum(max(len(title), *(len(cell) for cell in cells)) + CELL_PADDING for title, cells in
                     (("Layer", numbers or [""]), ("Created", created or [""]), ("Size", sizes or [""])))
        created_by_width = max(12, width - others - (bar + CELL_PADDING) - CELL_PADDING - SCROLLBAR_ROOM)
        created_by = [shorten(" ".join(row.created_by.split()) or row.comment or "(no history)", created_by_width)
                      for row in shown]
        # The table's columns only ever grow, and a row drawn before it measures would keep the old widths:
        # set each column's width now, from the cells about to go in.
        fit_columns(table, {"index": numbers, "created": created, "created_by": created_by, "size": sizes,
                            "bar": ["x" * bar]})
        for row, number, when, text, size in zip(shown, numbers, created, created_by, sizes):
            style = "dim" if row.layer_index is None else ""
            table.add_row(Text(number, style=style), Text(when, style=style), Text(text, style=style),
                          Text(size, style=style), Text(size_bar(row.size, largest, bar), style=bar_style),
                          key=str(row.index))
        if table.row_count:
            table.move_cursor(row=min(cursor, table.row_count - 1), animate=False)
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
