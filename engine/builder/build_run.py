"""One build from start to finish: scratch space, context and Dockerfile, the plan, the stages on
threads (each waiting for the stages it needs), the steps of each stage in order, then the tags.

A build killed half-way leaves only whole images, and its scratch space is removed by the next build.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from layerlab.engine.builder.base_image import start_stage
from layerlab.engine.builder.dispatch import StageState
from layerlab.engine.builder.onbuild import parse_triggers
from layerlab.engine.builder.planner import BuildPlan, StagePlan, plan_build
from layerlab.engine.builder.validate import validate_plan
from layerlab.engine.builder.request import BuildCancelled, BuildRequest, BuildResult
from layerlab.engine.builder.session import BuildSession, locked_sink
from layerlab.engine.builder.build_source import open_source
from layerlab.engine.builder.step_runner import StepRunner
from layerlab.engine.builder.workspace import new_workspace, remove_workspace
from layerlab.engine.dockerfile.args import Platform, platform_args, resolve_global_args
from layerlab.engine.dockerfile.ast import Position
from layerlab.engine.dockerfile.instructions import Dockerfile, Instruction, KeyValue, Label
from layerlab.engine.errors import BuildError, DockerfileError, LayerlabError
from layerlab.engine.events import BuildFailed, BuildFinished, BuildStarted, EventSink, StepRef
from layerlab.engine.store import Store

MAX_STAGE_THREADS = 4


def open_session(request: BuildRequest, store: Store, events: EventSink, workspace: Path) -> BuildSession:
    """The context and Dockerfile opened, the global ARGs resolved: what a build, and a prediction
    of one, read."""
    source = open_source(request, workspace)
    dockerfile = source.dockerfile
    # BuildKit defines TARGETPLATFORM, BUILDARCH and the rest; docker 20.10's classic builder has no
    # automatic ARGs (`ARG TARGETARCH` stays unset there, and `FROM --platform=$BUILDPLATFORM` fails).
    automatic = platform_args(Platform.host()) if request.semantics == "buildkit" else {}
    global_args = resolve_global_args(dockerfile.meta_args, dict(request.build_args), automatic,
                                      escape_token=dockerfile.escape_token, filename=dockerfile.filename)
    return BuildSession(request, store, events, workspace, source, global_args)


def checked_plan(session: BuildSession) -> BuildPlan:
    """The session's stages planned for its target, and checked before any step runs."""
    plan = plan_build(session.dockerfile, session.global_args, session.request.target,
                      every_stage_to_target=session.request.semantics == "classic")
    validate_plan(plan, session.dockerfile.filename)
    return plan


def run_build(request: BuildRequest, store: Store, events: EventSink) -> BuildResult:
    started = time.monotonic()
    events = locked_sink(events)
    workspace = new_workspace(store.layout.tmp)
    session: BuildSession | None = None
    runner: StepRunner | None = None
    try:
        session = open_session(request, store, events, workspace)
        runner = StepRunner(session)
        plan = checked_plan(session)
        total = sum(p.steps for p in plan.stages) + (1 if request.labels else 0)
        events(BuildStarted(session.dockerfile.filename, str(session.context_root), total, request.target))
        _Stages(session, runner, plan).build()
        image_id = session.stage_images[plan.target]
        tags = list(request.tags)
        for tag in tags:
            store.tag(image_id, tag)
        duration = time.monotonic() - started
        events(BuildFinished(image_id, tuple(tags), duration))
        return BuildResult(image_id, tags, runner.ordered_summaries(), duration,
                           {p.label: session.stage_images[p.stage.index] for p in plan.stages
                            if p.stage.index in session.stage_images})
    except (LayerlabError, KeyboardInterrupt) as error:
        if session is not None:
            session.stop.set()
        message = error.one_line() if isinstance(error, LayerlabError) else "build interrupted"
        line = error.line if isinstance(error, DockerfileError) else 0
        events(BuildFailed(message, None, dockerfile_line=line))
        raise
    finally:
        if session is not None:
            session.close()
        if runner is not None:
            runner.close()
        remove_workspace(workspace)


class _Stages:
    """The plan's stages, on threads when there are several, each stage's steps in order."""

    def __init__(self, session: BuildSession, runner: StepRunner, plan: BuildPlan):
        self.session = session
        self.runner = runner
        self.plan = plan

    def build(self) -> None:
        session, stages = self.session, self.plan.stages
        for stage_plan in stages:
            session.stage_done[stage_plan.stage.index] = threading.Event()
        if not session.request.parallel or len(stages) == 1:
            for stage_plan in stages:
                self._build_stage(stage_plan)
            return
        # loaded for a multi-stage build only (concurrent.futures brings logging along)
        from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

        with ThreadPoolExecutor(max_workers=min(MAX_STAGE_THREADS, len(stages)), thread_name_prefix="stage") as pool:
            futures = [pool.submit(self._build_stage, stage_plan) for stage_plan in stages]
            try:
                wait(futures, return_when=FIRST_EXCEPTION)
            except KeyboardInterrupt:
                session.stop.set()
                raise
            for future in futures:
                error = future.exception() if future.done() else None
                if error is not None:
                    session.stop.set()
                    for other in futures:
                        other.cancel()
                    raise error
            for future in futures:
                future.result()

    def _build_stage(self, stage_plan: StagePlan) -> None:
        session = self.session
        stage = stage_plan.stage
        for dep in stage_plan.deps:
            session.wait_for(dep)
        from_ref = stage_from_ref(session, self.plan, stage_plan)
        state, summary = start_stage(session, stage_plan, from_ref)
        self.runner.add_summary(summary)
        parent_rebuilt, parent_ref = False, from_ref
        for ref, instruction, position in stage_steps(session, self.plan, stage_plan, state):
            if session.stop.is_set():
                raise BuildCancelled("build stopped")
            parent_rebuilt = self.runner.step(state, stage_plan, ref, instruction, position, parent_rebuilt,
                                              parent_ref)
            parent_ref = ref
        if not state.image_id:
            raise BuildError(f"{session.dockerfile.filename}:{stage.line}: stage {stage_plan.label} made no image "
                             "(FROM scratch with no instructions)")
        session.stage_finished(stage.index, state.image_id, state.scope.values)


def _with_labels(session: BuildSession, plan: BuildPlan, stage_plan: StagePlan) -> bool:
    return bool(session.request.labels) and stage_plan.stage.index == plan.target


def stage_from_ref(session: BuildSession, plan: BuildPlan, stage_plan: StagePlan) -> StepRef:
    """The StepRef of a stage's FROM (its first step)."""
    first_index, _label_index = _step_indexes(session.dockerfile)
    steps = stage_plan.steps + (1 if _with_labels(session, plan, stage_plan) else 0)
    stage = stage_plan.stage
    return StepRef(first_index[stage.index], stage_plan.label, 1, steps, stage.original, stage.line)


def stage_steps(session: BuildSession, plan: BuildPlan, stage_plan: StagePlan,
                state: StageState | None) -> list[tuple[StepRef, Instruction, int]]:
    """A stage's steps after FROM, in order: the base's ONBUILD triggers (taken out of ``state``'s
    config, as Docker does; none without a state), the stage's instructions, then ``--label``s on
    the target stage."""
    first_index, label_index = _step_indexes(session.dockerfile)
    stage = stage_plan.stage
    with_labels = _with_labels(session, plan, stage_plan)
    steps = stage_plan.steps + (1 if with_labels else 0)
    first = first_index[stage.index]
    instructions: list[tuple[StepRef, Instruction, int]] = []
    triggers = (state.config.get("OnBuild") or []) if state is not None else []
    if state is not None and triggers:
        state.config["OnBuild"] = []
        for number, trigger in enumerate(parse_triggers(list(triggers), stage_plan.base), start=1):
            ref = StepRef(first, stage_plan.label, 1, steps, trigger.original.strip(), stage.line)
            instructions.append((ref, trigger, -number))
    for position, command in enumerate(stage.commands, start=2):
        ref = StepRef(first + position - 1, stage_plan.label, position, steps, command.original.strip(),
                      command.line)
        instructions.append((ref, command, position))
    if with_labels:
        instructions.append(_label_step(session, stage_plan, steps, label_index))
    return instructions


def _label_step(session: BuildSession, stage_plan: StagePlan, steps: int,
                label_index: int) -> tuple[StepRef, Instruction, int]:
    """``--label``s as one LABEL step after the target stage's last instruction."""
    labels = sorted(session.request.labels.items())
    pairs = [KeyValue(key, value, Position(0, 0)) for key, value in labels]
    text = "LABEL " + " ".join(f"{key}={value}" for key, value in labels)
    label = Label(position=Position(0, 0), end_line=0, original=text, pairs=pairs)
    return StepRef(label_index, stage_plan.label, steps, steps, text, 0), label, steps


def _step_indexes(dockerfile: Dockerfile) -> tuple[dict[int, int], int]:
    """StepRef indexes: FROM lines and instructions counted from 1 across the whole Dockerfile;
    the ``--label`` step comes after everything."""
    first_index: dict[int, int] = {}
    counter = 1
    for stage in dockerfile.stages:
        first_index[stage.index] = counter
        counter += 1 + len(stage.commands)
    return first_index, counter
