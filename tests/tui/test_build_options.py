"""Build options in the app: `tui -f/--build-arg/--target/--no-cache`, and the Options dialog that
changes them (a context with two Dockerfiles, as sample_contexts/cache-order has)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from textual.widgets import Checkbox, Input, Label, Select

from layerlab.engine import events
from layerlab.engine.errors import UsageError
from layerlab.tui.build_options import BuildOptions, dockerfile_candidates, options_for, parse_build_args_text
from layerlab.tui.messages import EngineEvent
from layerlab.tui.screens.options_dialog import BuildOptionsScreen
from tests.tui.buildhelpers import SIZE, wait_for

pytestmark = pytest.mark.anyio

REPO = Path(__file__).resolve().parents[2]
TWO_STAGES = "FROM busybox AS one\nARG GREETING=hello\nCOPY a.txt /a.txt\nFROM one AS two\nCOPY b.txt /b.txt\n"


@pytest.fixture
def context(tmp_path: Path) -> Path:
    folder = tmp_path / "two-files"
    folder.mkdir()
    (folder / "Dockerfile.first").write_text("FROM busybox\nCOPY a.txt /a.txt\n")
    (folder / "Dockerfile.second").write_text(TWO_STAGES)
    (folder / "a.txt").write_text("a\n")
    (folder / "b.txt").write_text("b\n")
    return folder


def test_options_from_the_command_line(context: Path, tmp_path: Path, monkeypatch):
    assert dockerfile_candidates(REPO / "sample_contexts" / "cache-order") == ["Dockerfile.busting",
                                                                               "Dockerfile.friendly"]
    # no Dockerfile: the context's first other one
    assert options_for(context) == BuildOptions("Dockerfile.first")
    monkeypatch.chdir(tmp_path)
    chosen = options_for(context, dockerfile="two-files/Dockerfile.second", build_args=["A=1", "B=x y"],
                         target="one", no_cache=True)
    assert chosen == BuildOptions("Dockerfile.second", (("A", "1"), ("B", "x y")), "one", True)
    assert chosen.flags() == "-f Dockerfile.second --build-arg A=1 --build-arg B=x y --target one --no-cache"
    assert options_for(context, dockerfile="Dockerfile.first").dockerfile == "Dockerfile.first"  # from the context
    with pytest.raises(UsageError, match="-f nope: no such file"):
        options_for(context, dockerfile="nope")
    with pytest.raises(UsageError, match="expected KEY=VALUE"):
        options_for(context, build_args=["=1"])
    assert parse_build_args_text("A=1 B='two words'") == (("A", "1"), ("B", "two words"))


def test_tui_refuses_bad_options_in_one_line(tmp_path: Path, context: Path):
    def run(*argv: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "layerlab", "--root", str(tmp_path / "root"), "tui", *argv],
                              capture_output=True, text=True, cwd=REPO, timeout=60)

    missing = run(str(context), "-f", "nope")
    assert missing.returncode != 0 and missing.stderr.strip() == "layerlab: -f nope: no such file"
    alone = run("--target", "one")
    assert alone.returncode != 0 and "need a CONTEXT" in alone.stderr and "Traceback" not in alone.stderr


async def test_options_dialog_picks_the_dockerfile_args_target_and_no_cache(make_app, context: Path):
    from tests.peers import need_program

    need_program("runc")
    app = make_app(context=context)
    seen: list = []
    async with app.run_test(size=SIZE, message_hook=lambda m: seen.append(m.event)
                            if isinstance(m, EngineEvent) else None) as pilot:
        await pilot.press("4")
        title = app.query_one("#build-title", Label)
        await wait_for(pilot, lambda: "Dockerfile.first" in str(title.render()))
        await pilot.press("o")
        await wait_for(pilot, lambda: isinstance(app.screen, BuildOptionsScreen))
        dialog = app.screen
        dialog.query_one("#options-dockerfile", Select).value = "Dockerfile.second"
        await pilot.pause()
        assert "one, two" in dialog.query_one("#options-target", Input).placeholder  # its stages, as a hint
        dialog.query_one("#options-args", Input).value = "GREETING=hi =oops"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "KEY=VALUE" in str(dialog.query_one("#options-error", Label).render()))
        assert app.screen is dialog  # bad input is said in place; nothing changed
        dialog.query_one("#options-args", Input).value = "GREETING=hi"
        dialog.query_one("#options-target", Input).value = "one"
        dialog.query_one("#options-no-cache", Checkbox).value = True
        dialog.query_one("#options-target", Input).focus()
        await pilot.press("enter")  # enter in a field applies
        await wait_for(pilot, lambda: not isinstance(app.screen, BuildOptionsScreen))
        assert app.build_options == BuildOptions("Dockerfile.second", (("GREETING", "hi"),), "one", True)
        await wait_for(pilot, lambda: "--target one" in str(title.render()))
        assert str(title.render()).startswith("two-files/Dockerfile.second")

        await pilot.press("b")
        await wait_for(pilot, lambda: any(isinstance(e, (events.BuildFinished, events.BuildFailed)) for e in seen))
        started = next(e for e in seen if isinstance(e, events.BuildStarted))
        assert started.dockerfile.endswith("Dockerfile.second") and started.target == "one"
        lines = {e.step.dockerfile_line for e in seen if isinstance(e, events.StepStarted)}
        assert lines == {1, 2, 3}  # stage two (lines 4-5) is past the target
        assert all(e.reason == "--no-cache" for e in seen if isinstance(e, events.StepRebuilt))
        assert any(isinstance(e, events.BuildFinished) for e in seen)


async def test_buildkit_view_notes_the_lines_buildkit_builds_differently(make_app, tmp_path: Path):
    from tests.tui.buildhelpers import view_lines

    context = tmp_path / "volumes"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nUSER app\nWORKDIR /srv\nVOLUME /data\nRUN echo hi > /data/x\n"
                                        "CMD [\"sh\"]\n")
    app = make_app(context=context)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("4")
        await wait_for(pilot, lambda: len(view_lines(app)) == 6)
        lines = view_lines(app)
        assert "ⓑ BuildKit: no intermediate image per step" in lines[0]
        assert "ⓑ BuildKit: dirs it creates belong to USER app, not root" in lines[2]
        assert "ⓑ BuildKit: keeps what it writes under VOLUME /data" in lines[4]
        assert "ⓑ" not in lines[1] + lines[3] + lines[5]
        await pilot.press("k")
        await wait_for(pilot, lambda: not any("ⓑ" in line for line in view_lines(app)))
        await pilot.press("k")
        await wait_for(pilot, lambda: "ⓑ" in view_lines(app)[4])
