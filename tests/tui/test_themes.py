"""Themes are TOML files: the built-in ones and a person's own share one format and one loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerlab.engine.errors import UsageError
from layerlab.themes import BUILTIN, BUILTIN_DIR, VARIABLE_DEFAULTS, ThemeRegistry, load_theme_file


def test_a_builtin_theme_file_copied_to_the_config_dir_is_a_user_theme(tmp_path: Path) -> None:
    themes = tmp_path / "themes"
    themes.mkdir()
    text = (BUILTIN_DIR / "high-contrast.toml").read_text()
    (themes / "mine.toml").write_text(text.replace('name = "layerlab-high-contrast"', 'name = "mine"')
                                      .replace('aliases = ["high-contrast", "hc"]', 'aliases = ["m"]')
                                      .replace('size-bar = "#ffffff"', 'size-bar = "#123456"'))
    registry = ThemeRegistry.with_builtins(tmp_path)
    mine, builtin = registry.resolve("m"), registry.resolve("hc")
    assert mine.name == "mine" and mine.pygments_style == builtin.pygments_style == "github-dark"
    assert mine.theme.primary == builtin.theme.primary and mine.theme.text_alpha == builtin.theme.text_alpha == 1.0
    assert mine.theme.variables["size-bar"] == "#123456" and builtin.theme.variables["size-bar"] == "#ffffff"


def test_every_builtin_sets_every_variable_the_app_uses() -> None:
    assert [entry.name for entry in BUILTIN] == ["layerlab-dark", "layerlab-light", "layerlab-high-contrast"]
    for entry in BUILTIN:
        assert set(entry.theme.variables) == set(VARIABLE_DEFAULTS)


@pytest.mark.parametrize("text, complaint", [
    ('primary = "#ffffff"\npygments_style = "no-such-style"\n', "unknown pygments_style 'no-such-style'"),
    ('primary = "#ffffff"\nprimry = "#000000"\n', "unknown theme setting 'primry'"),
    ('background = "#000000"\n', "needs a 'primary' colour"),
    ('primary = "#ffffff"\naliases = "x"\n', "'aliases' must be a list"),
    ('primary = "#ffffff"\n[variables\n', "not a readable theme file"),
])
def test_a_bad_theme_file_gets_one_line_naming_it(tmp_path: Path, text: str, complaint: str) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(UsageError, match="bad.toml") as caught:
        load_theme_file(path)
    assert complaint in str(caught.value)
