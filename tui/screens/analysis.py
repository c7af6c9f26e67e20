"""The analysis screen: everything ``layerlab analyze`` prints about an image, in the app.

dive's efficiency score, its wasted bytes and user-wasted share, our
reclaimable bytes (in your layers and in the base image's), the worst
offenders with the fix for each, and the largest wasted files. The numbers
are the engine's (``image_report``), so they are the CLI's to the byte.
"""

from __future__ import annotations

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Label, Static

from layerlab.engine.record_type import record
from layerlab.tui.catalog import ImageReport, human_size, image_report
from layerlab.tui.task_errors import ReportsTaskFailures

TOP = 10


def one_line(text: str) -> str:
    return " ".join(text.split())


def summary_table(report: ImageReport) -> Table:
    dive, waste = report.dive, report.waste
    table = Table.grid(padding=(0, 2))
    table.add_column(style="bold", no_wrap=True)
    table.add_column()
    table.add_row("efficiency (dive's score)", f"{dive.efficiency * 100:.4f} %")
    table.add_row("wasted bytes (dive)", f"{human_size(dive.wasted_bytes)} ({dive.wasted_bytes} bytes), "
                  f"user wasted {dive.user_wasted_percent * 100:.4f} %")
    table.add_row("reclaimable bytes", f"{human_size(waste.reclaimable_bytes)} ({waste.reclaimable_bytes} bytes)")
    table.add_row("  in your layers", f"{human_size(waste.user_reclaimable_bytes)} "
                  f"({waste.user_reclaimable_percent * 100:.2f} % of {human_size(waste.user_size_bytes)})")
    table.add_row("  in base image layers", human_size(waste.base_reclaimable_bytes))
    return table


def offenders_table(report: ImageReport, removed_style: str) -> Table:
    """One row per offender; what stored it, what made it dead and the fix wrap in their own column."""
    table = Table.grid(padding=(0, 1))
    table.add_column(justify="right", no_wrap=True, style=removed_style)
    table.add_column(ratio=1)
    for offender in report.waste.offenders[:TOP]:
        files = "1 file" if offender.files == 1 else f"{offender.files} files"
        detail = Text()
        detail.append(f"{files}", style="bold")
        if offender.examples:
            detail.append(f"  {', '.join(offender.examples[:3])}")
        detail.append(f"\nstored in layer {offender.stored_layer}: {one_line(offender.stored_instruction)}",
                      style="dim")
        detail.append(f"\nmade dead by layer {offender.caused_by_layer}: "
                      f"{one_line(offender.caused_by_instruction)} ({offender.how})", style="dim")
        detail.append(f"\nfix: {offender.hint}", style="italic")
        table.add_row(human_size(offender.bytes), detail)
    return table


def paths_table(report: ImageReport) -> Table:
    table = Table.grid(padding=(0, 1))
    table.add_column(justify="right", no_wrap=True)
    table.add_column(no_wrap=True, style="dim")
    table.add_column(ratio=1)
    for item in report.waste.paths[:TOP]:
        copies = "1 copy" if item.copies == 1 else f"{item.copies} copies"
        layers = ",".join(map(str, item.layers))
        table.add_row(human_size(item.bytes), f"{copies} in layer{'s' if len(item.layers) > 1 else ''} {layers}",
                      item.path)
    return table


def report_renderable(report: ImageReport, removed_style: str) -> RenderableType:
    parts: list[RenderableType] = [summary_table(report)]
    if report.waste.offenders:
        parts += [Text("\nWorst offenders", style="bold underline"), offenders_table(report, removed_style),
                  Text("\nLargest wasted files", style="bold underline"), paths_table(report)]
    else:
        parts.append(Text("\nNo waste: no file is shipped and then hidden by a later layer.", style="dim"))
    return Group(*parts)


class AnalysisScreen(ReportsTaskFailures, ModalScreen[None]):
    BINDINGS = [Binding("escape,q,a", "close", "Close", id="analysis.close", tooltip="Back to the images")]

    @record
    class Ready(Message):
        report: ImageReport

    def __init__(self, ref: str) -> None:
        super().__init__()
        self.ref = ref

    def compose(self) -> ComposeResult:
        with Vertical(classes="document"):
            yield Label(f"{self.ref}: analysing…", id="analysis-title", classes="document-title")
            with VerticalScroll(id="analysis-scroll"):
                yield Static("", id="analysis-body")

    def on_mount(self) -> None:
        self.query_one("#analysis-scroll").focus()
        self.load_report(self.ref)

    @work(thread=True, exclusive=True, exit_on_error=False, group="analysis", description="analysing the image")
    def load_report(self, ref: str) -> None:
        self.post_message(self.Ready(image_report(self.app.catalog.open_image(ref))))

    @on(Ready)
    def show_report(self, message: Ready) -> None:
        report = message.report
        self.query_one("#analysis-title", Label).update(
            f"{self.ref}  ({report.layer_count} layers, base image: {report.waste.base_layers})  ·  esc closes")
        removed = self.app.theme_variables.get("layer-removed", "red")
        self.query_one("#analysis-body", Static).update(report_renderable(report, removed))

    def task_failed(self, group: str, text: str) -> None:
        self.query_one("#analysis-title", Label).update(f"{self.ref}: {text}")

    def action_close(self) -> None:
        self.dismiss(None)
