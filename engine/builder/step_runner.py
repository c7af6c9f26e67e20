"""One step: prepare it, compute its key, probe the cache, say why it hit or missed, and on a miss
execute and commit it, then record the result.

A hit needs a record *and* its image still in the store; a miss names its cause. Nothing of a
failed step is committed.
"""

from __future__ import annotations

import time

from layerlab.engine.builder.cache_key import StepInputs
from layerlab.engine.builder.cache_records import CacheDecision, CacheRecords, probe
from layerlab.engine.builder.buildkit import BUILDKIT_KEY, CLASSIC_ROW, created_by as buildkit_created_by
from layerlab.engine.builder.buildkit import note_stale_hit_bug
from layerlab.engine.builder.dispatch import StageState
from layerlab.engine.builder.planner import StagePlan, stage_reference
from layerlab.engine.builder.preparers import Prepared, prepare
from layerlab.engine.builder.request import StepError, StepSummary
from layerlab.engine.builder.session import BuildSession
from layerlab.engine.dockerfile.instructions import Instruction
from layerlab.engine.errors import LayerlabError, NotFound
from layerlab.engine.events import Cause, StepCached, StepFailed, StepFinished, StepRebuilt, StepRef, StepStarted
from layerlab.engine.oci.digest import short_id


class StepRunner:
    def __init__(self, session: BuildSession):
        self.session = session
        self.records = CacheRecords(session.store.root)
        self.summaries: list[StepSummary] = []

    def close(self) -> None:
        self.records.close()

    def add_summary(self, summary: StepSummary) -> None:
        with self.session.lock:
            self.summaries.append(summary)

    def ordered_summaries(self) -> list[StepSummary]:
        return sorted(self.summaries, key=lambda s: (s.step.index, s.step.position))

    def step(self, state: StageState, stage_plan: StagePlan, ref: StepRef, instruction: Instruction,
             position: int, parent_rebuilt: bool, parent_ref: StepRef | None = None) -> bool:
        """Run one step (``parent_ref`` the one it stands on); returns whether it was rebuilt."""
        session = self.session
        started = time.monotonic()
        session.events(StepStarted(ref))
        try:
            prepared = prepare(session, state, instruction)
            inputs, buildkit_row = keyed_inputs(session, state, stage_plan, ref, instruction, position, prepared,
                                                parent_ref)
            decision = self._probe(inputs, forced_flag(session, stage_plan), parent_rebuilt)
            if buildkit_row != CLASSIC_ROW and decision.record is None:
                decision = note_stale_hit_bug(decision, prepared.sources)
            if decision.record is not None:
                session.events(StepCached(ref, decision.key, decision.record.result, decision.reason,
                                          decision.causes))
                follow_hit(session, state, decision.record.result)
                summary = StepSummary(ref, "hit", decision.reason, decision.key, state.image_id, decision.causes,
                                      duration=time.monotonic() - started, layer_size=decision.record.layer_size)
                session.events(StepFinished(ref, summary.duration, "hit", decision.reason,
                                            layer_size=decision.record.layer_size, result=state.image_id))
                self.add_summary(summary)
                return False
            session.events(StepRebuilt(ref, decision.reason, decision.causes))
            # the layer writer and the image commit load with the first step that misses, not in a no-op
            from layerlab.engine.builder.commit import commit

            layer = prepared.execute(ref, decision.previous_result) if prepared.execute is not None else None
            committed = commit(session.store, state, prepared.command, layer, run_step=prepared.is_run,
                               buildkit_row=buildkit_row)
            with session.lock:
                self.records.put(inputs, str(committed.image.id), layer_size=committed.layer_size)
            state.image_id, state.image = str(committed.image.id), committed.image.config
            summary = StepSummary(ref, "miss", decision.reason, decision.key, state.image_id, decision.causes,
                                  time.monotonic() - started, committed.layer_size)
            reused = layer.reused_files if layer is not None else 0
            session.events(StepFinished(ref, summary.duration, "miss", decision.reason,
                                        layer_size=committed.layer_size, layer_digest=committed.layer_digest,
                                        result=state.image_id, reused_files=reused))
            self.add_summary(summary)
            return True
        except StepError as error:
            error.step = error.step or ref
            session.events(StepFailed(ref, error.message, error.exit_code, error.last_lines))
            raise
        except LayerlabError as error:
            session.events(StepFailed(ref, error.one_line()))
            raise
        except KeyboardInterrupt:
            session.events(StepFailed(ref, "interrupted"))
            raise

    def _probe(self, inputs: StepInputs, forced: str | None, parent_rebuilt: bool) -> CacheDecision:
        return probe_in_store(self.session, self.records, inputs, forced, parent_rebuilt)


def keyed_inputs(session: BuildSession, state: StageState, stage_plan: StagePlan, ref: StepRef,
                 instruction: Instruction, position: int, prepared: Prepared,
                 parent_ref: StepRef | None) -> tuple[StepInputs, str]:
    """A prepared step's cache-key material (``parent_ref`` the step it stands on), and the CREATED BY
    row BuildKit would write for it (``CLASSIC_ROW`` under the classic builder's semantics)."""
    buildkit_row = CLASSIC_ROW
    if session.request.semantics == "buildkit":
        prepared.key_extra["semantics"] = BUILDKIT_KEY
        buildkit_row = buildkit_created_by(prepared.expanded or instruction, prepared.command, state.scope.declared_args,
                                           state.scope.values)
    inputs = StepInputs(
        dockerfile=session.source.dockerfile_id, stage=stage_plan.label, position=position, index=ref.index,
        instruction=ref.instruction, parent=state.image_id, command=prepared.command,
        parent_step=ref.index - 1 if position > 2 else None,
        parent_line=parent_ref.dockerfile_line if parent_ref and position > 2 else 0,
        parent_keyword=_keyword(parent_ref.instruction) if parent_ref and position > 2 else "",
        env=tuple(state.env), config=state.key_config(**prepared.key_extra),
        build_args=prepared.build_args, source_digest=prepared.source_digest, sources=prepared.sources)
    return inputs, buildkit_row


def follow_hit(session: BuildSession, state: StageState, result: str) -> None:
    """The stage goes on from a cached step's image, with that image's config."""
    state.image_id = result
    hit = session.store.image(result)
    state.image = hit.config
    state.config = dict(hit.config.data.get("config") or {})


def forced_flag(session: BuildSession, stage_plan: StagePlan) -> str | None:
    """The flag that rebuilds this stage whatever the cache holds, if one does."""
    request, dockerfile = session.request, session.dockerfile
    if request.no_cache:
        return "--no-cache"
    for name in request.no_cache_filter:
        if stage_reference(dockerfile, name, len(dockerfile.stages)) == stage_plan.stage.index:
            return f"--no-cache-filter {name}"
    return None


def probe_in_store(session: BuildSession, records: CacheRecords, inputs: StepInputs, forced: str | None,
                   parent_rebuilt: bool, *, touch: bool = True) -> CacheDecision:
    """The cache's answer for a step: a hit needs a record *and* its image still in the store.

    ``touch=False`` leaves the records as they were (a prediction must not change what the next
    build compares its misses with)."""
    with session.lock:
        decision = probe(records, inputs, forced=forced, parent_rebuilt=parent_rebuilt, touch=touch)
    if decision.record is None:
        return decision
    try:
        session.store.resolve(decision.record.result)
    except NotFound:
        text = f"cached image {short_id(decision.record.result)} was removed from the store"
        return CacheDecision(decision.key, None, text, (Cause("key", text, subject=decision.record.result),))
    return decision


def _keyword(instruction: str) -> str:
    words = instruction.split(None, 1)
    return words[0].upper() if words else ""
