"""The Build panel renders the build event stream; watch mode re-reads the Dockerfile."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Log

from layerlab.engine import events
from layerlab.tui.messages import BuildLogPending, EngineEventBridge
from layerlab.tui.widgets.build import BuildPanel

from tests.tui.buildhelpers import SIZE, cached, finished, hello_context, post_events, step_ref, view_lines, wait_for

pytestmark = pytest.mark.anyio

DOCKERFILE = "FROM busybox\nCOPY hello.txt /hello.txt\n\nRUN cat /hello.txt\n"


@pytest.fixture
def context(tmp_path: Path) -> Path:
    return hello_context(tmp_path, DOCKERFILE)




async def test_dockerfile_shows_with_empty_gutter(make_app, context: Path):
    app = make_app(context=context)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(view_lines(app)) == 4)
        lines = view_lines(app)
        assert lines[0] == "   1 FROM busybox  ⓑ BuildKit: no intermediate image per step"  # BuildKit's view
        assert lines[3] == "   4 RUN cat /hello.txt"


async def test_build_events_mark_the_gutter_and_flips_show(make_app, context: Path):
    app = make_app(context=context)
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(BuildPanel)
        await wait_for(pilot, lambda: len(view_lines(app)) == 4)

        def build(copy_cached: bool) -> None:
            base, copy, run = step_ref(1, 1, "FROM busybox"), step_ref(2, 2, "COPY hello.txt /hello.txt"), \
                step_ref(3, 4, "RUN cat /hello.txt")
            post_events(panel, events.BuildStarted(dockerfile="Dockerfile", context="hello", steps=3),
                        events.StepStarted(base), cached(base),
                        events.StepStarted(copy),
                        cached(copy) if copy_cached else events.StepRebuilt(copy, "hello.txt changed"),
                        events.StepStarted(run),
                        cached(run) if copy_cached else events.StepRebuilt(run, "parent rebuilt"),
                        finished("hello:latest", 1.5))

        build(copy_cached=True)
        await wait_for(pilot, lambda: "built hello:latest" in str(app.query_one("#build-status").content))
        lines = view_lines(app)
        assert lines[0].startswith(" ✓ 1 FROM busybox")
        assert lines[1].startswith(" ✓ 2 COPY")
        assert lines[2].strip() == "3"
        build(copy_cached=False)
        await wait_for(pilot, lambda: "1 cached, 2 rebuilt" in str(app.query_one("#build-status").content))
        lines = view_lines(app)
        assert lines[0].startswith(" ✓ ")
        assert lines[1].startswith(" ↻ ") and "cached → rebuilt hello.txt changed" in lines[1]
        assert lines[3].startswith(" ↻ ") and "parent rebuilt" in lines[3]
        build(copy_cached=True)  # and back: the flip shows the other way
        await wait_for(pilot, lambda: "3 cached, 0 rebuilt" in str(app.query_one("#build-status").content))
        lines = view_lines(app)
        assert lines[1].startswith(" ✓ 2 COPY") and "rebuilt → cached" in lines[1]
        assert lines[3].startswith(" ✓ 4 RUN") and "rebuilt → cached" in lines[3]
        assert "rebuilt → cached" not in lines[0]  # the FROM was cached both times


async def test_engine_events_through_the_bridge_and_log_flood(make_app, context: Path):
    app = make_app(context=context)
    pending: set[int] = set()

    def count_pending(message) -> None:
        if isinstance(message, BuildLogPending):
            pending.add(id(message))

    async with app.run_test(size=SIZE, message_hook=count_pending) as pilot:
        panel = app.query_one(BuildPanel)
        bridge = EngineEventBridge(panel)
        step = events.StepRef(2, "", 2, 3, "COPY hello.txt /hello.txt", 2)  # index, stage, [2/3], text, line
        bridge(events.BuildStarted(dockerfile="Dockerfile", context=str(context), steps=3))
        bridge(events.StepStarted(step))
        for number in range(3000):
            bridge(events.StepLog(step, "stdout", f"line {number}"))
        bridge(events.StepRebuilt(step, "file hello.txt changed"))
        log = app.query_one("#build-log", Log)
        # the separator, 3000 lines and the step's verdict (a miss logs its reason)
        await wait_for(pilot, lambda: not bridge.log.lines and len(panel.log_lines) == 3002)
        assert log.line_count == 0  # the Images panel is in view: the log widget waits
        await pilot.press("4")
        await wait_for(pilot, lambda: log.line_count >= 3002)
        assert "line 2  line 2999" in log.lines[-2:] and "line 2  rebuilt: file hello.txt changed" in log.lines
        assert not bridge.log.lines
        await wait_for(pilot, lambda: "file hello.txt changed" in view_lines(app)[1])
        # 3000 lines arrived as a handful of coalesced messages, not 3000 handler calls.
        assert 1 <= len(pending) < 50


async def test_watch_rereads_the_dockerfile_when_the_context_changes(make_app, context: Path):
    app = make_app(context=context, watch=True)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: len(view_lines(app)) == 4)
        assert app.active_panel == "build"  # watch mode opens where the build shows
        (context / "Dockerfile").write_text(DOCKERFILE + "CMD [\"cat\", \"/hello.txt\"]\n")
        await wait_for(pilot, lambda: len(view_lines(app)) == 5)
        assert "CMD" in view_lines(app)[4]
        (context / "hello.txt").write_text("changed\n")
        # the status line moves on as the rebuild runs; the log keeps what changed
        panel = app.query_one(BuildPanel)
        await wait_for(pilot, lambda: any(text == "── changed: hello.txt ──" for _, text in panel.log_lines))
