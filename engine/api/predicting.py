"""``predict``: which steps would rebuild if a context file changed or a build arg took a new value.

Nothing is built and the build cache is only read: the prediction comes from the builder's own
preparers, cache keys and records (``layerlab.engine.builder.predict``), so the CLI
(``build --predict``) and the app's Build panel show what the next build would do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from layerlab.engine.record_type import record

if TYPE_CHECKING:
    from layerlab.engine.builder.predict import Change, Prediction, PredictedStep
    from layerlab.engine.builder.request import BuildRequest
    from layerlab.engine.store.facade import Store

# How each outcome reads in a table: a FROM, a step that stays cached, one that would rebuild.
OUTCOME_WORDS = {"base": "BASE", "hit": "CACHED", "miss": "REBUILD"}


def predict(store: "Store", request: "BuildRequest", change: "Change") -> "Prediction":
    """Predict ``request`` built after ``change``; raises a ``LayerlabError`` (one line) for bad input."""
    from layerlab.engine.builder.predict import predict as run_predict

    return run_predict(request, store, change)


def parse_change(words: Sequence[str], context: Path) -> "Change":
    """``--predict`` words (``PATH`` in the context, or ``ARG=VALUE``) as one ``Change``."""
    from layerlab.engine.builder.predict import parse_change as parse

    return parse(list(words), context)


def change_of(paths: Sequence[str] = (), build_args: dict[str, str] | None = None,
              touched: Sequence[str] = ()) -> "Change":
    from layerlab.engine.builder.predict import Change

    return Change(tuple(paths), dict(build_args or {}), tuple(touched))


def prediction_lines(prediction: "Prediction") -> list[str]:
    """The table ``build --predict`` prints: one line per step, then the notes and a count."""
    from layerlab.engine.builder.printers import step_title

    titles = [step_title(step.step) for step in prediction.steps]
    width = min(max((len(title) for title in titles), default=0), 60)
    lines = [f"if {prediction.change.describe()} (nothing is built):"]
    for title, step in zip(titles, prediction.steps):
        shown = title if len(title) <= width else title[: width - 1] + "…"
        reason = step.reason if step.outcome != "hit" else f"({step.reason})"
        if step.outcome == "miss" and not step.by_change:
            reason += "  [rebuilds anyway]"
        line = f"line {step.step.dockerfile_line}" if step.step.dockerfile_line else "--label"
        lines.append(f"{line:>8}  {shown.ljust(width)}   {OUTCOME_WORDS[step.outcome]:<8} {reason}")
    lines += [f"note: {note}" for note in prediction.notes]
    rebuilt = prediction.rebuilt()
    kept = sum(1 for step in prediction.steps if step.outcome == "hit")
    lines.append(f"{len(rebuilt)} step{'s' if len(rebuilt) != 1 else ''} would rebuild, {kept} would stay cached")
    return lines


def prediction_json(prediction: "Prediction") -> dict[str, object]:
    """The prediction as one JSON object (``build --predict --progress json``)."""
    return {
        "type": "prediction",
        "change": {"paths": list(prediction.change.paths), "build_args": dict(prediction.change.build_args)},
        "steps": [_step_json(step) for step in prediction.steps],
        "notes": list(prediction.notes),
    }


def _step_json(step: "PredictedStep") -> dict[str, object]:
    return {
        "index": step.step.index, "stage": step.step.stage, "position": step.step.position,
        "line": step.step.dockerfile_line, "instruction": step.step.instruction,
        "outcome": step.outcome, "reason": step.reason, "by_change": step.by_change,
        "causes": [{"kind": c.kind, "text": c.text, "subject": c.subject} for c in step.causes],
    }


@record(frozen=True)
class PredictChoices:
    """What a prediction can suppose for one build: the context's files (those ``.dockerignore``
    excludes included, marked, since the answer for them is "nothing") and the Dockerfile's ARGs."""

    files: tuple[str, ...]
    excluded: frozenset[str]
    args: tuple[tuple[str, str | None], ...]     # name, default (None: no default)
    truncated: bool = False


def prediction_choices(request: "BuildRequest", limit: int = 2000) -> PredictChoices:
    """The files of ``request``'s context directory (up to ``limit``) and its Dockerfile's ARGs, in order."""
    from layerlab.engine.dockerfile import load_dockerfile
    from layerlab.engine.dockerfile.dockerignore import Matcher
    from layerlab.engine.dockerfile.instructions import ArgInstruction

    if request.context_dir is None:
        return PredictChoices((), frozenset(), ())
    root = Path(request.context_dir).resolve()
    dockerfile = Path(request.dockerfile) if Path(request.dockerfile).is_absolute() else root / request.dockerfile
    parsed = load_dockerfile(dockerfile.read_text(encoding="utf-8", errors="surrogateescape"), dockerfile.name)
    matcher = Matcher.for_context(root, dockerfile)
    files: list[str] = []
    for folder, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            files.append((Path(folder) / name).relative_to(root).as_posix())
        if len(files) >= limit:
            break
    args: dict[str, str | None] = {}
    declared = [*parsed.meta_args, *(command for stage in parsed.stages for command in stage.commands
                                     if isinstance(command, ArgInstruction))]
    for instruction in declared:
        for spec in instruction.args:
            if spec.key not in args or args[spec.key] is None:
                args[spec.key] = spec.value
    return PredictChoices(tuple(files[:limit]), frozenset(f for f in files if matcher.matches(f)),
                          tuple(args.items()), len(files) > limit)
