"""Build events as text: BuildKit-style plain lines, a live ANSI view, and the ``--explain`` table.

Front-end neutral: each printer is an ``EventSink`` writing to a text
stream; no terminal library is involved (the tty view uses plain ANSI
cursor movement).
"""

from __future__ import annotations

import time
from typing import TextIO

from layerlab.engine.events import (
    BuildFailed, BuildFinished, Event, StepCached, StepFailed, StepFinished, StepLog, StepRebuilt, StepRef,
    StepStarted, WatchChange, WatchIgnored, WatchRebuilt, reused_words,
)
from layerlab.engine.oci.digest import short_id


def step_title(step: StepRef) -> str:
    """BuildKit's ``[stage 2/4] RUN make`` (the stage shown when it has a name)."""
    stage = f"{step.stage} " if step.stage and not step.stage.isdigit() else ""
    return f"[{stage}{step.position}/{step.stage_steps}] {step.instruction}"


class PlainPrinter:
    """``#5 [2/4] RUN …``, ``#5 0.123 output``, ``#5 CACHED``, ``#5 DONE 0.3s``, then the classic summary.

    Beyond BuildKit's lines, each step says why: ``#5 reused record …`` after CACHED (with what changed
    and did not count), ``#5 rebuilt: src/app.py: content changed`` on a miss, and what a rebuilt COPY
    took over unchanged (``#5 119 unchanged files linked …``); and watch mode says what changed and
    whether it counted (``watch: …`` lines).
    """

    def __init__(self, out: TextIO, *, clock=time.monotonic):
        self.out = out
        self.clock = clock
        self.started: dict[tuple[str, int, int], float] = {}

    def _key(self, step: StepRef) -> tuple[str, int, int]:
        return step.stage, step.position, step.index

    def __call__(self, event: Event) -> None:
        write = self.out.write
        if isinstance(event, StepStarted):
            self.started[self._key(event.step)] = self.clock()
            write(f"#{event.step.index} {step_title(event.step)}\n")
        elif isinstance(event, StepLog):
            elapsed = self.clock() - self.started.get(self._key(event.step), self.clock())
            write(f"#{event.step.index} {elapsed:.3f} {event.line}\n")
        elif isinstance(event, StepCached):
            write(f"#{event.step.index} CACHED\n")
            if event.reason:
                write(f"#{event.step.index} {event.reason}\n")
        elif isinstance(event, StepRebuilt):
            write(f"#{event.step.index} rebuilt: {event.reason}\n")
        elif isinstance(event, StepFinished):
            if event.reused_files:
                write(f"#{event.step.index} {reused_words(event.reused_files)}\n")
            if event.cache == "miss" or event.step.position == 1:
                write(f"#{event.step.index} DONE {event.duration:.1f}s\n")
        elif isinstance(event, StepFailed):
            write(f"#{event.step.index} ERROR: {event.error}\n")
        elif isinstance(event, BuildFinished):
            write(f"Successfully built {short_id(event.image_id)}\n")
            for tag in event.tags:
                write(f"Successfully tagged {tag}\n")
        elif isinstance(event, BuildFailed):
            pass  # the CLI prints the error once
        elif isinstance(event, (WatchChange, WatchIgnored, WatchRebuilt)):
            for line in watch_lines(event):
                write(f"watch: {line}\n")
        self.out.flush()


class TtyPrinter:
    """A live view: one line per step, rewritten in place with ANSI cursor movement."""

    def __init__(self, out: TextIO, *, clock=time.monotonic, max_lines: int = 30):
        self.out = out
        self.clock = clock
        self.max_lines = max_lines
        self.rows: dict[tuple[str, int, int], list] = {}
        self.drawn = 0

    def _draw(self) -> None:
        rows = list(self.rows.values())[-self.max_lines:]
        text = ""
        if self.drawn:
            text += f"\x1b[{self.drawn}F"
        for step, status, detail in rows:
            line = f" => {step_title(step)}"
            if status:
                line += f"  {status}"
            if detail:
                line += f"  \x1b[2m{detail[:80]}\x1b[0m"
            text += "\x1b[2K" + line + "\n"
        self.drawn = len(rows)
        self.out.write(text)
        self.out.flush()

    def __call__(self, event: Event) -> None:
        step = getattr(event, "step", None)
        if isinstance(event, StepStarted):
            self.rows[(step.stage, step.position, step.index)] = [step, "…", ""]
        elif isinstance(event, StepLog):
            row = self.rows.get((step.stage, step.position, step.index))
            if row:
                row[2] = event.line
        elif isinstance(event, StepCached):
            # a hit whose inputs changed in a way that does not count says so (touched only, restored)
            notes = "; ".join(cause.text for cause in event.causes)
            self.rows[(step.stage, step.position, step.index)][1:] = ["CACHED", notes]
        elif isinstance(event, StepRebuilt):
            self.rows[(step.stage, step.position, step.index)][2] = event.reason
        elif isinstance(event, StepFinished):
            row = self.rows[(step.stage, step.position, step.index)]
            if row[1] != "CACHED":
                note = reused_words(event.reused_files) if event.reused_files else ""
                row[1:] = [f"DONE {event.duration:.1f}s", note]
        elif isinstance(event, StepFailed):
            self.rows[(step.stage, step.position, step.index)][1:] = ["\x1b[31mERROR\x1b[0m", event.error]
        elif isinstance(event, BuildFinished):
            self._draw()
            self.out.write(f"Successfully built {short_id(event.image_id)}\n")
            for tag in event.tags:
                self.out.write(f"Successfully tagged {tag}\n")
            self.out.flush()
            self.rows, self.drawn = {}, 0  # a watch-mode rebuild draws below, not over these lines
            return
        elif isinstance(event, (WatchChange, WatchIgnored, WatchRebuilt)):
            self.out.write("".join(f"watch: {line}\n" for line in watch_lines(event)))
            self.out.flush()
            self.rows, self.drawn = {}, 0
            return
        else:
            return
        self._draw()


def watch_lines(event: WatchChange | WatchIgnored | WatchRebuilt) -> list[str]:
    """What a watch event says, a line each: what changed, which steps flipped and why, what did not count."""
    if isinstance(event, WatchChange):
        what = ", ".join(event.paths + (("Dockerfile",) if event.dockerfile_changed else ()))
        return [f"changed: {what}; rebuilding"]
    if isinstance(event, WatchIgnored):
        return [f"changed: {', '.join(event.paths)}; ignored by .dockerignore: no rebuild"]
    lines = []
    for flip in event.flipped:
        name = f"line {flip.step.dockerfile_line}" if flip.step.dockerfile_line else f"#{flip.step.index}"
        verdict = {("hit", "miss"): "cached → rebuilt", ("miss", "hit"): "rebuilt → cached"}.get(
            (flip.before, flip.after), "rebuilt" if flip.after == "miss" else "cached")
        lines.append(f"{name} {verdict}: {flip.reason}")
    rebuilt = any(flip.after == "miss" for flip in event.flipped)
    for cause in event.changes:
        if cause.kind in ("touched", "restored", "unused"):
            lines.append(cause.text + ("" if rebuilt else ": no step rebuilt"))
    return lines


def explain_lines(summaries) -> list[str]:
    """One line per step: ``[2/4] RUN make   CACHED   (record …)`` or ``REBUILT  src/app.py: content changed``."""
    titles = [step_title(s.step) for s in summaries]
    width = min(max((len(t) for t in titles), default=0), 60)
    lines = []
    for title, summary in zip(titles, summaries):
        shown = title if len(title) <= width else title[: width - 1] + "…"
        if summary.cache == "hit":
            lines.append(f"{shown.ljust(width)}   CACHED   ({summary.reason})")
        elif summary.cache == "miss":
            lines.append(f"{shown.ljust(width)}   REBUILT  {summary.reason}")
        else:
            lines.append(f"{shown.ljust(width)}   BASE     {summary.reason}")
    return lines


__all__ = ["PlainPrinter", "TtyPrinter", "explain_lines", "step_title", "watch_lines"]
