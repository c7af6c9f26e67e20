"""The Files panel's layer list: one row per layer, as dive lists them; moving the cursor moves the tree.

Layers are numbered from 0, as History, the waste list and ``layerlab layers``
number them. A highlight says which layer to show; the panel decides what that means.
"""

from __future__ import annotations

from rich.text import Text
from textual import on, work
from textual.message import Message
from textual.widgets import DataTable

from layerlab.engine.record_type import record
from layerlab.tui.catalog import HistoryRow, history_rows, human_size
from layerlab.tui.task_errors import ReportsTaskFailures
from layerlab.tui.widgets.history import fit_columns, shorten
from layerlab.tui.widgets.row_table import RowTable


COLUMNS = (("Layer", "layer"), ("Size", "size"), ("Created by", "created_by"))


class LayerList(ReportsTaskFailures, RowTable):
    @record
    class Loaded(Message):
        ref: str
        rows: list[HistoryRow]

    @record
    class Chosen(Message):
        """The cursor rests on layer ``layer_index`` of ``ref``."""

        ref: str
        layer_index: int

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.ref: str | None = None
        self.wanted: int | None = None  # the layer to put the cursor on once the rows are in
        self.layer_rows: list[HistoryRow] = []

    def on_mount(self) -> None:
        self.add_columns(*COLUMNS)

    def show_image(self, ref: str, layer_index: int | None = None, again: bool = False) -> None:
        if ref == self.ref and not again:
            self.select_layer(layer_index)
            return
        self.ref, self.wanted = ref, layer_index
        self.clear()
        self.load_layers(ref)

    @work(thread=True, exclusive=True, exit_on_error=False, group="layers", description="reading the layers")
    def load_layers(self, ref: str) -> None:
        self.post_message(self.Loaded(ref, history_rows(self.app.catalog.open_image(ref))))

    @on(Loaded)
    def layers_loaded(self, message: Loaded) -> None:
        if message.ref != self.ref:
            return
        self.layer_rows = [row for row in message.rows if row.layer_index is not None]
        self.fill()
        self.select_layer(self.wanted if self.wanted is not None else 0)

    def fill(self) -> None:
        cursor = self.cursor_row
        self.clear()
        # Created by gets what the number and size leave, so the list never scrolls sideways.
        room = max(8, self.size.width - 7 - 8 - 2 - 1)  # Layer and Size with their padding, a scrollbar
        numbers = [str(row.layer_index) for row in self.layer_rows]
        sizes = [human_size(row.size) for row in self.layer_rows]
        created_by = [shorten(" ".join(row.created_by.split()) or row.comment or "(no history)", room)
                      for row in self.layer_rows]
        fit_columns(self, {"layer": numbers, "size": sizes, "created_by": created_by})
        for number, size, text in zip(numbers, sizes, created_by):
            self.add_row(Text(number, justify="right"), Text(size, justify="right"), text, key=number)
        if self.row_count:
            self.move_cursor(row=min(cursor, self.row_count - 1), animate=False)

    def on_resize(self) -> None:
        if self.layer_rows:
            self.fill()

    def select_layer(self, layer_index: int | None) -> None:
        if layer_index is None or not self.row_count:
            self.wanted = layer_index
            return
        row = next((number for number, key in enumerate(self.rows) if key.value == str(layer_index)), None)
        if row is not None:
            self.move_cursor(row=row)
            if self.ref is not None:
                self.post_message(self.Chosen(self.ref, layer_index))

    @on(DataTable.RowHighlighted)
    def layer_highlighted(self, event: DataTable.RowHighlighted) -> None:
        event.stop()
        # Filling the table moves the cursor through rows before it lands; only where it rests counts.
        if self.ref is None or event.row_key.value is None or event.cursor_row != self.cursor_row:
            return
        self.post_message(self.Chosen(self.ref, int(event.row_key.value)))
