"""Pick what a prediction supposes: a file of the build context, or a build arg and its new value.

Enter on a file predicts its edit at once; enter on an ARG puts ``NAME=`` in the line below to
type the value. The line takes what ``build --predict`` takes: ``PATH`` or ``ARG=VALUE``, several
separated by spaces to suppose them all at once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from layerlab.engine.api.predicting import PredictChoices, change_of, parse_change, prediction_choices
from layerlab.engine.errors import LayerlabError

if TYPE_CHECKING:
    from layerlab.engine.builder.predict import Change
    from layerlab.engine.builder.request import BuildRequest

FILE_PREFIX, ARG_PREFIX = "file:", "arg:"


class PredictPicker(ModalScreen["Change | None"]):
    DEFAULT_CSS = """
    PredictPicker { align: center middle; }
    PredictPicker #predict-choices { height: auto; max-height: 14; }
    PredictPicker #predict-error { color: $error; height: auto; }
    """
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="predict.cancel", tooltip="Close without predicting")]

    def __init__(self, request: "BuildRequest") -> None:
        super().__init__()
        self.request = request

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label("Predict: which steps would rebuild if this changed? (nothing is built)")
            yield OptionList(id="predict-choices")
            yield Input(placeholder="PATH or ARG=VALUE (several: spaces between), then enter", id="predict-line", select_on_focus=False)
            yield Label("", id="predict-error")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()
        self.load_choices()

    @work(thread=True, exit_on_error=False, group="predict-choices", description="reading the context")
    def load_choices(self) -> None:
        try:
            choices = prediction_choices(self.request)
        except (LayerlabError, OSError) as error:
            text = error.one_line() if isinstance(error, LayerlabError) else str(error)
            self.app.call_from_thread(self.show_error, text)
            return
        self.app.call_from_thread(self.show_choices, choices)

    def show_choices(self, choices: PredictChoices) -> None:
        options = self.query_one(OptionList)
        for name, default in choices.args:
            shown = "no default" if default is None else f"now {default}"
            options.add_option(Option(f"ARG {name}  ({shown}): type a new value", id=ARG_PREFIX + name))
        for path in choices.files:
            note = "  (excluded by .dockerignore)" if path in choices.excluded else ""
            options.add_option(Option(f"{path}{note}", id=FILE_PREFIX + path))
        if choices.truncated:
            options.add_option(Option(f"… the first {len(choices.files)} files only: type a path below",
                                      disabled=True))
        if options.option_count:
            options.highlighted = 0

    def show_error(self, text: str) -> None:
        self.query_one("#predict-error", Label).update(text)

    @on(OptionList.OptionSelected, "#predict-choices")
    def chosen(self, event: OptionList.OptionSelected) -> None:
        option_id = event.option.id or ""
        if option_id.startswith(FILE_PREFIX):
            self.dismiss(change_of(paths=[option_id.removeprefix(FILE_PREFIX)]))
            return
        line = self.query_one("#predict-line", Input)
        line.value = option_id.removeprefix(ARG_PREFIX) + "="
        line.cursor_position = len(line.value)
        line.focus()

    @on(Input.Submitted, "#predict-line")
    def typed(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        if not text:
            return
        try:
            self.dismiss(parse_change(text.split(), self.request.context_dir))
        except LayerlabError as error:
            self.show_error(error.one_line())

    def action_cancel(self) -> None:
        self.dismiss(None)
