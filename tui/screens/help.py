"""The help screen: every binding of the app and its panels, with the id a keymap overrides."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.keys import format_key
from textual.widgets import DataTable, Label

from layerlab.engine.record_type import record
from layerlab.tui.widgets.row_table import RowTable


@record(frozen=True)
class BindingRow:
    scope: str
    keys: str
    description: str
    binding_id: str


def binding_rows(scopes: dict[str, list[Binding]], keymap: dict[str, str]) -> list[BindingRow]:
    """Rows for the help table; a keymap override replaces a binding's default keys."""
    rows: list[BindingRow] = []
    for scope, bindings in scopes.items():
        for binding in bindings:
            if not binding.id:
                continue
            keys = keymap.get(binding.id, binding.key)
            rows.append(BindingRow(scope, keys_as_typed(keys), binding.description or binding.tooltip, binding.id))
    return rows


def keys_as_typed(keys: str) -> str:
    """Binding keys as a person types them: ``question_mark,f1`` -> ``?, f1``; ``left_square_bracket`` -> ``[``."""
    return ", ".join(format_key(key.strip()) for key in keys.split(",") if key.strip())


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,q,question_mark", "close", "Close", id="help.close", tooltip="Close help")]

    def __init__(self, rows: list[BindingRow]) -> None:
        super().__init__()
        self.rows = rows

    def compose(self) -> ComposeResult:
        with Vertical(classes="document"):
            yield Label("Keys  (override in tui.toml [keymap] by binding id; ctrl+p opens the command palette)",
                        classes="document-title", markup=False)
            yield RowTable(id="help-table")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(("Panel", "scope"), ("Keys", "keys"), ("Action", "action"), ("Binding id", "id"))
        for row in self.rows:
            table.add_row(row.scope, row.keys, row.description, row.binding_id)
        table.focus()

    def action_close(self) -> None:
        self.dismiss(None)
