"""Progress as data: the small frozen events the engine emits.

The engine never prints. A build or a transfer calls an ``EventSink`` (any
``Callable[[Event], None]``) with these values; the CLI turns them into plain,
tty or JSON-lines output (``layerlab.engine.builder.events_json``) and the TUI renders
the same stream. Events are plain values: equal when their fields are equal,
safe to hand to another thread.

A step is named by a ``StepRef`` (its place in the Dockerfile and in its
stage, and its instruction text), so every step event can be understood on
its own, without having seen the ones before it.
"""

from __future__ import annotations

from typing import Callable, Union

from layerlab.engine.record_type import record


@record(frozen=True, slots=True)
class StepRef:
    """Which step an event is about.

    ``index`` counts instructions from 1 in Dockerfile order across all stages
    (BuildKit's ``#N``); ``position``/``stage_steps`` give BuildKit's
    ``[2/4]`` within the stage; ``dockerfile_line`` is its line in the Dockerfile (1-based, 0
    when unknown).
    """

    index: int
    stage: str
    position: int
    stage_steps: int
    instruction: str
    dockerfile_line: int = 0


@record(frozen=True, slots=True)
class Cause:
    """One concrete reason a step missed the cache, or why a hit is one (``touched``, ``restored``).

    ``kind`` is a stable machine word (see ``CAUSE_KINDS``); ``subject`` is
    the file, arg or config field concerned; ``before``/``after`` hold the
    old and new values when there are such. ``text`` is the line a person reads.
    """

    kind: str
    text: str
    subject: str = ""
    before: str = ""
    after: str = ""


CAUSE_KINDS = (
    "no-cache",         # --no-cache or --no-cache-filter
    "first-build",      # no earlier record for this step
    "parent-rebuilt",   # the step this one stands on was rebuilt
    "parent-changed",   # the parent differs for another reason (base image, other record)
    "instruction",      # the instruction text changed
    "arg",              # an in-scope build arg changed (RUN)
    "env",              # the environment changed
    "config",           # another part of the image config changed (USER, WORKDIR, ...)
    "file",             # a COPY/ADD source changed: content, mode, owner, type, link
    "file-added",
    "file-removed",
    "more",             # a summary standing for causes left out of a long list
    "key",              # the key changed and no finer cause could be named
    # notes on a hit: why an input that changed did not matter
    "touched",          # a COPY/ADD source's mtime changed and nothing the cache compares did
    "restored",         # an input changed since the step's last build and is back to the reused record's
    # a watch-mode change that no step reads (the build never looks at it)
    "unused",
)


@record(frozen=True, slots=True)
class BuildStarted:
    dockerfile: str
    context: str
    steps: int
    target: str = ""


@record(frozen=True, slots=True)
class StepStarted:
    step: StepRef


@record(frozen=True, slots=True)
class StepCached:
    """A hit: ``record`` is the cache key reused, ``result`` what it produced; ``causes`` say why an input
    that changed since did not matter (``touched``, ``restored``), empty when none did."""

    step: StepRef
    record: str
    result: str
    reason: str
    causes: tuple[Cause, ...] = ()


@record(frozen=True, slots=True)
class StepRebuilt:
    """A miss: ``reason`` is the one-line summary, ``causes`` the details."""

    step: StepRef
    reason: str
    causes: tuple[Cause, ...] = ()


@record(frozen=True, slots=True)
class StepLog:
    step: StepRef
    stream: str  # "stdout" or "stderr"
    line: str


@record(frozen=True, slots=True)
class StepFinished:
    """A step is done; ``cache`` is "hit" or "miss", ``layer_size`` 0 for an empty layer, ``reused_files``
    the files a COPY that missed linked unchanged from its previous layer instead of writing them."""

    step: StepRef
    duration: float
    cache: str
    reason: str
    layer_size: int = 0
    layer_digest: str = ""
    result: str = ""
    reused_files: int = 0


def reused_words(count: int) -> str:
    """How front ends say ``StepFinished.reused_files``: what a COPY that missed did not copy again."""
    return f"{count} unchanged file{'s' if count != 1 else ''} linked from this step's last build, not copied again"


@record(frozen=True, slots=True)
class StepFailed:
    step: StepRef
    error: str
    exit_code: int | None = None
    last_lines: tuple[str, ...] = ()


@record(frozen=True, slots=True)
class BuildFinished:
    image_id: str
    tags: tuple[str, ...] = ()
    duration: float = 0.0


@record(frozen=True, slots=True)
class BuildFailed:
    """The build stopped; ``dockerfile_line`` is the Dockerfile line the error names (a parse or
    expansion error, before any step ran), 0 when it names none."""

    error: str
    step: StepRef | None = None
    dockerfile_line: int = 0


@record(frozen=True, slots=True)
class TransferProgress:
    """Bytes moved for one blob; ``total`` is 0 when unknown."""

    digest: str
    done: int
    total: int
    action: str = "pull"  # "pull", "push", "load", "save"


@record(frozen=True, slots=True)
class WatchChange:
    """Watch mode saw these context paths (relative, sorted) change."""

    paths: tuple[str, ...]
    dockerfile_changed: bool = False


@record(frozen=True, slots=True)
class WatchIgnored:
    """Watch mode saw these context paths (relative, sorted) change, but ``.dockerignore`` excludes them:
    no build reads them, so no rebuild follows."""

    paths: tuple[str, ...]


@record(frozen=True, slots=True)
class StepFlip:
    """One step whose verdict a watch-mode rebuild changed: ``before`` is how it went last time
    ("hit", "miss", or "new" when the previous build had no such step), ``after`` how it went now
    ("miss": rebuilt, or "hit": cached again after a rebuild), ``reason``/``causes`` why."""

    step: StepRef
    before: str
    reason: str
    causes: tuple[Cause, ...] = ()
    after: str = "miss"


@record(frozen=True, slots=True)
class WatchRebuilt:
    """After a watch-mode rebuild: the steps whose verdict changed since the previous build, and why;
    ``changes`` says for each changed path whether it counted (the miss it caused) or not, and why
    (``touched``, ``restored``, ``unused``: no step reads it)."""

    flipped: tuple[StepFlip, ...]
    image_id: str = ""
    changes: tuple[Cause, ...] = ()


Event = Union[
    BuildStarted, StepStarted, StepCached, StepRebuilt, StepLog, StepFinished, StepFailed,
    BuildFinished, BuildFailed, TransferProgress, WatchChange, WatchIgnored, WatchRebuilt,
]

EventSink = Callable[[Event], None]


def discard(event: Event) -> None:
    """The sink for callers that do not listen."""


class EventList(list):
    """A sink that keeps every event, in order (for tests and ``--explain``)."""

    def __call__(self, event: Event) -> None:
        self.append(event)
