"""Lessons: each sample context, as a guided exercise on the build cache.

A sample context (``sample_contexts/NAME``) keeps its lessons in ``lesson.toml`` beside its
Dockerfile: the Dockerfile and build args to build with, the edit to make (a file written or
touched, or a build arg given a new value) and the marks the build after the edit must show, by
Dockerfile line. A lesson is worked in a copy of its sample (``ROOT/lessons/ID``), so its edits
never touch the samples themselves:

1. ``open_workspace`` copies the sample afresh; the first build fills the cache.
2. ``apply_change`` makes the lesson's edit (or the learner makes it with an editor).
3. ``check`` compares the second build's steps with the lesson's expectations.
"""

from __future__ import annotations

import os
import shutil
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Mapping, Sequence

from layerlab.engine.errors import NotFound, UsageError
from layerlab.engine.record_type import field, record

if TYPE_CHECKING:
    from layerlab.engine.builder.predict import Change

LESSON_FILE = "lesson.toml"
SAMPLES_ENV = "LAYERLAB_SAMPLES"


@record(frozen=True)
class LessonChange:
    """The lesson's edit: ``file`` written with ``write`` (or only touched), or ``build_arg`` set to ``value``."""

    file: str = ""
    write: str | None = None
    touch: bool = False
    build_arg: str = ""
    value: str = ""

    def describe(self) -> str:
        if self.build_arg:
            return f"--build-arg {self.build_arg}={self.value}"
        return f"touch {self.file}" if self.touch else f"edit {self.file}"


@record(frozen=True)
class Lesson:
    id: str
    title: str
    sample: Path                      # the sample context the lesson copies
    edit: str                         # the edit, in words, for the learner
    change: LessonChange
    dockerfile: str = "Dockerfile"
    build_args: Mapping[str, str] = field(default_factory=dict)
    cached: tuple[int, ...] = ()      # Dockerfile lines that must stay cached after the edit
    rebuilt: tuple[int, ...] = ()     # lines that must be rebuilt
    reasons: Mapping[int, str] = field(default_factory=dict)   # line -> text its miss reason must contain

    def readme(self) -> str:
        path = self.sample / "README.md"
        return path.read_text(encoding="utf-8") if path.is_file() else ""

    def args_after(self) -> dict[str, str]:
        """The build args of the build after the edit."""
        if self.change.build_arg:
            return {**self.build_args, self.change.build_arg: self.change.value}
        return dict(self.build_args)


def samples_dir() -> Path:
    """``LAYERLAB_SAMPLES``, else the ``sample_contexts`` folder that ships beside the code."""
    configured = os.environ.get(SAMPLES_ENV)
    return Path(configured) if configured else Path(__file__).resolve().parents[2] / "sample_contexts"


def load_lessons(samples: Path | None = None) -> list[Lesson]:
    """Every lesson of every sample, in sample order; a bad ``lesson.toml`` is one clear ``UsageError``."""
    root = samples or samples_dir()
    if not root.is_dir():
        raise NotFound(f"{root}: no sample contexts here (set {SAMPLES_ENV} to the sample_contexts folder)")
    samples = [_read_lessons(path) for path in sorted(root.iterdir()) if (path / LESSON_FILE).is_file()]
    return [lesson for _order, lessons in sorted(samples, key=lambda pair: pair[0]) for lesson in lessons]


def find_lesson(lesson_id: str, samples: Path | None = None) -> Lesson:
    for lesson in load_lessons(samples):
        if lesson.id == lesson_id:
            return lesson
    raise NotFound(f"no lesson {lesson_id!r} (known: {', '.join(l.id for l in load_lessons(samples))})")


def _read_lessons(sample: Path) -> tuple[int, list[Lesson]]:
    """A sample's place in the list (its ``order``; unordered ones last) and its lessons."""
    path = sample / LESSON_FILE
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return int(data.get("order", 1000)), [_lesson(sample, entry) for entry in data["lesson"]]
    except (tomllib.TOMLDecodeError, KeyError, TypeError, ValueError) as error:
        raise UsageError(f"{path}: not a lesson file: {type(error).__name__}: {error}") from None


def _lesson(sample: Path, entry: dict) -> Lesson:
    change = LessonChange(**entry["change"])
    if bool(change.file) == bool(change.build_arg):
        raise ValueError(f"lesson {entry['id']}: its change names a file or a build_arg, one of the two")
    expect = entry.get("expect", {})
    return Lesson(id=entry["id"], title=entry["title"], sample=sample, edit=entry["edit"], change=change,
                  dockerfile=entry.get("dockerfile", "Dockerfile"),
                  build_args={str(k): str(v) for k, v in entry.get("build_args", {}).items()},
                  cached=tuple(expect.get("cached", ())), rebuilt=tuple(expect.get("rebuilt", ())),
                  reasons={int(line): text for line, text in expect.get("reasons", {}).items()})


def predicted_change(lesson: Lesson) -> "Change":
    """The lesson's edit as a prediction supposes it (``layerlab.engine.api.predicting``)."""
    from layerlab.engine.api.predicting import change_of

    change = lesson.change
    if change.build_arg:
        return change_of(build_args={change.build_arg: change.value})
    return change_of(touched=[change.file]) if change.touch else change_of(paths=[change.file])


def open_workspace(lesson: Lesson, root: Path) -> Path:
    """A fresh copy of the lesson's sample under ``root/lessons/ID`` (an earlier attempt is replaced)."""
    workspace = root / "lessons" / lesson.id
    if workspace.exists():
        shutil.rmtree(workspace)
    workspace.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(lesson.sample, workspace, symlinks=True)
    return workspace


def apply_change(lesson: Lesson, workspace: Path) -> str:
    """Make the lesson's file edit in ``workspace`` (a build arg change needs no file); says what it did."""
    change = lesson.change
    if change.build_arg:
        return f"the next build uses {change.build_arg}={change.value}"
    target = workspace / change.file
    if change.touch:
        os.utime(target)
        return f"touched {change.file}: only its modification time changed"
    target.write_text(change.write or "", encoding="utf-8")
    return f"wrote {change.file}"


@record(frozen=True)
class LessonMark:
    """A step's outcome as the lesson checks it: its Dockerfile line, ``hit`` or ``miss``, and the reason."""

    line: int
    outcome: str
    reason: str = ""


def check(lesson: Lesson, marks: Sequence[LessonMark]) -> list[str]:
    """What came out other than the lesson says, one line each; empty when the build matched."""
    by_line = {mark.line: mark for mark in marks}
    problems = []
    for lines, outcome, word in ((lesson.cached, "hit", "cached"), (lesson.rebuilt, "miss", "rebuilt")):
        for line in lines:
            mark = by_line.get(line)
            if mark is None:
                problems.append(f"line {line}: expected {word}, but no step ran there")
            elif mark.outcome != outcome:
                problems.append(f"line {line}: expected {word}, came out "
                                f"{'cached' if mark.outcome == 'hit' else 'rebuilt'}")
    for line, text in sorted(lesson.reasons.items()):
        mark = by_line.get(line)
        if mark is not None and text not in mark.reason:
            problems.append(f"line {line}: expected the reason to say {text!r}, it says {mark.reason!r}")
    return problems


__all__ = ["LESSON_FILE", "Lesson", "LessonChange", "LessonMark", "apply_change", "check", "find_lesson",
           "load_lessons", "open_workspace", "predicted_change", "samples_dir"]
