"""The Images panel: the store's images, filter as you type, sort, tag, remove, inspect, save, push.

Like ``layerlab images``, it hides intermediate build images unless all are
asked for (``A``, the panel's ``-a``).
"""

from __future__ import annotations

import json
import re

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.message import Message
from textual.widgets import DataTable, Input, Label

from layerlab.engine.errors import LayerlabError
from layerlab.engine.oci.digest import short_id
from layerlab.engine.record_type import record
from layerlab.tui.task_errors import ReportsTaskFailures
from layerlab.tui.widgets.row_table import RowTable
from layerlab.tui.messages import ImageSelected, TransferBoard, TransferEventBridge, TransfersChanged
from layerlab.tui.screens.analysis import AnalysisScreen
from layerlab.tui.screens.dialogs import ConfirmScreen, DocumentScreen, PromptScreen, SaveRequest, SaveScreen
from layerlab.tui.catalog import SAVE_FORMATS, ImageRow, created_text, human_size

SORT_KEYS = ("repository", "created", "size")
TRANSFER_LINES_SHOWN = 8


def matches(row: ImageRow, needle: str) -> bool:
    needle = needle.lower()
    return any(needle in text.lower() for text in (row.repository, row.tag, row.short_id))


def sorted_rows(rows: list[ImageRow], key: str) -> list[ImageRow]:
    if key == "size":
        return sorted(rows, key=lambda r: r.size, reverse=True)
    if key == "created":
        return sorted(rows, key=lambda r: (r.created_at is not None, r.created_at and r.created_at.timestamp()),
                      reverse=True)
    return sorted(rows, key=lambda r: (r.repository, r.tag))


class ImagesPanel(ReportsTaskFailures, Vertical):
    BINDINGS = [
        Binding("slash", "focus_filter", "Filter", id="images.filter", tooltip="Filter images as you type"),
        Binding("s", "cycle_sort", "Sort", id="images.sort", tooltip="Sort by repository, created or size"),
        Binding("t", "tag", "Tag", id="images.tag", tooltip="Add a tag to the selected image"),
        Binding("d,delete", "remove", "Remove", id="images.remove",
                tooltip="Untag or remove the selected image (asks first)"),
        Binding("i", "inspect", "Inspect", id="images.inspect", tooltip="Show the image's config JSON"),
        Binding("a", "analyze", "Analyze", id="images.analyze", tooltip="Efficiency, wasted and reclaimable bytes, the worst offenders and their fixes"),
        Binding("S", "save", "Save", id="images.save",
                tooltip="Save the selected image to a docker-archive file or an OCI layout directory"),
        Binding("p", "push", "Push", id="images.push", tooltip="Push the selected image to a registry"),
        Binding("A", "toggle_all", "All images", id="images.all",
                tooltip="Show intermediate build images too (images -a), or hide them again"),
        Binding("r", "reload", "Reload", id="images.reload", tooltip="Read the store again"),
        Binding("escape", "leave_filter", "Leave filter", id="images.leave_filter",
                tooltip="Clear the filter and go back to the list", show=False),
    ]

    @record
    class Loaded(Message):
        rows: list[ImageRow]

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.rows: list[ImageRow] = []
        self.sort_key = "repository"
        self.show_all = False
        self.transfer: TransferBoard | None = None
        self.failure = ""  # the last failed action, said in the status line until one succeeds

    def compose(self) -> ComposeResult:
        yield Input(placeholder="filter: repository, tag or ID  (/)", id="image-filter")
        yield RowTable(id="images-table")
        yield Label("", id="images-status")
        status = Label("", id="transfer-status")
        status.display = False  # only while a save or push has something to say
        yield status

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        table.add_columns(("Repository", "repository"), ("Tag", "tag"), ("Image ID", "id"),
                          ("Created", "created"), ("Size", "size"))
        self.reload()

    # -- loading, off the UI thread --------------------------------------------

    def reload(self) -> None:
        catalog = self.app.catalog
        if catalog is None:
            self.query_one("#images-status", Label).update("no store open")
            return
        self.load_rows()

    @work(thread=True, exclusive=True, exit_on_error=False, group="images", description="reading the image list")
    def load_rows(self) -> None:
        rows = self.app.catalog.image_rows()
        self.post_message(self.Loaded(rows))

    @on(Loaded)
    def show_rows(self, message: Loaded) -> None:
        self.rows = message.rows
        self.refill()

    def refill(self) -> None:
        table = self.query_one(DataTable)
        selected, selected_row = self.selected_ref(), table.cursor_row
        needle = self.query_one("#image-filter", Input).value.strip()
        listed = [r for r in self.rows if self.show_all or not r.intermediate]
        visible = sorted_rows([r for r in listed if not needle or matches(r, needle)], self.sort_key)
        now = self.app.catalog.now()
        table.clear()
        for row in visible:
            table.add_row(row.repository, row.tag, row.short_id, created_text(row.created_at, now),
                          human_size(row.size), key=row.ref)
        refs = [row.ref for row in visible]
        # The selected image where it went (a sort, a reload); when it is gone (removed), the row that took
        # its place, so a second remove acts on the row under the cursor, not on the first one.
        table.move_cursor(row=refs.index(selected) if selected in refs else min(selected_row, len(refs) - 1),
                          animate=False)
        hidden = len(self.rows) - len(listed)
        self.query_one("#images-status", Label).update(
            f"{len(visible)} of {len(listed)} images  ·  sorted by {self.sort_key}"
            + (f"  ·  {hidden} intermediate hidden (A shows all)" if hidden else "")
            + ("  ·  all images (A hides intermediate)" if self.show_all else "")
            + (f"  ·  ✗ {self.failure}" if self.failure else ""))

    def task_failed(self, group: str, text: str) -> None:
        if group in ("store-change", "inspect", "images"):
            self.failure = text
            self.refill()

    def selected_ref(self) -> str | None:
        table = self.query_one(DataTable)
        if table.row_count == 0:
            return None
        row_key, _ = table.coordinate_to_cell_key(table.cursor_coordinate)
        return row_key.value

    def row_for(self, ref: str) -> ImageRow | None:
        return next((row for row in self.rows if row.ref == ref), None)

    # -- events and actions -------------------------------------------------------

    @on(Input.Changed, "#image-filter")
    def filter_changed(self) -> None:
        self.refill()

    @on(Input.Submitted, "#image-filter")
    def filter_done(self) -> None:
        self.query_one(DataTable).focus()

    @on(DataTable.RowSelected, "#images-table")
    def image_chosen(self, event: DataTable.RowSelected) -> None:
        self.post_message(ImageSelected(event.row_key.value))

    def action_focus_filter(self) -> None:
        self.query_one("#image-filter", Input).focus()

    def action_leave_filter(self) -> None:
        image_filter = self.query_one("#image-filter", Input)
        if image_filter.value or image_filter.has_focus:
            image_filter.value = ""  # the list refills on the change
            self.query_one(DataTable).focus()

    def action_cycle_sort(self) -> None:
        self.sort_key = SORT_KEYS[(SORT_KEYS.index(self.sort_key) + 1) % len(SORT_KEYS)]
        self.refill()

    def action_reload(self) -> None:
        self.reload()

    def action_toggle_all(self) -> None:
        self.show_all = not self.show_all
        self.refill()

    def action_analyze(self) -> None:
        ref = self.selected_ref()
        if ref is not None:
            self.app.push_screen(AnalysisScreen(ref))

    def action_tag(self) -> None:
        ref = self.selected_ref()
        if ref is None:
            return

        def tag_with(target: str | None) -> None:
            if target:
                self.run_store_change("tag", ref, target)

        self.app.push_screen(PromptScreen(f"New tag for {ref}", placeholder="repository:tag"), tag_with)

    def action_remove(self) -> None:
        ref = self.selected_ref()
        row = self.row_for(ref) if ref else None
        if row is None:
            return
        siblings = [r for r in self.rows if r.image_id == row.image_id and r.ref != ref]
        # Docker's rule: removing by tag only untags while other tags still name the image.
        question = (f"Untag {ref}? The image stays, still tagged {siblings[0].ref}." if siblings
                    else f"Remove image {ref} ({row.short_id})?")

        def remove_if(confirmed: bool | None) -> None:
            if confirmed:
                self.run_store_change("remove", ref)

        self.app.push_screen(ConfirmScreen(question), remove_if)

    def action_inspect(self) -> None:
        ref = self.selected_ref()
        if ref is not None:
            self.load_config(ref)

    @work(thread=True, exclusive=True, exit_on_error=False, group="inspect", description="reading the image config")
    def load_config(self, ref: str) -> None:
        config = json.loads(self.app.catalog.open_image(ref).config_bytes())
        text = json.dumps(config, indent=2)
        self.app.call_from_thread(
            self.app.push_screen, DocumentScreen(f"{ref}  config", text, "json", self.app.pygments_style))

    @work(thread=True, exit_on_error=False, group="store-change", description="changing the store")
    def run_store_change(self, operation: str, *args: str) -> None:
        catalog = self.app.catalog
        if operation == "tag":
            catalog.tag(*args)
            self.app.call_from_thread(self.app.notify, f"tagged {args[0]} as {args[1]}")
        elif operation == "remove":
            lines = catalog.remove(args[0])
            self.app.call_from_thread(self.app.notify, removal_text(args[0], lines))
        self.failure = ""
        self.app.call_from_thread(self.load_rows)

    # -- save and push ---------------------------------------------------------------

    def action_save(self) -> None:
        ref = self.selected_ref()
        if ref is None:
            return
        row = self.row_for(ref)
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", ref if row is None or row.repository != "<none>" else row.short_id)

        def save_to(request: SaveRequest | None) -> None:
            if request is not None:
                self.save_image(ref, request)

        self.app.push_screen(SaveScreen(ref, stem, SAVE_FORMATS), save_to)

    @work(thread=True, exit_on_error=False, group="save", description="saving")
    def save_image(self, ref: str, request: SaveRequest) -> None:
        self.app.call_from_thread(self.show_transfer, f"saving {ref} to {request.path} ({request.format})…")
        try:
            self.app.catalog.save(ref, request.path, request.format)
        except LayerlabError as error:
            self.app.call_from_thread(self.show_transfer, f"save failed: {error.one_line()}")
            raise
        except OSError as error:
            self.app.call_from_thread(self.show_transfer, f"save failed: {request.path}: {error.strerror}")
            raise
        self.app.call_from_thread(self.show_transfer, f"saved {ref} to {request.path} ({request.format})")
        self.app.call_from_thread(self.app.notify, f"saved {ref} to {request.path}")

    def action_push(self) -> None:
        ref = self.selected_ref()
        row = self.row_for(ref) if ref else None
        if row is None:
            return

        def push_to(target: str | None) -> None:
            if target:
                self.push_image(ref, target)

        prefill = ref if row.repository != "<none>" else ""
        self.app.push_screen(PromptScreen(f"Push {ref} to", value=prefill, placeholder="registry/repository:tag"),
                             push_to)

    @work(thread=True, exclusive=True, exit_on_error=False, group="push", description="pushing")
    def push_image(self, source: str, target: str) -> None:
        board = TransferBoard("push", target)
        self.transfer = board
        self.post_message(TransfersChanged(board))
        try:
            self.app.catalog.push(source, target, TransferEventBridge(self, board))
        except LayerlabError as error:
            board.error = error.one_line()
            raise
        except Exception as error:
            board.error = f"{type(error).__name__}: {error}"
            raise
        finally:
            board.finished = True
            self.post_message(TransfersChanged(board))

    def show_transfer(self, text: str) -> None:
        status = self.query_one("#transfer-status", Label)
        status.update(text)
        status.display = bool(text)

    @on(TransfersChanged)
    def transfers_changed(self, message: TransfersChanged) -> None:
        board = message.board
        if board is not self.transfer:
            return  # an earlier push reporting late
        blobs = board.snapshot()
        self.show_transfer(transfer_text(board, blobs))


def removal_text(ref: str, lines: list[tuple[str, str]]) -> str:
    """What a remove did, as rmi says it: only untagged (the image stays), or untagged and deleted."""
    deleted = [text for action, text in lines if action == "Deleted"]
    if not deleted:
        return f"untagged {ref}: the image stays under its other tags"
    return f"removed {ref}: deleted {short_id(deleted[0])}" + (f" and {len(deleted) - 1} more" if len(deleted) > 1
                                                              else "")


def transfer_text(board: TransferBoard, blobs: list[tuple[str, int, int]]) -> str:
    """One line per blob (short digest, bytes moved of total), then how the push ended."""
    lines = []
    for digest, done, total in blobs[:TRANSFER_LINES_SHOWN]:
        short = short_id(digest)
        state = "done" if total and done >= total else "pushing"
        lines.append(f"  {short}  {state:<7} {human_size(done)} / {human_size(total)}")
    done_count = sum(1 for _digest, done, total in blobs if total and done >= total)
    if board.error:
        head = f"push to {board.target} failed: {board.error}"
    elif board.finished:
        head = f"pushed to {board.target}: {len(blobs)} blobs"
    else:
        head = f"pushing to {board.target}: {done_count} of {len(blobs)} blobs done"
    if len(blobs) > TRANSFER_LINES_SHOWN:
        lines.append(f"  … {len(blobs) - TRANSFER_LINES_SHOWN} more")
    return "\n".join([head, *lines])
