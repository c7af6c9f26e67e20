"""The app's themes: theme files, each a Textual theme paired with the pygments style that matches it.

Every theme is a TOML file in one format. The built-in ones sit beside this
module (``dark.toml``, ``light.toml``, ``high-contrast.toml``); a person's own
go in the config directory's ``themes/*.toml`` and may replace a built-in by
using its name. A theme file looks like::

    name = "sunset"            # default: the file's name
    aliases = ["sun"]          # other names --theme accepts
    dark = true
    pygments_style = "monokai" # highlighting for Dockerfiles and file previews
    primary = "#ff8c42"        # Textual's colours: primary is required; secondary,
    background = "#1b1b2f"     # accent, warning, error, success, foreground,
                               # background, surface, panel, boost are optional
    [variables]
    layer-added = "#8bd450"

Custom ``$variables`` the app's styles and renderers use have defaults in
``VARIABLE_DEFAULTS`` (the default theme's own), so a theme may leave any of
them out.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pygments.styles import get_style_by_name
from pygments.util import ClassNotFound
from textual.theme import Theme

from layerlab.engine.errors import UsageError

BUILTIN_DIR = Path(__file__).parent
BUILTIN_FILES = ("dark.toml", "light.toml", "high-contrast.toml")  # the first is the default

_COLOURS = ("primary", "secondary", "warning", "error", "success", "accent",
            "foreground", "background", "surface", "panel", "boost")
_NUMBERS = ("luminosity_spread", "text_alpha")
_KNOWN = {"name", "aliases", "dark", "pygments_style", "variables", *_COLOURS, *_NUMBERS}


@dataclass(frozen=True)
class LayerlabTheme:
    theme: Theme
    pygments_style: str
    aliases: tuple[str, ...] = field(default=())

    @property
    def name(self) -> str:
        return self.theme.name


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise UsageError(f"{path}: not a readable theme file: {error}") from None


def _variables(path: Path, data: dict[str, Any]) -> dict[str, str]:
    variables = data.get("variables", {})
    if not isinstance(variables, dict):
        raise UsageError(f"{path}: [variables] must be a table")
    return {str(key): str(value) for key, value in variables.items()}


# The default theme's variables are every other theme's defaults.
VARIABLE_DEFAULTS: dict[str, str] = _variables(BUILTIN_DIR / BUILTIN_FILES[0], _read(BUILTIN_DIR / BUILTIN_FILES[0]))


def load_theme_file(path: Path) -> LayerlabTheme:
    """One theme from a TOML file; a bad file raises ``UsageError`` naming it."""
    data = _read(path)
    unknown = sorted(set(data) - _KNOWN)
    if unknown:
        raise UsageError(f"{path}: unknown theme setting {unknown[0]!r} (known: {', '.join(sorted(_KNOWN))})")
    if not isinstance(data.get("primary"), str):
        raise UsageError(f"{path}: a theme needs a 'primary' colour")
    aliases = data.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(alias, str) for alias in aliases):
        raise UsageError(f"{path}: 'aliases' must be a list of names")
    numbers = {key: float(data[key]) for key in _NUMBERS if isinstance(data.get(key), (int, float))}
    colours = {key: str(data[key]) for key in _COLOURS if key in data}
    try:
        theme = Theme(name=str(data.get("name") or path.stem), dark=bool(data.get("dark", True)),
                      variables={**VARIABLE_DEFAULTS, **_variables(path, data)}, **colours, **numbers)
        # Parse the colours now, so a typo fails here with the file's name, not mid-render.
        theme.to_color_system()
    except Exception as error:  # textual raises several types for bad colours
        raise UsageError(f"{path}: bad colour in theme: {error}") from None
    style = str(data.get("pygments_style") or ("monokai" if theme.dark else "friendly"))
    try:
        get_style_by_name(style)
    except ClassNotFound:
        raise UsageError(f"{path}: unknown pygments_style {style!r}") from None
    return LayerlabTheme(theme, pygments_style=style, aliases=tuple(aliases))


def user_themes(config_dir: Path) -> list[LayerlabTheme]:
    """User themes from ``config_dir/themes/*.toml``, in name order."""
    folder = config_dir / "themes"
    if not folder.is_dir():
        return []
    return [load_theme_file(path) for path in sorted(folder.glob("*.toml"))]


BUILTIN: tuple[LayerlabTheme, ...] = tuple(load_theme_file(BUILTIN_DIR / name) for name in BUILTIN_FILES)
DEFAULT_THEME = BUILTIN[0].name


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
