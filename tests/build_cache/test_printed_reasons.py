"""The plain printer says why each step hit or missed, and what a watch-mode change did, as the JSON
stream does: the same events, read by a person."""

from __future__ import annotations

import io
import os

from layerlab.engine.builder.printers import PlainPrinter, TtyPrinter, watch_lines
from layerlab.engine.events import Cause, StepFlip, StepRef, WatchChange, WatchIgnored, WatchRebuilt
from tests.build_cache.test_hit_miss import again, project  # noqa: F401  (the fixture)


def printed(events) -> list[str]:
    out = io.StringIO()
    printer = PlainPrinter(out, clock=lambda: 0.0)
    for event in events:
        printer(event)
    return out.getvalue().splitlines()


def test_plain_output_names_the_record_of_a_hit_and_the_cause_of_a_miss(project):
    ctx, _ = project
    os.utime(ctx / "src" / "app.py", ns=(10**9, 10**9))
    (ctx / "requirements.txt").write_text("flask\nrequests\n")
    lines = printed(again(project).events)
    assert "#1 CACHED" in lines  # BuildKit's line, unchanged
    assert any(line.startswith("#1 reused record sha256:") for line in lines)
    assert "#2 rebuilt: requirements.txt: content changed" in lines
    assert "#5 rebuilt: parent (line 5, COPY) was rebuilt" in lines


def test_watch_lines_say_what_changed_and_whether_it_counted():
    copy = StepRef(2, "0", 2, 3, "COPY app.txt /app.txt", 2)
    assert watch_lines(WatchChange(("app.txt",), False)) == ["changed: app.txt; rebuilding"]
    assert watch_lines(WatchIgnored(("debug.log",))) == [
        "changed: debug.log; ignored by .dockerignore: no rebuild"]
    back = WatchRebuilt((StepFlip(copy, "miss", "reused record sha256:…", (), "hit"),), "sha256:1",
                        (Cause("restored", "app.txt: same content as at 10:02, restored", subject="app.txt"),))
    assert watch_lines(back) == ["line 2 rebuilt → cached: reused record sha256:…",
                                 "app.txt: same content as at 10:02, restored: no step rebuilt"]
    edit = WatchRebuilt((StepFlip(copy, "hit", "app.txt: content changed"),), "sha256:2",
                        (Cause("file", "app.txt: content changed", subject="app.txt"),
                         Cause("unused", "notes.txt: no step reads it", subject="notes.txt")))
    assert watch_lines(edit) == ["line 2 cached → rebuilt: app.txt: content changed", "notes.txt: no step reads it"]


def test_the_live_view_prints_watch_lines_below_the_build_it_drew(project):
    ctx, _ = project
    out = io.StringIO()
    printer = TtyPrinter(out, clock=lambda: 0.0)
    for event in again(project).events:
        printer(event)
    printer(WatchChange(("src/app.py",), False))
    assert out.getvalue().endswith("watch: changed: src/app.py; rebuilding\n")
    assert printer.drawn == 0 and printer.rows == {}  # the next build starts its rows afresh
