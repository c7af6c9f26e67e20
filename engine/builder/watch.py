"""Watch mode: build, then rebuild whenever the context or the Dockerfile changes.

``watch_and_build(request, store, events, stop)`` builds once, then watches
the context directory and the Dockerfile with ``watchfiles``. Changes to
paths the ``.dockerignore`` excludes never trigger a build (the ignore file
itself and the Dockerfile always do): they are reported as ``WatchIgnored``.
Editors' scratch files (swap files, lock files, backups) are not reported. Changes are debounced; a change that
arrives while a build runs queues exactly one rebuild, however many more
changes follow before it starts. Each rebuild emits ``WatchChange`` first,
then the build's own events, then ``WatchRebuilt``: the steps whose verdict
changed since the previous build (cached → rebuilt and rebuilt → cached), and
why, and for each changed path whether it counted or why not (touched only,
restored, read by no step). A failed build is reported by its
events and watching goes on. Between builds, while no change waits, the
session loads what its next rebuild would load first (``watch_warmup``).
Setting ``stop`` ends the loop promptly.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Callable

import watchfiles

from layerlab.engine.builder.cache_records import DB_NAME as CACHE_DB_NAME
from layerlab.engine.builder.request import BuildRequest, BuildResult
from layerlab.engine.builder.session import STAT_CACHE_NAME
from layerlab.engine.builder.watch_warmup import warm_for_rebuild
from layerlab.engine.dbfile import kept_open
from layerlab.engine.dockerfile.dockerignore import Matcher, ignore_file_for
from layerlab.engine.errors import LayerlabError, UsageError
from layerlab.engine.events import Cause, EventSink, StepFlip, WatchChange, WatchIgnored, WatchRebuilt
from layerlab.engine.store import Store

DEBOUNCE_MS = 200
# watchfiles checks its set of (kind, path) changes every QUIET_MS and hands it over at the first check
# that finds no new pair, so an edit reaches the builder QUIET_MS to 2 * QUIET_MS after it is written,
# and two changes share a batch unless more than QUIET_MS passes between them. An editor's save is one
# burst from one process, microseconds apart: truncate + write in place, or write a temporary file +
# rename (vim and emacs move a backup aside first); the fsync that can take milliseconds comes once the
# content is whole, and what follows it (removing the backup) is editor scratch, never built. 10 ms
# holds such a burst with room for the writer being descheduled for a few time slices on a busy
# machine. A save split anyway costs one more rebuild, never a stale image: its last part arrives as a
# change of its own. The price is one wake-up of the watcher thread every 10 ms.
QUIET_MS = 10


class _Pending:
    """Changed paths not yet built; at most one build is ever queued, holding all of them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: set[str] = set()
        self._ignored: set[str] = set()
        self._dockerfile = False
        self.ready = threading.Event()

    def add(self, paths: set[str], dockerfile: bool, ignored: set[str] = frozenset()) -> None:
        with self._lock:
            self._paths |= paths
            self._ignored |= ignored - paths
            self._dockerfile |= dockerfile
            self.ready.set()

    def take(self) -> tuple[WatchChange | None, WatchIgnored | None]:
        """The change to build (None when only ignored paths changed), and the ignored paths to report."""
        with self._lock:
            change = (WatchChange(tuple(sorted(self._paths)), self._dockerfile)
                      if self._paths or self._dockerfile else None)
            ignored = WatchIgnored(tuple(sorted(self._ignored - self._paths))) if self._ignored else None
            self._paths, self._ignored, self._dockerfile = set(), set(), False
            self.ready.clear()
            return change, ignored


class _Scope:
    """Which changed paths matter: the Dockerfile, the ignore file, and context paths not excluded."""

    def __init__(self, context: Path, dockerfile: Path) -> None:
        self.context, self.dockerfile = context.resolve(), dockerfile.resolve()
        self._reload()

    def _reload(self) -> None:
        self.ignore_file = ignore_file_for(self.context, self.dockerfile)
        self.matcher = Matcher.for_context(self.context, self.dockerfile)

    def classify(self, changes: set[tuple[watchfiles.Change, str]]) -> tuple[set[str], bool, set[str]]:
        """(context paths that count, whether the Dockerfile changed, paths .dockerignore excludes)."""
        paths, dockerfile, ignored = set(), False, set()
        ignore_files = {self.context / ".dockerignore", Path(str(self.dockerfile) + ".dockerignore")}
        if any(Path(raw) in ignore_files for _, raw in changes):
            try:
                self._reload()
            except LayerlabError:
                pass  # a half-written ignore file: keep the last good patterns; the build will say what is wrong
        for _, raw in changes:
            path = Path(raw)
            if path == self.dockerfile:
                dockerfile = True
                continue
            try:
                relative = path.relative_to(self.context).as_posix()
            except ValueError:
                continue  # beside an out-of-context Dockerfile: not ours to watch
            if is_editor_scratch(path.name):
                continue  # the editor's own scratch file; its real save follows
            if path in ignore_files or not self.matcher.matches(relative):
                paths.add(relative)
            else:
                ignored.add(relative)
        return paths, dockerfile, ignored


# Files editors write beside the one being saved and remove again: vim's swap files and its
# write probe "4913", emacs' lock and autosave files, backup copies, GNOME's output streams.
EDITOR_SCRATCH = re.compile(r"^(\..*\.sw[a-p]|\.#.*|#.*#|.*~|4913|\.goutputstream-.*)$")


def is_editor_scratch(name: str) -> bool:
    return bool(EDITOR_SCRATCH.match(name))


def _flips(previous: BuildResult | None, current: BuildResult) -> tuple[StepFlip, ...]:
    """Steps rebuilt in ``current``, and steps cached again after ``previous`` rebuilt them, each with
    how it went in ``previous`` (by Dockerfile index)."""
    before = {summary.step.index: summary.cache for summary in (previous.steps if previous else ())}
    return tuple(
        StepFlip(summary.step, before.get(summary.step.index, "new"), summary.reason, tuple(summary.causes),
                 summary.cache)
        for summary in current.steps
        if summary.cache == "miss" or (summary.cache == "hit" and before.get(summary.step.index) == "miss")
    )


_COUNTED = ("file", "file-added", "file-removed")


def _verdicts(paths: tuple[str, ...], result: BuildResult) -> tuple[Cause, ...]:
    """For each changed context path: the miss it caused, or why it did not count."""
    said: dict[str, Cause] = {}
    for summary in result.steps:
        for cause in summary.causes:
            counted = summary.cache == "miss" and cause.kind in _COUNTED
            if cause.subject in paths and (counted or cause.kind in ("touched", "restored")):
                if counted or cause.subject not in said:
                    said[cause.subject] = cause
    return tuple(said.get(path) or Cause("unused", f"{path}: no step reads it", subject=path) for path in paths)


def _default_builder() -> Callable:
    from layerlab.engine.builder.executor import build

    return build


def watch_and_build(request: BuildRequest, store: Store, events: EventSink, stop: threading.Event, *,
                    debounce_ms: int = DEBOUNCE_MS, builder: Callable | None = None) -> None:
    """Build ``request`` now and again after every relevant change, until ``stop`` is set.

    ``builder`` is ``layerlab.engine.builder.executor.build`` unless given (same signature).
    """
    if request.context_dir is None:
        raise UsageError("--watch needs a context directory (not a tar on stdin)")
    if request.dockerfile_text is not None:
        raise UsageError("--watch needs a Dockerfile file to watch (not -f -)")
    build = builder or _default_builder()
    context = Path(request.context_dir)
    dockerfile = Path(request.dockerfile)
    dockerfile = dockerfile if dockerfile.is_absolute() else context / dockerfile
    scope = _Scope(context, dockerfile)
    pending = _Pending()
    watched = [str(scope.context)]
    if not dockerfile.resolve().is_relative_to(scope.context):
        watched.append(str(scope.dockerfile.parent))
    started = threading.Event()
    watcher = threading.Thread(target=_watch, name="layerlab-watch", daemon=True,
                               args=(watched, scope, pending, stop, debounce_ms, started))
    watcher.start()
    # No time limit: on a loaded machine setting up the watches can take seconds, and an edit made
    # meanwhile would be lost for good (the first build may already have read the file).
    while not started.wait(timeout=0.1):
        if stop.is_set() or not watcher.is_alive():
            break

    previous = _build_once(build, request, store, events)
    # each rebuild opens and closes the build cache and the stat cache: held open here, those closes
    # neither checkpoint them nor delete and recreate their logs (made by the first build, if not before)
    with kept_open(store.root / CACHE_DB_NAME, store.root / STAT_CACHE_NAME):
        _rebuild_on_change(build, request, store, events, stop, pending, previous)
    watcher.join(timeout=5)


def _rebuild_on_change(build: Callable, request: BuildRequest, store: Store, events: EventSink,
                       stop: threading.Event, pending: _Pending, previous: BuildResult | None) -> None:
    def change_waiting() -> bool:
        return stop.is_set() or pending.ready.is_set()

    # while no change waits: load what the next rebuild would load first (warming yields to a change)
    warm_for_rebuild(change_waiting)
    while not stop.is_set():
        if not pending.ready.wait(timeout=0.1):
            continue
        if stop.is_set():
            break
        change, ignored = pending.take()
        if ignored is not None:
            events(ignored)
        if change is not None:
            events(change)
            result = _build_once(build, request, store, events)
            if result is not None:
                events(WatchRebuilt(_flips(previous, result), result.image_id, _verdicts(change.paths, result)))
                previous = result
        warm_for_rebuild(change_waiting)  # also after ignored paths alone, which may have cut it short


def _build_once(build: Callable, request: BuildRequest, store: Store, events: EventSink) -> BuildResult | None:
    try:
        return build(request, store, events)
    except LayerlabError:
        return None  # the build's own events said what failed; keep watching for the fix


def _watch(watched: list[str], scope: _Scope, pending: _Pending, stop: threading.Event, debounce_ms: int,
           started: threading.Event) -> None:
    # the watches exist once the generator has yielded (an empty set on a timeout): only then is a
    # caller's first build safe from missing an edit
    changes = watchfiles.watch(*watched, stop_event=stop, debounce=debounce_ms, step=QUIET_MS, rust_timeout=100,
                               yield_on_timeout=True, watch_filter=None, raise_interrupt=False)
    for batch in changes:
        started.set()
        if not batch:
            continue
        paths, dockerfile, ignored = scope.classify(batch)
        if paths or dockerfile or ignored:
            pending.add(paths, dockerfile, ignored)
