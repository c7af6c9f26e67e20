"""The app's config file: theme and key bindings, overridable by the user.

``$XDG_CONFIG_HOME/layerlab/tui.toml``::

    theme = "layerlab-light"

    [keymap]
    # binding id = keys (comma-separated for several)
    "images.remove" = "delete,ctrl+d"
    "app.help" = "f1"

Binding ids are listed on the help screen (``?``). User themes live beside
it in ``themes/*.toml`` (see ``themes``). The theme last chosen in the app
(ctrl+t or the palette) is kept beside it in ``last-theme`` and used at the
next start unless ``--theme`` says otherwise.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from layerlab.engine.errors import UsageError
from layerlab.engine.paths import config_dir
from layerlab.engine.record_type import field, record

CONFIG_FILE_NAME = "tui.toml"
LAST_THEME_FILE_NAME = "last-theme"


@record
class TuiConfig:
    theme: str | None = None
    keymap: dict[str, str] = field(default_factory=dict)
    directory: Path | None = None
    last_theme: str | None = None  # chosen in the app, remembered across starts

    def remember_theme(self, name: str) -> None:
        """Keep the theme chosen in the app for the next start; a config dir we cannot write is no error."""
        self.last_theme = name
        if self.directory is None:
            return
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            (self.directory / LAST_THEME_FILE_NAME).write_text(name + "\n", encoding="utf-8")
        except OSError:
            pass

    @classmethod
    def load(cls, directory: Path | None = None) -> "TuiConfig":
        """Read ``tui.toml`` from ``directory`` (default: the config dir); absent means defaults."""
        directory = directory if directory is not None else config_dir()
        path = directory / CONFIG_FILE_NAME
        try:
            last_theme = (directory / LAST_THEME_FILE_NAME).read_text(encoding="utf-8").strip() or None
        except (OSError, UnicodeDecodeError):
            last_theme = None
        if not path.is_file():
            return cls(directory=directory, last_theme=last_theme)
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise UsageError(f"{path}: cannot read config: {error}") from None
        theme = data.get("theme")
        if theme is not None and not isinstance(theme, str):
            raise UsageError(f"{path}: 'theme' must be a string")
        keymap = data.get("keymap", {})
        if not isinstance(keymap, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in keymap.items()
        ):
            raise UsageError(f"{path}: [keymap] maps binding ids to key strings")
        return cls(theme=theme, keymap=dict(keymap), directory=directory, last_theme=last_theme)
