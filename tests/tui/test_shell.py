"""The app shell: themes, config file keymaps, help screen, command palette, CLI entry."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import DataTable, TabbedContent

from layerlab.engine.errors import UsageError
from layerlab.themes import BUILTIN, ThemeRegistry, load_theme_file
from layerlab.tui.config import TuiConfig
from layerlab.tui.screens.help import HelpScreen
from tests.tui.conftest import wait_for

pytestmark = pytest.mark.anyio

SIZE = (120, 40)


def test_builtin_themes_have_matching_pygments_styles():
    from pygments.styles import get_style_by_name

    registry = ThemeRegistry.with_builtins()
    assert {"layerlab-dark", "layerlab-light", "layerlab-high-contrast"} <= set(registry.names())
    for entry in BUILTIN:
        get_style_by_name(entry.pygments_style)  # raises when the style does not exist
    assert registry.resolve("light").name == "layerlab-light"
    assert registry.resolve("high-contrast").pygments_style == "github-dark"
    with pytest.raises(UsageError, match="unknown theme 'neon'"):
        registry.resolve("neon")


def test_user_theme_files_load_and_bad_ones_name_the_file(tmp_path: Path):
    themes = tmp_path / "themes"
    themes.mkdir()
    (themes / "sunset.toml").write_text('primary = "#ff8c42"\nbackground = "#1b1b2f"\npygments_style = "monokai"\n'
                                        '[variables]\nlayer-added = "#8bd450"\n')
    registry = ThemeRegistry.with_builtins(tmp_path)
    sunset = registry.resolve("sunset")
    assert sunset.pygments_style == "monokai"
    assert sunset.theme.variables["layer-added"] == "#8bd450"
    assert sunset.theme.variables["layer-removed"]  # defaults fill the rest
    (themes / "broken.toml").write_text('primary = "not a colour"\n')
    with pytest.raises(UsageError, match="broken.toml"):
        load_theme_file(themes / "broken.toml")


def test_config_file_reads_theme_and_keymap(tmp_path: Path):
    (tmp_path / "tui.toml").write_text('theme = "light"\n[keymap]\n"images.remove" = "x"\n')
    config = TuiConfig.load(tmp_path)
    assert config.theme == "light" and config.keymap == {"images.remove": "x"}
    (tmp_path / "tui.toml").write_text("[keymap]\nx = 1\n")
    with pytest.raises(UsageError, match="tui.toml"):
        TuiConfig.load(tmp_path)
    assert TuiConfig.load(tmp_path / "absent").keymap == {}


async def test_theme_switches_at_runtime_with_its_pygments_style(make_app):
    app = make_app(theme="light")
    async with app.run_test(size=SIZE) as pilot:
        assert app.theme == "layerlab-light" and app.pygments_style == "friendly"
        await pilot.press("ctrl+t")
        assert app.theme == "layerlab-high-contrast" and app.pygments_style == "github-dark"


async def test_keymap_from_config_rebinds_and_help_lists_it(make_app, config: TuiConfig):
    config.keymap = {"app.files": "f", "images.sort": "o"}
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one("#images-table", DataTable)
        for _ in range(100):
            if table.row_count:
                break
            await pilot.pause(0.02)
        await pilot.press("o")
        assert app.query_one("#images-panel").sort_key == "created"
        await pilot.press("f")
        assert app.query_one(TabbedContent).active == "files"
        await pilot.press("3")  # the default key no longer switches
        await pilot.press("1")
        assert app.query_one(TabbedContent).active == "images"
        await pilot.press("question_mark")
        assert isinstance(app.screen, HelpScreen)
        help_table = app.screen.query_one(DataTable)
        rows = {str(help_table.get_cell(key, "id")): str(help_table.get_cell(key, "keys")) for key in help_table.rows}
        assert rows["app.files"] == "f"
        assert rows["images.remove"] == "d, del" and rows["app.help"] == "?, f1"  # as a person types them
        await pilot.press("escape")
        assert not isinstance(app.screen, HelpScreen)


async def test_command_palette_offers_panel_commands(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Reload" in titles and "Show files" in titles and "Show images" not in titles
        await pilot.press("3")
        titles = [command.title for command in app.get_system_commands(app.screen)]
        assert "Changes/aggregated" in titles and "Expand all" in titles
        await pilot.press("ctrl+p")
        await pilot.press(*"show build", "enter")
        await pilot.pause(0.1)
        assert app.query_one(TabbedContent).active == "build"


async def test_tag_and_remove_follow_docker_untag_rules(make_app, store):
    from layerlab.tui.screens.dialogs import ConfirmScreen, PromptScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one("#images-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        table.move_cursor(row=1)  # demo/app:1.0
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, PromptScreen))
        await pilot.press(*"demo/app:2.0", "enter")
        await wait_for(pilot, lambda: table.row_count == 4)
        assert "demo/app:2.0" in [str(key.value) for key in table.rows]
        table.move_cursor(row=1)
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "Untag demo/app:1.0" in str(app.screen.query_one("#confirm-question").content)
        await pilot.press("n")  # declined: nothing changes
        await wait_for(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        await pilot.pause(0.1)
        assert table.row_count == 4
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: table.row_count == 3)
        assert "demo/app:1.0" not in [str(key.value) for key in table.rows]
        assert store.image("demo/app:latest")  # the image stays under its other tags


def test_cli_rejects_a_bad_theme_and_a_missing_context(cli, tmp_path: Path):
    result = cli("tui", "--theme", "neon")
    assert result.code == 2 and "unknown theme 'neon'" in result.err and "Traceback" not in result.err
    result = cli("tui", str(tmp_path / "nope"))
    assert result.code == 2 and "not a directory" in result.err
    result = cli("tui", "--watch")
    assert result.code == 2 and "--watch needs a CONTEXT" in result.err


async def test_images_refresh_when_another_process_changes_the_store(make_app, root: Path):
    import subprocess
    import sys

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one("#images-table", DataTable)
        await wait_for(pilot, lambda: table.row_count == 3)
        await pilot.pause(0.5)  # the store watcher is up
        subprocess.run([sys.executable, "-m", "layerlab", "--root", str(root), "tag", "busybox:latest", "mine:1"],
                       check=True, capture_output=True, cwd=Path(__file__).resolve().parents[2])
        await wait_for(pilot, lambda: table.row_count == 4)
        assert "mine:1" in [str(key.value) for key in table.rows]


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_the_theme_chosen_in_the_app_is_the_next_starts_theme(make_app, config: TuiConfig, size):
    app = make_app()
    async with app.run_test(size=size) as pilot:
        first = app.theme
        await pilot.press("ctrl+t")
        chosen = app.theme
        assert chosen != first
    again = make_app(config=TuiConfig.load(config.directory))
    async with again.run_test(size=SIZE):
        assert again.theme == chosen
    flagged = make_app(config=TuiConfig.load(config.directory), theme="light")
    async with flagged.run_test(size=SIZE):
        assert flagged.theme == "layerlab-light"  # --theme still wins
    after = make_app(config=TuiConfig.load(config.directory))
    async with after.run_test(size=SIZE):
        assert after.theme == chosen  # for that start only: what is remembered is what was chosen in the app


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_an_unknown_keymap_id_is_warned_about(make_app, config: TuiConfig, size):
    config.keymap = {"images.sort": "o", "images.srot": "p"}
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await pilot.pause()
        texts = [str(notification.message) for notification in app._notifications]
        assert any("'images.srot'" in text and "help screen" in text for text in texts)
        assert not any("'images.sort'" in text for text in texts)
