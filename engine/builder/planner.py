"""Which stages a build needs, and what each waits for.

A stage depends on the stage its FROM names, on every stage a ``COPY
--from`` names (by name or index) and on every stage a ``RUN
--mount=from=`` names. ``--target`` picks the stage to build (default: the
last). BuildKit builds only the stages the target reaches; the classic
builder builds every stage up to the target, used or not
(``every_stage_to_target``). Stages that do not depend on each other may
build at the same time.
"""

from __future__ import annotations

from typing import Mapping

from layerlab.engine.dockerfile.args import expand_from
from layerlab.engine.dockerfile.instructions import Copy, Dockerfile, Run, Stage
from layerlab.engine.errors import BuildError
from layerlab.engine.record_type import field, record


@record
class StagePlan:
    stage: Stage
    label: str              # the stage's name, else its index
    base: str               # the FROM name with global ARGs expanded
    base_stage: int | None  # index of the stage FROM names, None for an image
    deps: set[int] = field(default_factory=set)
    steps: int = 0          # FROM plus its instructions


@record
class BuildPlan:
    stages: list[StagePlan]   # the stages to build, in Dockerfile order (a valid build order)
    target: int               # index of the stage whose result is the build's image
    skipped: list[int] = field(default_factory=list)

    def stage(self, index: int) -> StagePlan:
        return next(plan for plan in self.stages if plan.stage.index == index)


def stage_reference(dockerfile: Dockerfile, name: str, before: int) -> int | None:
    """The stage ``name`` refers to (a name or an index), if it is an earlier stage."""
    lowered = name.lower()
    for stage in reversed(dockerfile.stages[:before]):
        if stage.name and stage.name == lowered:
            return stage.index
    if name.isdigit() and int(name) < before:
        return int(name)
    return None


def mount_from(spec: str) -> str:
    """The ``from=`` of a ``--mount`` value ('' when absent)."""
    for part in spec.split(","):
        key, _, value = part.partition("=")
        if key.strip().lower() == "from":
            return value.strip()
    return ""


def plan_build(dockerfile: Dockerfile, global_args: Mapping[str, str], target: str = "", *,
               every_stage_to_target: bool = False) -> BuildPlan:
    if not dockerfile.stages:
        raise BuildError(f"{dockerfile.filename}: no build stage in the Dockerfile")
    if target:
        chosen = dockerfile.stage_by_name(target)
        if chosen is None:
            raise BuildError(f"failed to reach build target {target} in Dockerfile")
        target_index = chosen.index
    else:
        target_index = len(dockerfile.stages) - 1
    plans: dict[int, StagePlan] = {}
    for stage in dockerfile.stages:
        line = expand_from(stage, global_args, escape_token=dockerfile.escape_token, filename=dockerfile.filename)
        base_stage = stage_reference(dockerfile, line.base_name, stage.index)
        plan = StagePlan(stage, stage.name or str(stage.index), line.base_name, base_stage,
                         steps=1 + len(stage.commands))
        if base_stage is not None:
            plan.deps.add(base_stage)
        for command in stage.commands:
            names = []
            if isinstance(command, Copy) and command.from_:
                names.append(command.from_)
            if isinstance(command, Run):
                names += [mount_from(spec) for spec in command.mounts if mount_from(spec)]
            for name in names:
                index = stage_reference(dockerfile, name, stage.index)
                if index is not None:
                    plan.deps.add(index)
                elif name.lower() == (stage.name or "\0") or (name.isdigit() and int(name) >= stage.index):
                    raise BuildError(f"{dockerfile.filename}:{command.line}: stage {name!r} is not built before "
                                     f"stage {plan.label} (a stage can only use earlier stages)")
        plans[stage.index] = plan
    needed: set[int] = set(range(target_index + 1)) if every_stage_to_target else set()
    pending = [target_index]
    while pending:
        index = pending.pop()
        if index not in needed:
            needed.add(index)
            pending.extend(plans[index].deps)
    return BuildPlan([plans[i] for i in sorted(needed)], target_index,
                     [i for i in sorted(plans) if i not in needed])


__all__ = ["BuildPlan", "StagePlan", "mount_from", "plan_build", "stage_reference"]
