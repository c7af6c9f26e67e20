"""Watch mode with real file edits in a temporary context and the real build engine."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from layerlab.engine.builder.executor import BuildRequest
from layerlab.engine.builder.watch import watch_and_build
from layerlab.engine.errors import UsageError
from layerlab.engine.events import BuildFailed, BuildFinished, StepStarted, WatchChange, WatchIgnored, WatchRebuilt
from layerlab.engine.store import Store
from tests.build_conformance.builders import run_layerlab
from tests.peers import need_program

WAIT = 60  # seconds: a bound for a wedged test, never a measurement


class Recorder:
    """A thread-safe event sink that lets a test wait for the n-th event of a kind."""

    def __init__(self) -> None:
        self.events: list = []
        self._changed = threading.Condition()

    def __call__(self, event) -> None:
        with self._changed:
            self.events.append(event)
            self._changed.notify_all()

    def of(self, kind) -> list:
        with self._changed:
            return [e for e in self.events if isinstance(e, kind)]

    def wait_for(self, kind, count: int = 1, where=lambda event: True):
        def found():
            return [e for e in self.events if isinstance(e, kind) and where(e)]

        with self._changed:
            assert self._changed.wait_for(lambda: len(found()) >= count, timeout=WAIT), (
                f"no {kind.__name__} #{count}; saw {[type(e).__name__ for e in self.events]}")
            return found()[count - 1]

    def quiet(self, seconds: float) -> None:
        """Wait until no event has arrived for ``seconds``."""
        while True:
            with self._changed:
                before = len(self.events)
            time.sleep(seconds)
            with self._changed:
                if len(self.events) == before:
                    return


@pytest.fixture
def store(root: Path):
    code, _, err = run_layerlab(root, "bootstrap", "busybox", "--busybox", need_program("busybox"))
    assert code == 0, err
    opened = Store.open(root)
    yield opened
    opened.close()


@pytest.fixture
def watching(store, tmp_path):
    """Start watch mode on a context made by the test; stop it and check it ended afterwards."""
    threads: list[tuple[threading.Thread, threading.Event]] = []

    def start(files: dict[str, str]) -> tuple[Path, Recorder]:
        context = tmp_path / "ctx"
        context.mkdir()
        for name, text in files.items():
            (context / name).write_text(text)
        recorder, stop = Recorder(), threading.Event()
        thread = threading.Thread(target=watch_and_build,
                                  args=(BuildRequest(context_dir=context, network="none"), store, recorder, stop),
                                  kwargs={"debounce_ms": 100}, daemon=True)
        thread.start()
        threads.append((thread, stop))
        recorder.wait_for(BuildFinished)
        return context, recorder

    yield start
    for thread, stop in threads:
        stop.set()
        thread.join(timeout=WAIT)
        assert not thread.is_alive()


def test_edit_rebuilds_once_and_names_the_flipped_step(watching):
    context, events = watching({
        "Dockerfile": "FROM busybox\nRUN echo early > /early\nCOPY app.txt /app.txt\nRUN cat /app.txt > /copy\n",
        "app.txt": "one\n",
    })
    (context / "app.txt").write_text("two\n")
    rebuilt = events.wait_for(WatchRebuilt)
    change = events.of(WatchChange)
    assert change == [WatchChange(("app.txt",), False)]
    order = [type(e) for e in events.events]
    after_change = order[order.index(WatchChange):]
    assert StepStarted in after_change and after_change[-1] is WatchRebuilt
    flipped = {flip.step.dockerfile_line: flip for flip in rebuilt.flipped if flip.after == "miss"}
    assert sorted(flipped) == [3, 4]  # the RUN before the COPY stayed cached
    # ... after the first build ran it: a flip the other way, rebuilt → cached
    assert [(f.step.dockerfile_line, f.before) for f in rebuilt.flipped if f.after == "hit"] == [(2, "miss")]
    assert "app.txt" in flipped[3].reason and "content changed" in flipped[3].reason
    assert flipped[3].causes and flipped[3].causes[0].kind == "file"
    assert "parent" in flipped[4].reason
    assert rebuilt.image_id == events.of(BuildFinished)[1].image_id


def test_dockerfile_edit_is_reported_as_such(watching):
    context, events = watching({"Dockerfile": "FROM busybox\nRUN echo one > /one\n"})
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo two > /one\n")
    rebuilt = events.wait_for(WatchRebuilt)
    assert events.of(WatchChange) == [WatchChange((), True)]
    assert [flip.step.dockerfile_line for flip in rebuilt.flipped] == [2]
    assert "instruction changed" in rebuilt.flipped[0].reason


def test_edits_during_a_build_queue_exactly_one_rebuild(watching):
    context, events = watching({
        "Dockerfile": "FROM busybox\nCOPY app.txt /app.txt\nRUN sleep 2\n",
        "app.txt": "zero\n",
    })
    (context / "app.txt").write_text("one\n")
    # that edit's rebuild re-runs the slow RUN: edit three more times while it runs
    events.wait_for(StepStarted, count=2, where=lambda e: e.step.dockerfile_line == 3)
    for text in ("two\n", "three\n", "four\n"):
        (context / "app.txt").write_text(text)
        time.sleep(0.3)  # wider than the debounce, so they arrive as separate batches
    assert len(events.of(BuildFinished)) == 1, "the slow rebuild is still running"
    events.wait_for(WatchRebuilt, count=2)
    events.quiet(1.5)
    changes = events.of(WatchChange)
    assert changes == [WatchChange(("app.txt",), False)] * 2
    assert len(events.of(BuildFinished)) == 3
    second = events.of(WatchRebuilt)[1]
    assert [flip.step.dockerfile_line for flip in second.flipped] == [2, 3]


def test_ignored_file_edits_do_not_rebuild(watching):
    context, events = watching({
        "Dockerfile": "FROM busybox\nCOPY . /ctx\n",
        ".dockerignore": "*.log\n",
        "app.txt": "one\n",
        "debug.log": "log\n",
    })
    (context / "debug.log").write_text("more log\n")
    (context / "new.log").write_text("new log\n")
    events.quiet(1.0)
    assert events.of(WatchChange) == []
    # said, with no build: each ignored path once, across however many batches they came in
    assert sorted(path for event in events.of(WatchIgnored) for path in event.paths) == ["debug.log", "new.log"]
    # an editor's scratch files are not even reported
    (context / ".app.txt.swp").write_text("swap\n")
    (context / "app.txt~").write_text("backup\n")
    events.quiet(1.0)
    assert all(".app.txt.swp" not in e.paths and "app.txt~" not in e.paths
               for e in [*events.of(WatchIgnored), *events.of(WatchChange)])
    assert events.of(WatchChange) == []
    # still watching: a real edit after them rebuilds, and names only itself
    (context / "app.txt").write_text("two\n")
    events.wait_for(WatchRebuilt)
    assert events.of(WatchChange) == [WatchChange(("app.txt",), False)]


def test_failed_build_keeps_watching_until_fixed(watching):
    context, events = watching({"Dockerfile": "FROM busybox\nRUN echo ok\n"})
    (context / "Dockerfile").write_text("FROM busybox\nRUN exit 3\n")
    events.wait_for(BuildFailed)
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo fixed\n")
    rebuilt = events.wait_for(WatchRebuilt)
    assert len(events.of(WatchChange)) == 2 and "instruction changed" in rebuilt.flipped[0].reason


def test_stop_ends_the_loop(store, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nENV A=1\n")
    stop, events = threading.Event(), Recorder()
    thread = threading.Thread(target=watch_and_build, args=(BuildRequest(context_dir=context), store, events, stop))
    thread.start()
    events.wait_for(BuildFinished)
    stop.set()
    thread.join(timeout=WAIT)
    assert not thread.is_alive()
    assert events.of(WatchChange) == []


def test_stdin_context_is_refused(store):
    with pytest.raises(UsageError):
        watch_and_build(BuildRequest(context_dir=None), store, Recorder(), threading.Event())


def test_a_parse_error_is_reported_with_its_line_and_watching_goes_on(watching):
    context, events = watching({"Dockerfile": "FROM busybox\nRUN echo ok\n"})
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo ok\nFOO bar\n")
    failed = events.wait_for(BuildFailed)
    assert failed.step is None and failed.dockerfile_line == 3 and "Dockerfile:3" in failed.error
    (context / "Dockerfile").write_text("FROM busybox\nRUN echo ok\n")
    events.wait_for(BuildFinished, count=2)


def test_cli_watch_says_a_parse_error(store, root: Path, tmp_path: Path):
    """`build --watch` keeps going after a failed build, so it prints the error itself (on stderr)."""
    import subprocess
    import sys

    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nRUN [\nFOO bar\n")
    process = subprocess.Popen([sys.executable, "-m", "layerlab", "--root", str(root), "build", "--watch",
                                "--progress", "plain", str(context)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        line = process.stderr.readline()
    finally:
        process.terminate()
        process.wait(timeout=WAIT)
    assert line.startswith("layerlab: Dockerfile:3") and "unknown instruction: FOO" in line
    assert "watching for a fix" in line


def test_a_rebuild_says_why_each_change_counted_or_not_and_flips_both_ways(watching):
    import os

    context, events = watching({
        "Dockerfile": "FROM busybox\nCOPY app.txt /app.txt\nRUN cat /app.txt > /copy\n",
        "app.txt": "one\n",
    })
    (context / "app.txt").write_text("two\n")
    first = events.wait_for(WatchRebuilt)
    # the first build was the first of these steps: they were misses then too
    assert [(f.step.dockerfile_line, f.before, f.after) for f in first.flipped] == [(2, "miss", "miss"),
                                                                                    (3, "miss", "miss")]
    assert [(c.kind, c.subject) for c in first.changes] == [("file", "app.txt")]

    (context / "app.txt").write_text("one\n")  # back as it was: the first build's records serve again
    restored = events.wait_for(WatchRebuilt, count=2)
    assert [(f.step.dockerfile_line, f.before, f.after) for f in restored.flipped] == [(2, "miss", "hit"),
                                                                                       (3, "miss", "hit")]
    assert [(c.kind, c.subject) for c in restored.changes] == [("restored", "app.txt")]
    assert restored.changes[0].text.endswith(", restored")

    os.utime(context / "app.txt", ns=(10**9, 10**9))  # touched only
    touched = events.wait_for(WatchRebuilt, count=3)
    assert touched.flipped == ()
    assert [(c.kind, c.text.endswith("touched only")) for c in touched.changes] == [("touched", True)]

    (context / "notes.txt").write_text("no step copies me\n")
    unused = events.wait_for(WatchRebuilt, count=4)
    assert unused.flipped == () and [(c.kind, c.text) for c in unused.changes] == [
        ("unused", "notes.txt: no step reads it")]


def test_the_session_holds_the_build_databases_open_between_rebuilds(watching, store):
    context, events = watching({"Dockerfile": "FROM busybox\nCOPY app.txt /app.txt\n", "app.txt": "one\n"})
    (context / "app.txt").write_text("two\n")
    events.wait_for(WatchRebuilt)
    # the rebuild closed its connections, but not the session's: both logs are still there
    for name in ("buildcache.db", "buildcontext.db"):
        assert (store.root / f"{name}-wal").exists(), name
