"""Small modal screens: confirm a destructive action, ask for one line of text, a save target, show a document."""

from __future__ import annotations

from pathlib import Path

from rich.syntax import Syntax
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, RadioButton, RadioSet, Static

from layerlab.engine.api.saving import saves_directory
from layerlab.engine.record_type import record


class ConfirmScreen(ModalScreen[bool]):
    """Yes or no; dismisses with True only on an explicit yes."""

    BINDINGS = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes", tooltip="Confirm"),
        Binding("n,escape", "answer(False)", "No", id="confirm.no", tooltip="Cancel"),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question, id="confirm-question")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Yes (y)", id="confirm-yes", variant="error")
                yield Button("No (n)", id="confirm-no", variant="primary")

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-yes")


class PromptScreen(ModalScreen[str | None]):
    """One line of text; None when cancelled."""

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="prompt.cancel", tooltip="Close without changing anything")]

    def __init__(self, question: str, value: str = "", placeholder: str = "") -> None:
        super().__init__()
        self.question = question
        self.value = value
        self.placeholder = placeholder

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(self.question)
            yield Input(self.value, placeholder=self.placeholder, id="prompt-input")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self.dismiss(event.value.strip() or None)

    def action_cancel(self) -> None:
        self.dismiss(None)


@record(frozen=True)
class SaveRequest:
    path: Path
    format: str  # a key of ``layerlab.engine.api.saving.SAVE_FORMATS``


class SaveScreen(ModalScreen[SaveRequest | None]):
    """Where to save an image and in which format; None when cancelled.

    The suggested path follows the format (``name.tar`` for an archive, ``name``
    for a layout directory) until the user edits it.
    """

    BINDINGS = [Binding("escape", "cancel", "Cancel", id="save.cancel", tooltip="Close without saving")]

    def __init__(self, ref: str, stem: str, formats: dict[str, str]) -> None:
        super().__init__()
        self.ref = ref
        self.stem = stem
        self.formats = formats
        self.format = next(iter(formats))

    def suggestion(self, format: str) -> str:
        return self.stem if saves_directory(format) else f"{self.stem}.tar"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Label(f"Save {self.ref} to (enter saves, tab picks the format)")
            yield Input(self.suggestion(self.format), id="save-path")
            with RadioSet(id="save-format"):
                for index, (name, what) in enumerate(self.formats.items()):
                    yield RadioButton(f"{name}: {what}", value=index == 0, name=name)

    def on_mount(self) -> None:
        self.query_one("#save-path", Input).focus()

    def on_radio_set_changed(self, event: RadioSet.Changed) -> None:
        path = self.query_one("#save-path", Input)
        previous, self.format = self.format, event.pressed.name or self.format
        if path.value == self.suggestion(previous):
            path.value = self.suggestion(self.format)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        value = event.value.strip()
        self.dismiss(SaveRequest(Path(value).expanduser(), self.format) if value else None)

    def action_cancel(self) -> None:
        self.dismiss(None)


class DocumentScreen(ModalScreen[None]):
    """A read-only document (an image's config JSON), highlighted."""

    BINDINGS = [Binding("escape,q", "close", "Close", id="document.close", tooltip="Back to the panel")]

    def __init__(self, title: str, text: str, lexer: str, pygments_style: str) -> None:
        super().__init__()
        self.title_text = title
        self.text = text
        self.lexer = lexer
        self.pygments_style = pygments_style

    def compose(self) -> ComposeResult:
        with Vertical(classes="document"):
            yield Label(self.title_text, classes="document-title")
            with VerticalScroll():
                yield Static(Syntax(self.text, self.lexer, theme=self.pygments_style, word_wrap=True),
                             id="document-body")

    def action_close(self) -> None:
        self.dismiss(None)
