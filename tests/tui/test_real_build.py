"""Real builds from the Build panel: marks from the engine's events, and watch-mode rebuilds."""

from __future__ import annotations

import os

from pathlib import Path

import pytest
from textual.widgets import DataTable

from tests.peers import need_program
from layerlab.engine import events
from layerlab.tui.messages import EngineEvent, built_ref

from tests.tui.buildhelpers import SIZE, hello_context, view_lines, wait_for

pytestmark = pytest.mark.anyio

DOCKERFILE = "FROM busybox\nCOPY hello.txt /hello.txt\nRUN cat /hello.txt\n"


@pytest.fixture
def context(tmp_path: Path) -> Path:
    return hello_context(tmp_path, DOCKERFILE)


@pytest.fixture(autouse=True)
def runtime():
    need_program("runc")




async def test_build_key_marks_cached_and_rebuilt_steps(make_app, context: Path):
    app = make_app(context=context)
    finished: list[events.BuildFinished] = []
    async with app.run_test(size=SIZE, message_hook=lambda m: finished.append(m.event)
                            if isinstance(m, EngineEvent) and isinstance(m.event, events.BuildFinished)
                            else None) as pilot:
        await pilot.press("4", "b")
        await wait_for(pilot, lambda: len(finished) >= 1)
        lines = view_lines(app)
        assert lines[0].startswith(" ● 1 FROM")  # a base: neither cached nor built
        assert lines[1].startswith(" ↻ 2 COPY") and lines[2].startswith(" ↻ 3 RUN")
        # What the app builds is tagged after its context, so a rebuild moves the tag.
        store = app.catalog.store
        assert store.image(f"{context.name}:latest").id == store.image(built_ref(finished[0])).id
        # The finished image is open in History.
        history = app.query_one("#history-table", DataTable)
        await wait_for(pilot, lambda: history.row_count >= 3)
        assert any("hello.txt" in str(history.get_cell(key, "created_by")) for key in history.rows)

        await pilot.press("b")
        await wait_for(pilot, lambda: len({id(m) for m in finished}) >= 2)
        await pilot.pause(0.1)
        lines = view_lines(app)
        assert lines[1].startswith(" ✓ 2 COPY") and lines[2].startswith(" ✓ 3 RUN")

        (context / "hello.txt").write_text("hello again\n")
        await pilot.press("b")
        await wait_for(pilot, lambda: len({id(m) for m in finished}) >= 3)
        await pilot.pause(0.1)
        lines = view_lines(app)
        assert lines[1].startswith(" ↻ 2 COPY") and "hello.txt" in lines[1] and "cached → rebuilt" in lines[1]
        assert lines[2].startswith(" ↻ 3 RUN")


async def test_watch_rebuild_marks_the_steps_an_edit_flipped(make_app, context: Path):
    app = make_app(context=context, watch=True)
    seen: list = []
    async with app.run_test(size=SIZE, message_hook=lambda m: seen.append(m.event)
                            if isinstance(m, EngineEvent) else None) as pilot:
        await wait_for(pilot, lambda: any(isinstance(m, events.BuildFinished) for m in seen))
        # A file no step copies: the rebuild is all cache hits; the steps the first build ran flip back.
        (context / "notes.txt").write_text("not copied\n")
        await wait_for(pilot, lambda: any(isinstance(m, events.WatchRebuilt) for m in seen))
        back = next(m for m in seen if isinstance(m, events.WatchRebuilt))
        assert [(flip.step.index, flip.before, flip.after) for flip in back.flipped] == [(2, "miss", "hit"),
                                                                                          (3, "miss", "hit")]
        await pilot.pause(0.1)
        assert view_lines(app)[1].startswith(" ✓ 2 COPY") and "rebuilt → cached" in view_lines(app)[1]
        status = str(app.query_one("#build-status").content)
        assert "rebuilt → cached: lines 2, 3" in status and "notes.txt: no step reads it: no step rebuilt" in status
        seen.clear()
        # Touched only: still cached, and the line says why the change did not count.
        os.utime(context / "hello.txt", ns=(10**9, 10**9))
        await wait_for(pilot, lambda: any(isinstance(m, events.WatchRebuilt) for m in seen))
        assert next(m for m in seen if isinstance(m, events.WatchRebuilt)).flipped == ()
        await pilot.pause(0.1)
        line = view_lines(app)[1]
        assert line.startswith(" ✓ 2 COPY") and "hello.txt: same content as at" in line and "touched only" in line
        assert "rebuilt → cached" not in line
        log = [text for _, text in app.query_one("#build-panel").log_lines]
        assert any(text.startswith("line 2  CACHED hello.txt: same content as at") for text in log)
        seen.clear()
        (context / "hello.txt").write_text("edited\n")
        await wait_for(pilot, lambda: any(isinstance(m, events.WatchRebuilt) for m in seen))
        flips = next(m for m in seen if isinstance(m, events.WatchRebuilt)).flipped
        assert [(flip.step.index, flip.before) for flip in flips] == [(2, "hit"), (3, "hit")]
        await pilot.pause(0.1)
        lines = view_lines(app)
        assert lines[0][1] in "✓●" and "1 FROM" in lines[0]  # the base is not rebuilt
        assert lines[1].startswith(" ↻ 2 COPY") and "cached → rebuilt" in lines[1] and "hello.txt" in lines[1]
        assert "cached → rebuilt: lines 2, 3" in str(app.query_one("#build-status").content)


async def test_switching_to_build_late_shows_every_build_and_its_verdicts(make_app, context: Path):
    """A rebuild (and maybe the first build) finishes while Images is in view; Build then shows both, in order."""
    from textual.widgets import Log

    app = make_app(context=context, watch=True)
    seen: list = []
    async with app.run_test(size=SIZE, message_hook=lambda m: seen.append(m.event)
                            if isinstance(m, EngineEvent) and isinstance(m.event, events.WatchRebuilt)
                            else None) as pilot:
        panel = app.query_one("#build-panel")
        await pilot.press("1")  # watch mode opens on Build: leave it
        await wait_for(pilot, lambda: any(text.startswith("── built ") for _, text in panel.log_lines))
        (context / "hello.txt").write_text("edited\n")
        await wait_for(pilot, lambda: seen)
        await wait_for(pilot, lambda: sum(text.startswith("── built ") for _, text in panel.log_lines) >= 2)
        assert app.active_panel == "images"
        await pilot.press("4")
        log = app.query_one("#build-log", Log)
        await wait_for(pilot, lambda: log.line_count >= len(panel.log_lines))
        lines = list(log.lines)
        built = [line for line in lines if line.startswith("── built ")]
        assert built[0].endswith("0 cached, 2 rebuilt ──") and built[-1].endswith("0 cached, 2 rebuilt ──")
        assert "line 2  rebuilt: hello.txt: content changed" in lines
        assert lines.index("line 2  rebuilt: first build of this step") < lines.index(built[0])
        assert view_lines(app)[1].startswith(" ↻ 2 COPY")


async def test_watch_shows_a_parse_error_at_its_line_and_old_marks_follow_their_lines(make_app, context: Path):
    app = make_app(context=context, watch=True)
    seen: list = []
    async with app.run_test(size=SIZE, message_hook=lambda m: seen.append(m.event)
                            if isinstance(m, EngineEvent) else None) as pilot:
        await wait_for(pilot, lambda: any(isinstance(m, events.BuildFinished) for m in seen))
        # A comment above shifts every line down; then a line no parser knows.
        (context / "Dockerfile").write_text("# a comment\n" + DOCKERFILE + "FOO bar\n")
        await wait_for(pilot, lambda: any(isinstance(m, events.BuildFailed) for m in seen))
        await wait_for(pilot, lambda: len(view_lines(app)) == 5 and view_lines(app)[4].startswith(" ✗ 5 FOO"))
        lines = view_lines(app)
        assert "unknown instruction: FOO" in lines[4]
        assert lines[0].startswith("   1 # a comment")  # the old FROM mark did not stay on line 1
        assert lines[2].startswith(" ↻ 3 COPY")  # the COPY's mark moved with its line
        status = str(app.query_one("#build-status").content)
        assert "build failed: Dockerfile:5" in status and "unknown instruction: FOO" in status
        panel = app.query_one("#build-panel")
        assert any(text.startswith("── build failed: Dockerfile:5") for _, text in panel.log_lines)
        seen.clear()
        (context / "Dockerfile").write_text(DOCKERFILE)
        await wait_for(pilot, lambda: any(isinstance(m, events.BuildFinished) for m in seen))
        await pilot.pause(0.1)
        assert all(" ✗ " not in line for line in view_lines(app))


async def test_an_ignored_edit_says_it_needs_no_rebuild(make_app, context: Path):
    (context / ".dockerignore").write_text("*.log\n")
    app = make_app(context=context, watch=True)
    seen: list = []
    async with app.run_test(size=SIZE, message_hook=lambda m: seen.append(m.event)
                            if isinstance(m, EngineEvent) else None) as pilot:
        await wait_for(pilot, lambda: any(isinstance(m, events.BuildFinished) for m in seen))
        (context / "debug.log").write_text("noise\n")
        status = app.query_one("#build-status")
        await wait_for(pilot, lambda: "ignored by .dockerignore: no rebuild" in str(status.content))
        assert "debug.log" in str(status.content)
        assert not any(isinstance(m, events.WatchChange) for m in seen)
