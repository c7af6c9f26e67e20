"""Watch mode loads what its next rebuild would load between builds, and leaves the snapshot check to it.

The store is made and built by other processes (the CLI), so this process starts, as a watch session
does, with no snapshot checked and, in the child interpreter, no step machinery loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from layerlab.engine.builder.executor import BuildRequest
from layerlab.engine.builder.watch import watch_and_build
from layerlab.engine.events import BuildFailed, BuildFinished, StepRebuilt, WatchRebuilt
from layerlab.engine.store import Store, snapshots
from tests.build_watch.test_watch import WAIT, Recorder
from tests.peers import need_program

DOCKERFILE = "FROM busybox\nCOPY app.txt /app.txt\nRUN cat /app.txt > /copy\n"


def _cli(root: Path, *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "layerlab", "--root", str(root), *args],
                          capture_output=True, text=True, timeout=WAIT)
    assert done.returncode == 0, done.stderr


@pytest.fixture
def built(root: Path, tmp_path: Path) -> tuple[Path, Path]:
    """(store root, context): the Dockerfile above, built once by another process."""
    _cli(root, "bootstrap", "busybox", "--busybox", need_program("busybox"))
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "app.txt").write_text("one\n")
    _cli(root, "build", "-q", "--network", "none", "-t", "warm:latest", str(context))
    return root, context


def _watch(root: Path, context: Path) -> tuple[Store, Recorder, threading.Event, threading.Thread]:
    store = Store.open(root)
    events, stop = Recorder(), threading.Event()
    thread = threading.Thread(target=watch_and_build, daemon=True,
                              args=(BuildRequest(context_dir=context, network="none"), store, events, stop))
    thread.start()
    events.wait_for(BuildFinished)
    assert events.of(StepRebuilt) == []  # the first build was a no-op: it checked no snapshot
    return store, events, stop, thread


def _end(store: Store, stop: threading.Event, thread: threading.Thread) -> None:
    stop.set()
    thread.join(timeout=WAIT)
    assert not thread.is_alive()
    store.close()


def test_a_snapshot_damaged_after_the_first_build_is_refused_by_the_edit_rebuild(built):
    """As without warming: the once-per-process check of the base is the first rebuild's, after the damage
    (warming leaves it to the build)."""
    root, context = built
    store, events, stop, thread = _watch(root, context)
    try:
        events.quiet(0.5)  # warming, if any, has run
        assert [type(e) for e in events.events][-1] is BuildFinished  # and said nothing
        base = store.image("warm:latest").layers()[0]
        assert (str(store.layout.root), str(base.chain_id)) not in snapshots._checked
        (snapshots.layer_dir(store, base.chain_id) / "planted").write_text("not from the blob\n")
        (context / "app.txt").write_text("two\n")
        failed = events.wait_for(BuildFailed)
        assert "changed on disk since it was unpacked" in failed.error and str(base.chain_id) in failed.error
        assert events.of(WatchRebuilt) == []
    finally:
        _end(store, stop, thread)


# In a fresh interpreter: after the first (no-op) build and the warming, an edit's rebuild loads no
# module of ours that it would have loaded without warming.
CHILD = r"""
import json, sys, threading, time
from pathlib import Path
from layerlab.engine.builder.executor import BuildRequest
from layerlab.engine.builder.watch import watch_and_build
from layerlab.engine.events import BuildFinished, BuildFailed, WatchRebuilt
from layerlab.engine.store import Store

root, context = Path(sys.argv[1]), Path(sys.argv[2])
store = Store.open(root)
seen = []
watching = threading.Thread(target=watch_and_build, daemon=True, args=(
    BuildRequest(context_dir=context, network="none"), store, seen.append, threading.Event()))
watching.start()
deadline = time.monotonic() + 60
def warmed():  # its last item: the seccomp profile read and kept
    seccomp = sys.modules.get("layerlab.engine.runtime.seccomp")
    return seccomp is not None and seccomp._profile_text.cache_info().currsize == 1
while not (any(isinstance(e, BuildFinished) for e in seen) and warmed()):
    assert time.monotonic() < deadline, "no warming"
    time.sleep(0.02)
loaded = set(sys.modules)
(context / "app.txt").write_text("two\n")
while not any(isinstance(e, (WatchRebuilt, BuildFailed)) for e in seen):
    assert time.monotonic() < deadline, "no rebuild"
    time.sleep(0.02)
print(json.dumps({"rebuilt": any(isinstance(e, WatchRebuilt) for e in seen),
                  "loaded_by_rebuild": sorted(m for m in set(sys.modules) - loaded if m.startswith("layerlab."))}))
"""


def test_an_edit_rebuild_after_warming_loads_none_of_our_modules(built):
    root, context = built
    env = {key: value for key, value in os.environ.items() if key != "PYTHONPATH"}
    done = subprocess.run([sys.executable, "-c", CHILD, str(root), str(context)], capture_output=True, text=True,
                          timeout=2 * WAIT, env=env, cwd=root)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["rebuilt"]
    assert report["loaded_by_rebuild"] == [], "warming missed these (watch_warmup.WARM_MODULES)"
