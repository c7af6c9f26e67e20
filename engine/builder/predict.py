"""Which steps *would* rebuild if a context file changed or a build arg took a new value, without building.

A prediction walks the plan as a build does and asks the cache the builder's own questions: each
step is prepared by the same preparers, keyed by the same ``StepInputs`` and probed against the same
records (read-only: nothing is marked as used, so the next build's misses are explained as before).

- A build arg's new value goes into the request itself, so every key that sees the arg (RUNs after
  its ``ARG``, any instruction that expands it) is computed with the new value.
- A file cannot be hashed before it is edited, so a step whose key takes that file's checksum (a
  COPY/ADD source, a ``RUN --mount=type=bind`` of the context) is the step that would miss. A file
  ``.dockerignore`` excludes never reaches a key, and no step misses for it.

After a step would miss, every later step of its stage would miss too (its parent is new), and so
would a stage that starts from it; a ``COPY --from`` or bind of that stage would miss if what it
takes came out different, which only running the build can tell, so it is predicted to miss.
"""

from __future__ import annotations

import threading
from typing import Mapping

from layerlab.engine.builder.base_image import start_stage
from layerlab.engine.builder.build_run import checked_plan, open_session, stage_from_ref, stage_steps
from layerlab.engine.builder.cache_records import CacheRecords
from layerlab.engine.builder.planner import BuildPlan, StagePlan, mount_from, stage_reference
from layerlab.engine.builder.preparers import prepare
from layerlab.engine.builder.request import BuildRequest
from layerlab.engine.builder.run_spec import parse_mount
from layerlab.engine.builder.session import BuildSession
from layerlab.engine.builder.step_runner import follow_hit, forced_flag, keyed_inputs, probe_in_store
from layerlab.engine.builder.workspace import new_workspace, remove_workspace
from layerlab.engine.dockerfile.instructions import Copy, Instruction, Run
from layerlab.engine.errors import NotFound, UsageError
from layerlab.engine.events import Cause, StepRef, discard
from layerlab.engine.record_type import field, record, replace
from layerlab.engine.store import Store


@record(frozen=True)
class Change:
    """What a prediction supposes: context paths edited, build args given new values."""

    paths: tuple[str, ...] = ()
    build_args: Mapping[str, str] = field(default_factory=dict)
    touched: tuple[str, ...] = ()    # paths whose modification time alone changes (``touch``)

    def describe(self) -> str:
        """``greeting.txt changed``, ``VERSION were 1.1``, joined with "and"."""
        words = [f"{', '.join(self.paths)} changed"] if self.paths else []
        words += [f"{name} were {value}" for name, value in sorted(self.build_args.items())]
        words += [f"{', '.join(self.touched)} were touched"] if self.touched else []
        return " and ".join(words) or "nothing changed"


@record(frozen=True)
class PredictedStep:
    """One step's predicted outcome: ``base`` (a FROM), ``hit`` (stays cached) or ``miss`` (would rebuild).

    ``by_change`` says a miss follows from the supposed change; False means it would rebuild anyway
    (no record yet, or the context already differs from the last build).
    """

    step: StepRef
    outcome: str
    reason: str
    causes: tuple[Cause, ...] = ()
    by_change: bool = False


@record(frozen=True)
class Prediction:
    change: Change
    steps: tuple[PredictedStep, ...]
    notes: tuple[str, ...] = ()      # what the change does not reach, said once per path

    def rebuilt(self) -> list[PredictedStep]:
        return [step for step in self.steps if step.outcome == "miss"]


@record
class _StageOutcome:
    image_id: str = ""               # the stage's image when every step would hit
    missed_at: StepRef | None = None
    by_change: bool = False


def predict(request: BuildRequest, store: Store, change: Change) -> Prediction:
    """Predict ``request`` built after ``change``; raises a ``LayerlabError`` for a bad context or Dockerfile."""
    supposed = replace(request, build_args={**request.build_args, **change.build_args})
    workspace = new_workspace(store.layout.tmp)
    session: BuildSession | None = None
    records: CacheRecords | None = None
    try:
        session = open_session(supposed, store, discard, workspace)
        records = CacheRecords(store.root)
        plan = checked_plan(session)
        walk = _Walk(session, records, plan, change)
        for path in (*change.paths, *change.touched):
            walk.check_path(path)
        for stage_plan in plan.stages:
            walk.stage(stage_plan)
        return Prediction(change, tuple(walk.steps), tuple(walk.notes_for_paths()))
    finally:
        if session is not None:
            session.close()
        if records is not None:
            records.close()
        remove_workspace(workspace)


class _Walk:
    def __init__(self, session: BuildSession, records: CacheRecords, plan: BuildPlan, change: Change):
        self.session, self.records, self.plan, self.change = session, records, plan, change
        self.steps: list[PredictedStep] = []
        self.stages: dict[int, _StageOutcome] = {}
        self.read_paths: set[str] = set()     # changed paths some step's key takes
        self.ignored: list[str] = []

    def check_path(self, path: str) -> None:
        root = self.session.context_root
        if not (root / path).exists() and not (root / path).is_symlink():
            raise NotFound(f"{path}: no such file in the build context {root}")
        if self.session.source.matcher.matches(path):
            self.ignored.append(path)

    def notes_for_paths(self) -> list[str]:
        notes = [f"{path}: excluded by .dockerignore: no step sees it" for path in self.ignored]
        notes += [f"{path}: only its modification time changes, and no cache key includes it"
                  for path in self.change.touched if path not in self.ignored]
        dockerfile = self.session.source.dockerfile_id
        for path in self.change.paths:
            if path in self.ignored or path in self.read_paths:
                continue
            if str(self.session.context_root / path) == dockerfile:
                notes.append(f"{path}: an edited instruction misses, and so does every step after it in its stage")
            elif path == ".dockerignore":
                notes.append(f"{path}: an edit changes which files COPY sees; predict those files instead")
            else:
                notes.append(f"{path}: no step's cache key reads it")
        return notes

    def stage(self, stage_plan: StagePlan) -> None:
        session = self.session
        outcome = self.stages[stage_plan.stage.index] = _StageOutcome()
        from_ref = stage_from_ref(session, self.plan, stage_plan)
        base = self.stages.get(stage_plan.base_stage) if stage_plan.base_stage is not None else None
        if base is not None and base.missed_at is not None:
            cause = Cause("parent-rebuilt", f"stage {stage_plan.base} it starts from would be rebuilt",
                          subject=stage_plan.base)
            self.steps.append(PredictedStep(from_ref, "base", cause.text, (cause,), base.by_change))
            self._miss_rest(stage_plan, outcome, from_ref, base.by_change)
            return
        if base is None and stage_plan.base_stage is None and stage_plan.base.lower() != "scratch":
            try:
                session.store.image(stage_plan.base)
            except NotFound:
                cause = Cause("parent-changed", f"base image {stage_plan.base} is not in the store: the build "
                              "would pull it first")
                self.steps.append(PredictedStep(from_ref, "base", cause.text, (cause,)))
                self._miss_rest(stage_plan, outcome, from_ref, False)
                return
        state, summary = start_stage(session, stage_plan, from_ref)
        self.steps.append(PredictedStep(from_ref, "base", summary.reason))
        parent_ref = from_ref
        for ref, instruction, position in stage_steps(session, self.plan, stage_plan, state):
            parent_ref, step_parent = ref, parent_ref
            if outcome.missed_at is not None:
                self._parent_miss(ref, outcome)
                continue
            took = self._rebuilt_stage_taken(instruction)
            if took is not None:
                name, stage_outcome = took
                cause = Cause("parent-rebuilt", f"stage {name} would be rebuilt: what this step takes from it "
                              "may change", subject=name)
                self._missed(ref, outcome, cause.text, (cause,), stage_outcome.by_change)
                continue
            prepared = prepare(session, state, instruction)
            inputs, _row = keyed_inputs(session, state, stage_plan, ref, instruction, position, prepared,
                                        step_parent)
            decision = probe_in_store(session, self.records, inputs, forced_flag(session, stage_plan), False,
                                      touch=False)
            read = self._changed_paths_read(instruction, prepared.sources)
            if decision.record is None:
                by_change = bool(read) or any(self._from_change(cause) for cause in decision.causes)
                self._missed(ref, outcome, decision.reason, decision.causes, by_change)
                continue
            if read:
                causes = tuple(Cause("file", f"{path}: would change", subject=path) for path in read)
                self._missed(ref, outcome, "; ".join(c.text for c in causes), causes, True)
                continue
            follow_hit(session, state, decision.record.result)
            self.steps.append(PredictedStep(ref, "hit", decision.reason))
        if outcome.missed_at is None:
            outcome.image_id = state.image_id
            session.stage_done.setdefault(stage_plan.stage.index, threading.Event())
            session.stage_finished(stage_plan.stage.index, state.image_id, state.scope.values)

    def _miss_rest(self, stage_plan: StagePlan, outcome: _StageOutcome, from_ref: StepRef, by_change: bool) -> None:
        """Every step of a stage whose FROM would change misses (no state: its base's ONBUILD is unknown)."""
        outcome.missed_at, outcome.by_change = from_ref, by_change
        for ref, _instruction, _position in stage_steps(self.session, self.plan, stage_plan, None):
            self._parent_miss(ref, outcome)

    def _missed(self, ref: StepRef, outcome: _StageOutcome, reason: str, causes: tuple[Cause, ...],
                by_change: bool) -> None:
        outcome.missed_at, outcome.by_change = ref, by_change
        self.steps.append(PredictedStep(ref, "miss", reason, causes, by_change))

    def _parent_miss(self, ref: StepRef, outcome: _StageOutcome) -> None:
        parent = outcome.missed_at
        assert parent is not None
        word = (parent.instruction.split(None, 1) or ["step"])[0].upper()
        where = f"line {parent.dockerfile_line}" if parent.dockerfile_line else f"step {parent.index}"
        cause = Cause("parent-rebuilt", f"parent ({where}, {word}) would be rebuilt", subject=str(parent.index))
        self.steps.append(PredictedStep(ref, "miss", cause.text, (cause,), outcome.by_change))

    def _from_change(self, cause: Cause) -> bool:
        """Whether a miss's cause is the supposed change itself (an arg's new value, an edited path)."""
        if cause.kind == "arg":
            return cause.subject in self.change.build_args
        return cause.kind.startswith("file") and any(_within(cause.subject, path) for path in self.change.paths)

    def _rebuilt_stage_taken(self, instruction: Instruction) -> tuple[str, _StageOutcome] | None:
        """The stage a ``COPY --from`` or ``RUN --mount=from=`` takes from, when it would be rebuilt."""
        names = []
        if isinstance(instruction, Copy) and instruction.from_:
            names.append(instruction.from_)
        if isinstance(instruction, Run):
            names += [name for name in (mount_from(spec) for spec in instruction.mounts) if name]
        dockerfile = self.session.dockerfile
        for name in names:
            index = stage_reference(dockerfile, name, len(dockerfile.stages))
            outcome = self.stages.get(index) if index is not None else None
            if outcome is not None and outcome.missed_at is not None:
                return name, outcome
        return None

    def _changed_paths_read(self, instruction: Instruction, sources: Mapping[str, object]) -> list[str]:
        """The supposed-changed paths this step's key takes a checksum of."""
        read = set(sources)
        if isinstance(instruction, Run):
            where = self.session.where(instruction)
            for spec in instruction.mounts:
                mount = parse_mount(spec, where)
                if mount.kind == "bind" and not mount.from_:
                    with self.session.lock:
                        read |= set(self.session.context().sources([mount.source or "."]).files)
        hits = [path for path in self.change.paths if path not in self.ignored
                and any(_within(name, path) for name in read)]
        self.read_paths.update(hits)
        return hits


def _within(name: str, path: str) -> bool:
    path = path.strip("/")
    return path in ("", ".") or name == path or name.startswith(path + "/")


def parse_change(words: list[str], context_root) -> Change:
    """``--predict`` words: ``NAME=VALUE`` is a build arg (unless a context file has that name), else a path.

    Paths are relative to the context (``app/main.sh``); a path given from here that lies in the
    context is taken too."""
    from pathlib import Path

    root = Path(context_root).resolve()
    paths: list[str] = []
    args: dict[str, str] = {}
    for word in words:
        name, sep, value = word.partition("=")
        if sep and name.isidentifier() and not (root / word).exists():
            args[name] = value
            continue
        candidate = Path(word)
        if candidate.is_absolute() or (not (root / word).exists() and candidate.exists()):
            try:
                word = str(candidate.resolve().relative_to(root))
            except ValueError:
                raise UsageError(f"--predict {word}: not inside the build context {root}") from None
        paths.append(Path(word).as_posix().strip("/") or ".")
    return Change(tuple(paths), args)


__all__ = ["Change", "PredictedStep", "Prediction", "parse_change", "predict"]
