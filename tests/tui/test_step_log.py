"""The Build panel's log, one step at a time: keys and a click on a Dockerfile line pick the step."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Log

from layerlab.engine import events
from tests.tui.buildhelpers import SIZE, hello_context, view_lines, wait_for
from tests.tui.test_build_panel import DOCKERFILE
from layerlab.tui.messages import EngineEventBridge
from layerlab.tui.widgets.build import BuildPanel
from layerlab.tui.widgets.key_hints import KeyHints

pytestmark = pytest.mark.anyio


@pytest.fixture
def context(tmp_path: Path) -> Path:
    return hello_context(tmp_path, DOCKERFILE)


def steps() -> tuple[events.StepRef, events.StepRef]:
    copy = events.StepRef(2, "", 2, 3, "COPY hello.txt /hello.txt", 2)
    run = events.StepRef(3, "", 3, 3, "RUN cat /hello.txt", 4)
    return copy, run


async def open_build_log(app, pilot, started: Path | None = None) -> tuple[Log, EngineEventBridge]:
    """The Build panel shown: its log, and a bridge that hands it engine events as a build would
    (``started``: a build of that context has started, at its COPY step)."""
    await pilot.press("4")
    log, bridge = app.query_one("#build-log", Log), EngineEventBridge(app.query_one(BuildPanel))
    if started is not None:
        bridge(events.BuildStarted(dockerfile="Dockerfile", context=str(started), steps=3))
        bridge(events.StepStarted(steps()[0]))
    return log, bridge


async def test_a_step_key_filters_the_log_and_a_shows_all(make_app, context: Path):
    app = make_app(context=context)
    async with app.run_test(size=SIZE) as pilot:
        log, bridge = await open_build_log(app, pilot, started=context)
        copy, run = steps()
        bridge(events.StepLog(copy, "stdout", "copying hello.txt"))
        bridge(events.StepStarted(run))
        for number in range(3):
            bridge(events.StepLog(run, "stdout", f"run line {number}"))
        await wait_for(pilot, lambda: log.line_count == 5)
        assert log.lines[1:] == ["line 2  copying hello.txt", "line 4  run line 0", "line 4  run line 1", "line 4  run line 2"]

        await pilot.press("right_square_bracket")  # the first step
        await wait_for(pilot, lambda: log.lines == ["── build " + str(context) + " ──", "line 2  copying hello.txt"])
        assert "log: line 2 only" in str(app.query_one("#build-status").content)
        await pilot.press("right_square_bracket")
        await wait_for(pilot, lambda: [line for line in log.lines if line.startswith("line ")]
                       == ["line 4  run line 0", "line 4  run line 1", "line 4  run line 2"])
        bridge(events.StepLog(run, "stdout", "run line 3"))
        bridge(events.StepLog(copy, "stdout", "late copy line"))  # another step's line stays out of view
        await wait_for(pilot, lambda: log.lines[-1] == "line 4  run line 3")
        await pilot.pause(0.1)
        assert "line 2  late copy line" not in log.lines
        await pilot.press("a")
        await wait_for(pilot, lambda: log.line_count == 7)
        assert "line 2  late copy line" in log.lines and "log: line" not in str(app.query_one("#build-status").content)


async def test_clicking_a_dockerfile_line_shows_its_step(make_app, context: Path):
    app = make_app(context=context)
    async with app.run_test(size=SIZE) as pilot:
        log, bridge = await open_build_log(app, pilot)
        copy, run = steps()
        bridge(events.StepStarted(copy))
        bridge(events.StepLog(copy, "stdout", "copying"))
        bridge(events.StepStarted(run))
        bridge(events.StepLog(run, "stdout", "running"))
        await wait_for(pilot, lambda: log.line_count == 2)
        await pilot.click("#dockerfile-view", offset=(10, 3))  # line 4: RUN cat /hello.txt
        await wait_for(pilot, lambda: log.lines == ["line 4  running"])
        assert "RUN" in view_lines(app)[3]
        await pilot.click("#dockerfile-view", offset=(10, 3))  # again: every step
        await wait_for(pilot, lambda: log.line_count == 2)


async def test_key_hints_follow_the_panel_and_a_click_presses_the_key(make_app, context: Path):
    app = make_app(context=context)
    async with app.run_test(size=SIZE) as pilot:
        hints = app.query_one(KeyHints)
        assert "S Save" in str(hints.render()) and "Step log" not in str(hints.render())
        await pilot.press("4")
        await pilot.pause()
        text = str(hints.render())
        assert "] Step log" in text and "S Save" not in text and text.rstrip().endswith("^p palette")
        start = text.index(" 1 Images")
        await pilot.click(KeyHints, offset=(start + 2, 0))
        await wait_for(pilot, lambda: app.active_panel == "images")


async def test_a_rebuilt_copy_logs_the_files_it_linked_unchanged(make_app, context: Path):
    app = make_app(context=context)
    async with app.run_test(size=SIZE) as pilot:
        log, bridge = await open_build_log(app, pilot, started=context)
        copy, run = steps()
        bridge(events.StepRebuilt(copy, "hello.txt: content changed"))
        bridge(events.StepFinished(copy, 0.02, "miss", "hello.txt: content changed", reused_files=119))
        bridge(events.StepStarted(run))
        bridge(events.StepFinished(run, 0.1, "miss", "parent (line 2, COPY) was rebuilt"))  # none linked: no line
        await wait_for(pilot, lambda: any("unchanged" in line for line in log.lines))
        await pilot.pause(0.1)
        assert [line for line in log.lines if "unchanged" in line] == [
            "line 2  119 unchanged files linked from this step's last build, not copied again"]
