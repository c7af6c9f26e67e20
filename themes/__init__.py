"""Themes for the app, each paired with the pygments style that matches it.

Every theme the app can show is registered here, in one place: the built-in
three (dark, light, high contrast) and any user theme files found in the
config directory (``themes/*.toml``). A theme file looks like::

    name = "sunset"
    dark = true
    pygments_style = "monokai"
    primary = "#ff8c42"
    background = "#1b1b2f"
    [variables]
    layer-added = "#8bd450"

Custom ``$variables`` the app's styles and renderers use have defaults in
``VARIABLE_DEFAULTS`` so a theme may leave any of them out.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from textual.theme import Theme

from layerlab.engine.errors import UsageError

# Colours for layer changes and build marks; every theme may override them.
VARIABLE_DEFAULTS: dict[str, str] = {
    "layer-added": "#4ec94e",
    "layer-modified": "#e5c07b",
    "layer-removed": "#e06c75",
    "gutter-cached": "#4ec94e",
    "gutter-rebuilt": "#e5a550",
    "gutter-running": "#61afef",
    "gutter-failed": "#e06c75",
    "size-bar": "#61afef",
}


@dataclass(frozen=True)
class LayerlabTheme:
    theme: Theme
    pygments_style: str
    aliases: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.theme.name


DARK = LayerlabTheme(
    Theme(
        name="layerlab-dark",
        primary="#61afef",
        secondary="#c678dd",
        accent="#e5c07b",
        warning="#e5a550",
        error="#e06c75",
        success="#98c379",
        foreground="#d7dae0",
        background="#1e2127",
        surface="#262a31",
        panel="#30353e",
        dark=True,
        variables=dict(VARIABLE_DEFAULTS),
    ),
    pygments_style="one-dark",
    aliases=("dark",),
)

LIGHT = LayerlabTheme(
    Theme(
        name="layerlab-light",
        primary="#0b63c4",
        secondary="#8a3ab9",
        accent="#a56200",
        warning="#b35900",
        error="#c0262d",
        success="#2b7a0b",
        foreground="#1f2328",
        background="#fafafa",
        surface="#f0f0f0",
        panel="#e3e6ea",
        dark=False,
        variables={
            "layer-added": "#2b7a0b",
            "layer-modified": "#8a6100",
            "layer-removed": "#c0262d",
            "gutter-cached": "#2b7a0b",
            "gutter-rebuilt": "#b35900",
            "gutter-running": "#0b63c4",
            "gutter-failed": "#c0262d",
            "size-bar": "#0b63c4",
        },
    ),
    pygments_style="friendly",
    aliases=("light",),
)

HIGH_CONTRAST = LayerlabTheme(
    Theme(
        name="layerlab-high-contrast",
        primary="#ffff00",
        secondary="#00ffff",
        accent="#ff00ff",
        warning="#ffaf00",
        error="#ff0000",
        success="#00ff00",
        foreground="#ffffff",
        background="#000000",
        surface="#000000",
        panel="#1c1c1c",
        dark=True,
        luminosity_spread=0.05,
        text_alpha=1.0,
        variables={
            "layer-added": "#00ff00",
            "layer-modified": "#ffff00",
            "layer-removed": "#ff0000",
            "gutter-cached": "#00ff00",
            "gutter-rebuilt": "#ffaf00",
            "gutter-running": "#00ffff",
            "gutter-failed": "#ff0000",
            "size-bar": "#ffffff",
        },
    ),
    pygments_style="github-dark",
    aliases=("high-contrast", "hc"),
)

BUILTIN: tuple[LayerlabTheme, ...] = (DARK, LIGHT, HIGH_CONTRAST)
DEFAULT_THEME = DARK.name

_THEME_FIELDS = ("primary", "secondary", "warning", "error", "success", "accent",
                 "foreground", "background", "surface", "panel", "boost")


def load_theme_file(path: Path) -> LayerlabTheme:
    """One user theme from a TOML file; a bad file raises ``UsageError`` naming it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise UsageError(f"{path}: not a readable theme file: {error}") from None
    name = data.get("name") or path.stem
    primary = data.get("primary")
    if not isinstance(primary, str):
        raise UsageError(f"{path}: a theme needs a 'primary' colour")
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise UsageError(f"{path}: [variables] must be a table")
    colours = {key: str(data[key]) for key in _THEME_FIELDS if key in data}
    try:
        theme = Theme(name=str(name), dark=bool(data.get("dark", True)),
                      variables={**VARIABLE_DEFAULTS, **{k: str(v) for k, v in variables.items()}},
                      **colours)
        # Parse the colours now, so a typo fails here with the file's name, not mid-render.
        theme.to_color_system()
    except Exception as error:  # textual raises several types for bad colours
        raise UsageError(f"{path}: bad colour in theme: {error}") from None
    style = str(data.get("pygments_style") or ("monokai" if theme.dark else "friendly"))
    return LayerlabTheme(theme, pygments_style=style)


def user_themes(config_dir: Path) -> list[LayerlabTheme]:
    """User themes from ``config_dir/themes/*.toml``, in name order."""
    folder = config_dir / "themes"
    if not folder.is_dir():
        return []
    return [load_theme_file(path) for path in sorted(folder.glob("*.toml"))]


@dataclass
class ThemeRegistry:
    """Every theme the app offers, by name, with its pygments style."""

    themes: dict[str, LayerlabTheme] = field(default_factory=dict)

    @classmethod
    def with_builtins(cls, config_dir: Path | None = None) -> "ThemeRegistry":
        registry = cls()
        for entry in BUILTIN:
            registry.add(entry)
        if config_dir is not None:
            for entry in user_themes(config_dir):
                registry.add(entry)
        return registry

    def add(self, entry: LayerlabTheme) -> None:
        self.themes[entry.name] = entry

    def resolve(self, name: str) -> LayerlabTheme:
        """A theme by its name or alias (``dark``, ``light``, ``high-contrast``)."""
        if name in self.themes:
            return self.themes[name]
        for entry in self.themes.values():
            if name in entry.aliases:
                return entry
        known = ", ".join(sorted(self.themes))
        raise UsageError(f"unknown theme {name!r}; known themes: {known}")

    def pygments_style(self, theme_name: str) -> str:
        entry = self.themes.get(theme_name)
        if entry is not None:
            return entry.pygments_style
        # A Textual built-in theme chosen from the palette: a plausible match.
        return "monokai" if not theme_name.endswith("light") else "friendly"

    def names(self) -> list[str]:
        return list(self.themes)
