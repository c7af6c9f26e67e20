"""A minimal step loop over the cache modules, standing in for the build engine.

It walks a list of instructions the way the classic builder does -- parent
chained to the previous result, probe, on a miss "build" a new unique result
and record it -- so tests can replay Docker's hit/miss scenarios against the
real context hashing, keys, reasons and SQLite records.
"""

from __future__ import annotations

import hashlib
import itertools
from dataclasses import dataclass, field
from pathlib import Path

from layerlab.engine.builder.cache_key import StepInputs, copy_command, nop_command, run_build_args, run_command
from layerlab.engine.builder.cache_records import CacheDecision, CacheRecords, probe
from layerlab.engine.builder.context import BuildContext, Excluder
from layerlab.engine.builder.stat_cache import StatCache
from layerlab.engine.events import EventList, StepCached, StepFinished, StepRebuilt, StepRef, StepStarted

BASE_IMAGE = "sha256:" + "b" * 64
_builds = itertools.count()


@dataclass
class Step:
    instruction: str

    @property
    def word(self) -> str:
        return self.instruction.split()[0]

    @property
    def rest(self) -> str:
        return self.instruction.split(None, 1)[1]


@dataclass
class Build:
    decisions: list[CacheDecision]
    events: EventList = field(default_factory=EventList)

    @property
    def pattern(self) -> str:
        """One letter per step: H for a hit, M for a miss."""
        return "".join("H" if d.record else "M" for d in self.decisions)

    def reason(self, position: int) -> str:
        return self.decisions[position - 1].reason


def build(context_dir: Path, dockerfile: str, records: CacheRecords, *, build_args: dict | None = None,
          no_cache: bool = False, excluder: Excluder | None = None, stat_cache: StatCache | None = None,
          owner: str = "keep") -> Build:
    steps = [Step(line.strip()) for line in dockerfile.strip().splitlines() if line.strip()]
    context = BuildContext(context_dir, excluder=excluder, stat_cache=stat_cache, owner=owner)
    build_args = build_args or {}
    parent, parent_missed = BASE_IMAGE, False
    in_scope: dict[str, str | None] = {}
    env: list[str] = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]
    result = Build([])
    serial = next(_builds)
    for position, step in enumerate(steps, start=1):
        ref = StepRef(position, "0", position, len(steps), step.instruction, position + 1)
        result.events(StepStarted(ref))
        extra: dict = {}
        if step.word == "ARG":
            name, _, default = step.rest.partition("=")
            in_scope[name] = build_args.get(name, default or None)
            command = nop_command(step.instruction)
        elif step.word == "ENV":
            env.append(step.rest)
            command = nop_command(step.instruction)
        elif step.word == "RUN":
            extra["build_args"] = run_build_args(in_scope, env)
            command = run_command(step.rest, build_args=extra["build_args"])
        elif step.word == "COPY":
            *sources, dest = step.rest.split()
            source = context.sources(sources)
            command = copy_command("COPY", source.digest, dest)
            extra.update(source_digest=source.digest, sources=source.files)
        else:
            raise ValueError(step.instruction)
        inputs = StepInputs(dockerfile="Dockerfile", stage="0", position=position, index=position,
                            instruction=step.instruction, parent=parent,
                            parent_step=position - 1 if position > 1 else None,
                            # the step before, on the line its own StepRef gives it (one below its position)
                            parent_line=position if position > 1 else 0,
                            parent_keyword=steps[position - 2].word if position > 1 else "", command=command,
                            env=tuple(env), **extra)
        decision = probe(records, inputs, forced="--no-cache" if no_cache else None, parent_rebuilt=parent_missed)
        result.decisions.append(decision)
        if decision.record is not None:
            parent = decision.record.result
            result.events(StepCached(ref, decision.key, parent, decision.reason, decision.causes))
        else:
            result.events(StepRebuilt(ref, decision.reason, decision.causes))
            # a rebuilt step yields a new image, as a commit with a new timestamp does
            parent = "sha256:" + hashlib.sha256(f"{decision.key}/{serial}".encode()).hexdigest()
            records.put(inputs, parent, layer_size=100 * position)
        result.events(StepFinished(ref, 0.0, decision.cache, decision.reason, result=parent))
        parent_missed = decision.record is None
    context.save()
    return result
