"""The Options dialog (``o`` on Build): the context, its Dockerfile, build args, target and --no-cache.

It dismisses with the chosen context and ``BuildOptions``, or None when cancelled. Bad input (a
folder that is not there, a context with no Dockerfile, an arg without ``=``) is said in the
dialog, which stays open until it is fixed or cancelled.
"""

from __future__ import annotations

import re
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Select

from layerlab.engine.errors import UsageError
from layerlab.tui.build_options import BuildOptions, dockerfile_candidates, parse_build_args_text

_STAGE_NAME = re.compile(r"^\s*FROM\s+(?:--\S+\s+)*\S+\s+AS\s+(\S+)", re.IGNORECASE | re.MULTILINE)


def stage_names(dockerfile: Path) -> list[str]:
    """The named stages of ``dockerfile`` (what --target takes), for the dialog's hint."""
    try:
        return _STAGE_NAME.findall(dockerfile.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError):
        return []


class BuildOptionsScreen(ModalScreen[tuple[Path, BuildOptions] | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="options.cancel", tooltip="Close without changing anything"),
        Binding("ctrl+s", "apply", "Apply", id="options.apply", tooltip="Use these options for the next build"),
    ]

    def __init__(self, context: Path, options: BuildOptions) -> None:
        super().__init__()
        self.context = context
        self.options = options

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="options-dialog"):
            yield Label("Build options  (what `layerlab build` would take)", classes="document-title")
            with Horizontal(classes="option-row"):
                yield Label("Context", classes="option-label")
                yield Input(str(self.context), id="options-context", compact=True)
            with Horizontal(classes="option-row"):
                yield Label("Dockerfile", classes="option-label")
                yield Select(self._dockerfile_choices(self.context), value=self.options.dockerfile,
                             allow_blank=False, id="options-dockerfile", compact=True)
            with Horizontal(classes="option-row"):
                yield Label("Build args", classes="option-label")
                yield Input(self.options.args_text(), placeholder="KEY=VALUE …", id="options-args", compact=True)
            with Horizontal(classes="option-row"):
                yield Label("Target", classes="option-label")
                yield Input(self.options.target, id="options-target", compact=True,
                            placeholder=self._target_hint(self.options.dockerfile_path(self.context)))
            yield Checkbox("--no-cache: rebuild every step", self.options.no_cache, id="options-no-cache",
                           compact=True)
            yield Label("", id="options-error")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Apply (ctrl+s)", id="options-apply", variant="primary", compact=True)
                yield Button("Cancel (esc)", id="options-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#options-dockerfile", Select).focus()

    def _dockerfile_choices(self, context: Path) -> list[tuple[str, str]]:
        names = dockerfile_candidates(context)
        if self.options.dockerfile not in names and context == self.context:
            names.append(self.options.dockerfile)  # a -f FILE outside the context keeps its place
        return [(name, name) for name in names] or [("(no Dockerfile here)", "")]

    def _target_hint(self, dockerfile: Path) -> str:
        stages = stage_names(dockerfile)
        return f"the last stage; or {', '.join(stages)}" if stages else "the last stage"

    @on(Input.Submitted, "#options-context")
    def context_entered(self) -> None:
        """A new context: offer its Dockerfiles."""
        context = Path(self.query_one("#options-context", Input).value.strip()).expanduser()
        select = self.query_one("#options-dockerfile", Select)
        if not context.is_dir():
            self.say(f"{context}: not a directory")
            return
        choices = self._dockerfile_choices(context)
        select.set_options(choices)
        select.value = choices[0][1]
        self.say("")

    @on(Input.Submitted, "#options-args, #options-target")
    def field_entered(self) -> None:
        self.action_apply()  # enter in a field applies, as in any one-line form

    @on(Select.Changed, "#options-dockerfile")
    def dockerfile_chosen(self, event: Select.Changed) -> None:
        if isinstance(event.value, str) and event.value:
            context = Path(self.query_one("#options-context", Input).value.strip()).expanduser()
            dockerfile = BuildOptions(event.value).dockerfile_path(context)
            self.query_one("#options-target", Input).placeholder = self._target_hint(dockerfile)

    def say(self, text: str) -> None:
        self.query_one("#options-error", Label).update(text)

    def chosen(self) -> tuple[Path, BuildOptions]:
        """The dialog's answer; UsageError names what is wrong with it."""
        context = Path(self.query_one("#options-context", Input).value.strip()).expanduser()
        if not context.is_dir():
            raise UsageError(f"{context}: not a directory")
        dockerfile = self.query_one("#options-dockerfile", Select).value
        if not isinstance(dockerfile, str) or not dockerfile:
            raise UsageError(f"{context}: no Dockerfile here")
        options = BuildOptions(dockerfile, parse_build_args_text(self.query_one("#options-args", Input).value),
                               self.query_one("#options-target", Input).value.strip(),
                               self.query_one("#options-no-cache", Checkbox).value)
        if not options.dockerfile_path(context).is_file():
            raise UsageError(f"{options.dockerfile_path(context)}: no such file")
        return context.resolve(), options

    def action_apply(self) -> None:
        try:
            answer = self.chosen()
        except UsageError as error:
            self.say(error.one_line())
            return
        self.dismiss(answer)

    def action_cancel(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "options-apply":
            self.action_apply()
        else:
            self.action_cancel()


__all__ = ["BuildOptionsScreen", "stage_names"]
