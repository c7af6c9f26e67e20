"""A one-line footer of the keys that work here, drawn as text.

Textual's ``Footer`` recomposes on every focus change: a new widget per key,
each styled and laid out. A panel switch moves focus, so that cost landed on
every switch (most of its time). This footer keeps the same look (colours
from the theme's ``$footer-*`` variables) but redraws one line of text, and
only when the keys shown actually changed. A click on a key presses it.
"""

from __future__ import annotations

from rich.text import Text
from textual import events
from textual.screen import Screen
from textual.widget import Widget


class KeyHints(Widget, can_focus=False):
    COMPONENT_CLASSES = {"key-hints--key", "key-hints--description", "key-hints--disabled"}

    DEFAULT_CSS = """
    KeyHints {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        .key-hints--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        .key-hints--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        .key-hints--disabled {
            text-style: dim;
        }
    }
    """

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.hints: tuple[tuple[str, str, str, bool], ...] = ()  # (key, shown key, description, enabled)
        self.spans: list[tuple[int, int, str]] = []  # x range of each hint -> the key it presses

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)
        self.bindings_changed(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen) -> None:
        if not self.is_attached or screen is not self.screen:
            return
        hints = self.current_hints()
        if hints != self.hints:  # most focus changes inside a panel leave the keys as they were
            self.hints = hints
            self.refresh()

    def current_hints(self) -> tuple[tuple[str, str, str, bool], ...]:
        seen_actions: set[str] = set()
        hints = []
        palette_key = self.app.COMMAND_PALETTE_BINDING
        for key, (_node, binding, enabled, _tooltip) in self.screen.active_bindings.items():
            if key == palette_key or not binding.show or binding.action in seen_actions:
                continue
            seen_actions.add(binding.action)
            hints.append((binding.key, self.app.get_key_display(binding), binding.description, enabled))
        if self.app.ENABLE_COMMAND_PALETTE and palette_key in self.screen.active_bindings:
            _node, binding, enabled, _tooltip = self.screen.active_bindings[palette_key]
            hints.append((binding.key, self.app.get_key_display(binding), "palette", enabled))
        return tuple(hints)

    def render(self) -> Text:
        """The hints from the left, as many whole ones as fit; the command palette's key kept at the right edge."""
        key_style = self.get_component_rich_style("key-hints--key")
        description_style = self.get_component_rich_style("key-hints--description")
        disabled_style = self.get_component_rich_style("key-hints--disabled", partial=True)
        palette_key = self.app.COMMAND_PALETTE_BINDING
        *hints, last = self.hints or (("", "", "", True),)
        palette = last if last[0] == palette_key else None
        if palette is None:
            hints.append(last)
        width = self.size.width
        palette_text = Text()
        if palette is not None:
            palette_text.append("▏", "dim")
            self.append_hint(palette_text, palette, key_style, description_style, disabled_style)
        line = Text(no_wrap=True, overflow="crop")
        self.spans = []
        room = max(0, width - palette_text.cell_len)
        for hint in hints:
            if not hint[0]:
                continue
            piece = Text()
            self.append_hint(piece, hint, key_style, description_style, disabled_style)
            if line.cell_len + piece.cell_len > room:
                break  # whole hints only: a key cut off from its word ("p▏") says nothing
            start = line.cell_len
            line.append_text(piece)
            self.spans.append((start, line.cell_len, hint[0]))
        line.truncate(room, pad=True)
        if palette is not None:
            self.spans.append((room, width, palette[0]))
            line.append_text(palette_text)
        return line

    @staticmethod
    def append_hint(line: Text, hint: tuple[str, str, str, bool], key_style, description_style,
                    disabled_style) -> None:
        _key, shown, description, enabled = hint
        line.append(f" {shown} ", key_style if enabled else key_style + disabled_style)
        line.append(f"{description} ", description_style if enabled else description_style + disabled_style)

    def on_click(self, event: events.Click) -> None:
        for start, end, key in self.spans:
            if start <= event.x < end:
                self.app.simulate_key(key)
                return
