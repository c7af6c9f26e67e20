"""``build(request, store, events)``: a Dockerfile to an image, step by step, as the classic builder does.

Per step: expand the instruction against the stage's variables, compute its
``StepInputs``, probe the cache (a record *and* its image still in the
store), say why it hit or missed, and on a miss execute it -- RUN in the
runtime over the parent's snapshot, COPY/ADD as file operations, the rest
as config changes -- then commit an image whose parent is the previous
step's image and record it. Nothing of a failed step is committed; a build
killed half-way leaves only whole images, and its scratch space is
removed by the next build.
"""

from __future__ import annotations

import os
import posixpath
import secrets as random_ids
import shutil
import tarfile
import tempfile
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO, Callable

from layerlab.engine.builder.cache_key import StepInputs, copy_command, created_by, nop_command
from layerlab.engine.builder.cache_records import CacheDecision, CacheRecords, probe
from layerlab.engine.builder.context import BuildContext, StatCache
from layerlab.engine.builder.dispatch import (
    StageState, apply_metadata, classic_variables, declare_args, full_config, sorted_expose,
)
from layerlab.engine.builder.onbuild import parse_triggers
from layerlab.engine.builder.volumes import volume_mounts
from layerlab.engine.builder.workdir import single_owner, stage_workdir
from layerlab.engine.builder.planner import BuildPlan, StagePlan, plan_build, stage_reference
from layerlab.engine.builder.step_run import (
    heredoc_script_mount, parse_mount, run_argv, run_cmd, run_env, runtime_mounts,
)
from layerlab.engine.dockerfile import load_dockerfile
from layerlab.engine.dockerfile.args import Platform, StageScope, platform_args, resolve_global_args
from layerlab.engine.dockerfile.ast import Position
from layerlab.engine.dockerfile.dockerignore import Matcher
from layerlab.engine.dockerfile.instructions import (
    Add, ArgInstruction, Copy, Dockerfile, Expander, Expose, Instruction, KeyValue, Label, Run, Workdir,
)
from layerlab.engine.errors import BuildError, LayerlabError, NotFound, UsageError
from layerlab.engine.events import (
    BuildFailed, BuildFinished, BuildStarted, Cause, Event, EventSink, StepCached, StepFailed, StepFinished,
    StepLog, StepRebuilt, StepRef, StepStarted,
)
from layerlab.engine.layers.write import LayerBlob, write_layer_from_dir, write_layer_from_overlay_upper
from layerlab.engine.oci import mediatypes as mt
from layerlab.engine.oci.config import HistoryEntry, ImageConfig, format_time
from layerlab.engine.runtime import ProcessSpec, default_runtime, resolve_user, run_in_layers
from layerlab.engine.runtime.rootfs import is_mounted, unmount
from layerlab.engine.transports.memory import ConfigImage, RangeLayer

from layerlab.engine.builder.copy.ops import CopyRequest, stage_copy
from layerlab.engine.registry.pull import ensure_image
from layerlab.engine.store.layout import pid_alive

# The diff ID of a layer that adds nothing (a tar of two zero blocks): Docker marks it empty_layer.
EMPTY_LAYER_DIFF_ID = "sha256:5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef"
STAT_CACHE_NAME = "buildcontext.db"
WORKSPACE_PREFIX = "build-"
NETWORKS = ("default", "none", "host")


@dataclass
class BuildRequest:
    """What to build. ``context_dir`` or ``context_tar`` (a tar stream); the Dockerfile by path or text."""

    context_dir: Path | None = None
    context_tar: BinaryIO | None = None
    dockerfile: str = "Dockerfile"          # relative to the context, or absolute
    dockerfile_text: str | None = None      # given directly (``-f -``)
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    no_cache_filter: list[str] = field(default_factory=list)
    pull: bool = False
    network: str = "default"                # default (= host here), none, host
    labels: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, Path] = field(default_factory=dict)
    runtime: Any = None                     # a ``layerlab.engine.runtime.Runtime``; None picks runc or bubblewrap
    parallel: bool = True


@dataclass(frozen=True)
class StepSummary:
    """One step's outcome, for ``--explain`` and the TUI."""

    step: StepRef
    cache: str            # "hit", "miss" or "base"
    reason: str
    record: str = ""
    result: str = ""
    causes: tuple[Cause, ...] = ()
    duration: float = 0.0
    layer_size: int = 0


@dataclass
class BuildResult:
    image_id: str
    tags: list[str]
    steps: list[StepSummary]
    duration: float
    stage_images: dict[str, str] = field(default_factory=dict)


class StepError(BuildError):
    """A step failed; the first line names it, ``last_lines`` holds the end of its output."""

    def __init__(self, message: str, *, step: StepRef | None = None, exit_code: int | None = None,
                 last_lines: tuple[str, ...] = ()):
        text = message + ("".join("\n" + line for line in last_lines) if last_lines else "")
        super().__init__(text)
        self.message = message
        self.step = step
        self.exit_code = exit_code
        self.last_lines = last_lines


class BuildCancelled(BuildError):
    pass


def build(request: BuildRequest, store, events: EventSink) -> BuildResult:
    """Build ``request`` into ``store``, reporting to ``events``; raises a ``LayerlabError`` on failure."""
    if request.network not in NETWORKS:
        raise UsageError(f"--network {request.network}: expected one of {', '.join(NETWORKS)}")
    return _Build(request, store, events).run()


def _locked_sink(events: EventSink) -> EventSink:
    lock = threading.Lock()

    def sink(event: Event) -> None:
        with lock:
            events(event)

    return sink


def _now() -> str:
    return format_time(datetime.now(timezone.utc))


def _short(digest: str) -> str:
    return digest.split(":", 1)[-1][:12]


def remove_workspace(path: Path) -> None:
    """Remove a build's scratch directory, unmounting anything a killed run left mounted there."""
    if not path.exists():
        return
    try:
        with open("/proc/self/mountinfo") as mountinfo:
            prefix = os.path.realpath(path) + "/"
            points = [line.split()[4] for line in mountinfo if line.split()[4].startswith(prefix)]
        for point in sorted(points, key=len, reverse=True):
            if is_mounted(Path(point)):
                unmount(Path(point))
    except OSError:
        pass
    shutil.rmtree(path, ignore_errors=True)


def clean_stale_workspaces(tmp_dir: Path) -> None:
    """Scratch left by builds whose process is gone (killed): removed before a new build starts."""
    if not tmp_dir.is_dir():
        return
    for entry in tmp_dir.iterdir():
        if not entry.name.startswith(WORKSPACE_PREFIX):
            continue
        pid_text = entry.name[len(WORKSPACE_PREFIX):].split("-", 1)[0]
        if pid_text.isdigit() and not pid_alive(int(pid_text)):
            remove_workspace(entry)


class _Build:
    def __init__(self, request: BuildRequest, store, events: EventSink):
        self.request = request
        self.store = store
        self.events = _locked_sink(events)
        self.lock = threading.RLock()          # cache records, context, summaries
        self.stop = threading.Event()
        self.summaries: list[StepSummary] = []
        self.stage_images: dict[int, str] = {}
        self.stage_done: dict[int, threading.Event] = {}
        self._runtime = request.runtime
        self._context: BuildContext | None = None
        self._stat_cache: StatCache | None = None
        self._matcher: Matcher | None = None
        self.context_root: Path | None = None
        self.workspace = Path()
        self.records: CacheRecords | None = None

    # == the whole build ===========================================================================
    def run(self) -> BuildResult:
        started = time.monotonic()
        tmp_dir = self.store.layout.tmp
        tmp_dir.mkdir(parents=True, exist_ok=True)
        clean_stale_workspaces(tmp_dir)
        self.workspace = Path(tempfile.mkdtemp(prefix=f"{WORKSPACE_PREFIX}{os.getpid()}-", dir=tmp_dir))
        failed_step: list[StepRef] = []
        try:
            self._open_context()
            dockerfile, dockerfile_name = self._load_dockerfile()
            self.dockerfile_id = dockerfile_name
            self.records = CacheRecords(self.store.root)
            self.build_args = dict(self.request.build_args)
            host = Platform.host()
            automatic = platform_args(host)
            self.global_args = resolve_global_args(dockerfile.meta_args, self.build_args, automatic,
                                                   escape_token=dockerfile.escape_token,
                                                   filename=dockerfile.filename)
            plan = plan_build(dockerfile, self.global_args, self.request.target)
            self.dockerfile = dockerfile
            self.plan = plan
            self._index_steps(dockerfile)
            total = sum(p.steps for p in plan.stages) + (1 if self.request.labels else 0)
            self.events(BuildStarted(dockerfile.filename, str(self.context_root or "-"), total,
                                     self.request.target))
            self._build_stages(plan, failed_step)
            image_id = self.stage_images[plan.target]
            tags = list(self.request.tags)
            for tag in tags:
                self.store.tag(image_id, tag)
            duration = time.monotonic() - started
            self.events(BuildFinished(image_id, tuple(tags), duration))
            return BuildResult(image_id, tags, self._ordered_summaries(), duration,
                               {p.label: self.stage_images[p.stage.index] for p in plan.stages
                                if p.stage.index in self.stage_images})
        except (LayerlabError, KeyboardInterrupt) as error:
            self.stop.set()
            message = error.one_line() if isinstance(error, LayerlabError) else "build interrupted"
            self.events(BuildFailed(message, failed_step[0] if failed_step else None))
            raise
        finally:
            if self._context is not None:
                try:
                    self._context.save()
                except LayerlabError:
                    pass
            if self._stat_cache is not None:
                self._stat_cache.close()
            if self.records is not None:
                self.records.close()
            remove_workspace(self.workspace)

    def _ordered_summaries(self) -> list[StepSummary]:
        return sorted(self.summaries, key=lambda s: (s.step.index, s.step.position))

    # == context and Dockerfile ======================================================================
    def _open_context(self) -> None:
        request = self.request
        if request.context_tar is not None:
            root = self.workspace / "context"
            root.mkdir()
            try:
                with tarfile.open(fileobj=request.context_tar, mode="r|*") as archive:
                    archive.extractall(root, filter="data")
            except (tarfile.TarError, OSError) as error:
                raise BuildError(f"build context from stdin: not a usable tar: {error}") from None
            self.context_root = root
            self.tar_context = True
        else:
            if request.context_dir is None:
                raise UsageError("no build context given")
            root = Path(request.context_dir).resolve()
            if not root.is_dir():
                raise NotFound(f"{request.context_dir}: build context is not a directory")
            self.context_root = root
            self.tar_context = False

    def _load_dockerfile(self) -> tuple[Dockerfile, str]:
        request = self.request
        assert self.context_root is not None
        if request.dockerfile_text is not None:
            text, name = request.dockerfile_text, "Dockerfile"
            identity = f"{'-' if self.tar_context else self.context_root}::-"
            dockerfile_path = None
        else:
            path = Path(request.dockerfile)
            if not path.is_absolute():
                path = (self.context_root / path) if self.tar_context or not path.exists() else path.resolve()
            if not path.is_file():
                raise NotFound(f"{request.dockerfile}: no such Dockerfile")
            text, name = path.read_text(encoding="utf-8", errors="surrogateescape"), path.name
            identity = f"-::{name}" if self.tar_context else str(path)
            dockerfile_path = path
        self._matcher = Matcher.for_context(self.context_root, dockerfile_path)
        return load_dockerfile(text, name), identity

    def context(self) -> BuildContext:
        with self.lock:
            if self._context is None:
                assert self.context_root is not None
                if not self.tar_context:
                    self._stat_cache = StatCache(self.store.root / STAT_CACHE_NAME)
                self._context = BuildContext(self.context_root, excluder=self._matcher, stat_cache=self._stat_cache)
            return self._context

    def runtime(self):
        with self.lock:
            if self._runtime is None:
                self._runtime = default_runtime()
            return self._runtime

    def _index_steps(self, dockerfile: Dockerfile) -> None:
        """StepRef indexes: FROM lines and instructions counted from 1 across the whole Dockerfile."""
        self.first_index: dict[int, int] = {}
        counter = 1
        for stage in dockerfile.stages:
            self.first_index[stage.index] = counter
            counter += 1 + len(stage.commands)
        self.label_index = counter  # the --label step, after everything

    # == stages =====================================================================================
    def _build_stages(self, plan: BuildPlan, failed_step: list[StepRef]) -> None:
        for stage_plan in plan.stages:
            self.stage_done[stage_plan.stage.index] = threading.Event()
        if not self.request.parallel or len(plan.stages) == 1:
            for stage_plan in plan.stages:
                self._build_stage(stage_plan, failed_step)
            return
        with ThreadPoolExecutor(max_workers=min(4, len(plan.stages)), thread_name_prefix="stage") as pool:
            futures = [pool.submit(self._build_stage, stage_plan, failed_step) for stage_plan in plan.stages]
            try:
                done, _ = wait(futures, return_when=FIRST_EXCEPTION)
            except KeyboardInterrupt:
                self.stop.set()
                raise
            for future in futures:
                if future.done() and future.exception() is not None:
                    self.stop.set()
                    for other in futures:
                        other.cancel()
                    raise future.exception()
            for future in futures:
                future.result()

    def _wait_for(self, index: int) -> str:
        event = self.stage_done[index]
        while not event.wait(0.1):
            if self.stop.is_set():
                raise BuildCancelled("build stopped")
        return self.stage_images[index]

    def _build_stage(self, stage_plan: StagePlan, failed_step: list[StepRef]) -> None:
        stage = stage_plan.stage
        for dep in stage_plan.deps:
            self._wait_for(dep)
        extra = 1 if (self.request.labels and stage.index == self.plan.target) else 0
        steps = stage_plan.steps + extra
        first = self.first_index[stage.index]
        from_ref = StepRef(first, stage_plan.label, 1, steps, stage.original, stage.line)
        state = self._from(stage_plan, from_ref)
        parent_rebuilt = False
        instructions: list[tuple[StepRef, Instruction, int]] = []
        triggers = state.config.get("OnBuild") or []
        if triggers:
            state.config["OnBuild"] = []
            for number, trigger in enumerate(parse_triggers(list(triggers), stage_plan.base), start=1):
                ref = StepRef(first, stage_plan.label, 1, steps, trigger.original.strip(), stage.line)
                instructions.append((ref, trigger, -number))
        for position, command in enumerate(stage.commands, start=2):
            ref = StepRef(first + position - 1, stage_plan.label, position, steps, command.original.strip(),
                          command.line)
            instructions.append((ref, command, position))
        if extra:
            pairs = [KeyValue(key, value, Position(0, 0)) for key, value in sorted(self.request.labels.items())]
            text = "LABEL " + " ".join(f"{key}={value}" for key, value in sorted(self.request.labels.items()))
            label = Label(position=Position(0, 0), end_line=0, original=text, pairs=pairs)
            ref = StepRef(self.label_index, stage_plan.label, steps, steps, text, 0)
            instructions.append((ref, label, steps))
        try:
            for ref, instruction, position in instructions:
                if self.stop.is_set():
                    raise BuildCancelled("build stopped")
                parent_rebuilt = self._step(state, stage_plan, ref, instruction, position, parent_rebuilt)
        except LayerlabError:
            raise
        if not state.image_id:
            raise BuildError(f"{self.dockerfile.filename}:{stage.line}: stage {stage_plan.label} made no image "
                             "(FROM scratch with no instructions)")
        self.stage_images[stage.index] = state.image_id
        self.stage_done[stage.index].set()

    def _from(self, stage_plan: StagePlan, ref: StepRef) -> StageState:
        started = time.monotonic()
        self.events(StepStarted(ref))
        stage = stage_plan.stage
        if stage_plan.base_stage is not None:
            image_id = self._wait_for(stage_plan.base_stage)
            image = self.store.image(image_id).config
        elif stage_plan.base.lower() == "scratch":
            image_id = ""
            host = Platform.host()
            image = ImageConfig.new(architecture=host.architecture, variant=host.variant)
        else:
            try:
                # Docker's rule: a base in the store is used as it is; a missing one (or any, with --pull) is pulled.
                stored = ensure_image(stage_plan.base, self.store, pull="always" if self.request.pull else "missing",
                                      events=self.events)
            except LayerlabError as error:
                why = ("--pull: pulling it failed" if self.request.pull
                       else "no such image in the store, and pulling it failed")
                hint = "" if self.request.pull else " (load it, or make one with `layerlab bootstrap busybox`)"
                raise StepError(f"{self.dockerfile.filename}:{stage.line}: FROM {stage_plan.base}: {why}: "
                                f"{error.one_line()}{hint}", step=ref) from None
            image_id, image = str(stored.id), stored.config
        config = dict(image.data.get("config") or {})
        base_env = dict(item.partition("=")[::2] for item in config.get("Env") or [])
        scope = StageScope.for_stage(self.global_args, self.build_args, base_env,
                                     escape_token=self.dockerfile.escape_token, filename=self.dockerfile.filename)
        state = StageState(stage_plan.label, image_id, image, config, scope, base_ref=stage_plan.base)
        reason = f"base image {stage_plan.base} ({_short(image_id)})" if image_id else "scratch"
        summary = StepSummary(ref, "base", reason, result=image_id, duration=time.monotonic() - started)
        with self.lock:
            self.summaries.append(summary)
        self.events(StepFinished(ref, summary.duration, "hit", reason, result=image_id))
        return state

    # == one step ====================================================================================
    def _forced(self, stage_plan: StagePlan) -> str | None:
        if self.request.no_cache:
            return "--no-cache"
        for name in self.request.no_cache_filter:
            if stage_reference(self.dockerfile, name, len(self.dockerfile.stages)) == stage_plan.stage.index:
                return f"--no-cache-filter {name}"
        return None

    def _where(self, instruction: Instruction) -> str:
        return f"{self.dockerfile.filename}:{instruction.line}" if instruction.line else self.dockerfile.filename

    def _step(self, state: StageState, stage_plan: StagePlan, ref: StepRef, instruction: Instruction,
              position: int, parent_rebuilt: bool) -> bool:
        """Run one step; returns whether it was rebuilt."""
        started = time.monotonic()
        self.events(StepStarted(ref))
        try:
            prepared = self._prepare(state, instruction)
            inputs = StepInputs(
                dockerfile=self.dockerfile_id, stage=stage_plan.label, position=position, index=ref.index,
                instruction=ref.instruction, parent=state.image_id, command=prepared.command,
                parent_step=ref.index - 1 if position > 2 else None,
                env=tuple(state.env), config=state.key_config(**prepared.key_extra),
                build_args=prepared.build_args, source_digest=prepared.source_digest, sources=prepared.sources)
            decision = self._probe(inputs, self._forced(stage_plan), parent_rebuilt)
            if decision.record is not None:
                self.events(StepCached(ref, decision.key, decision.record.result, decision.reason))
                state.image_id = decision.record.result
                hit = self.store.image(state.image_id)
                state.image = hit.config
                state.config = dict(hit.config.data.get("config") or {})
                summary = StepSummary(ref, "hit", decision.reason, decision.key, state.image_id,
                                      duration=time.monotonic() - started, layer_size=decision.record.layer_size)
                self.events(StepFinished(ref, summary.duration, "hit", decision.reason,
                                         layer_size=decision.record.layer_size, result=state.image_id))
                with self.lock:
                    self.summaries.append(summary)
                return False
            self.events(StepRebuilt(ref, decision.reason, decision.causes))
            layer = prepared.execute(ref) if prepared.execute is not None else None
            stored, layer_size, layer_digest = self._commit(state, prepared.command, layer, run_step=prepared.is_run)
            with self.lock:
                assert self.records is not None
                self.records.put(inputs, str(stored.id), layer_size=layer_size)
            state.image_id, state.image = str(stored.id), stored.config
            summary = StepSummary(ref, "miss", decision.reason, decision.key, state.image_id, decision.causes,
                                  time.monotonic() - started, layer_size)
            self.events(StepFinished(ref, summary.duration, "miss", decision.reason, layer_size=layer_size,
                                     layer_digest=layer_digest, result=state.image_id))
            with self.lock:
                self.summaries.append(summary)
            return True
        except StepError as error:
            error.step = error.step or ref
            self.events(StepFailed(ref, error.message, error.exit_code, error.last_lines))
            raise
        except LayerlabError as error:
            self.events(StepFailed(ref, error.one_line()))
            raise
        except KeyboardInterrupt:
            self.events(StepFailed(ref, "interrupted"))
            raise

    def _probe(self, inputs: StepInputs, forced: str | None, parent_rebuilt: bool) -> CacheDecision:
        with self.lock:
            assert self.records is not None
            decision = probe(self.records, inputs, forced=forced, parent_rebuilt=parent_rebuilt)
        if decision.record is None:
            return decision
        try:
            self.store.resolve(decision.record.result)
        except NotFound:
            text = f"cached image {_short(decision.record.result)} was removed from the store"
            return CacheDecision(decision.key, None, text, (Cause("key", text, subject=decision.record.result),))
        return decision

    # == preparing a step: its key material and, on a miss, what to do ===============================
    def _prepare(self, state: StageState, instruction: Instruction) -> "_Prepared":
        expander = Expander(classic_variables(state, self.build_args), self.dockerfile.escape_token,
                            self.dockerfile.filename)
        if isinstance(instruction, ArgInstruction):
            words = declare_args(state, instruction, expander)
            return _Prepared(nop_command("ARG " + " ".join(words), shell=state.shell))
        if isinstance(instruction, Expose):
            instruction = sorted_expose(instruction)
        if isinstance(instruction, Run):
            return self._prepare_run(state, instruction.expand(expander))
        if isinstance(instruction, (Copy, Add)):
            return self._prepare_copy(state, instruction.expand(expander), instruction)
        if isinstance(instruction, Workdir):
            return self._prepare_workdir(state, instruction.expand(expander))
        return self._meta(state, instruction.expand(expander))

    def _meta(self, state: StageState, instruction: Instruction) -> "_Prepared":
        result = apply_metadata(state, instruction)
        state.config = result.config
        state.cmd_set = state.cmd_set or result.cmd_set
        if result.maintainer is not None:
            state.maintainer = result.maintainer
        return _Prepared(result.command)

    def _prepare_workdir(self, state: StageState, workdir: Workdir) -> "_Prepared":
        """WORKDIR commits a layer that creates the directory (empty when it exists), as the classic builder does."""
        prepared = self._meta(state, workdir)
        path = state.workdir
        where = self._where(workdir)

        def execute(ref: StepRef) -> _NewLayer | None:
            step_dir = Path(tempfile.mkdtemp(prefix=f"step{ref.index}-", dir=self.workspace))
            try:
                image_root = self.store.snapshot(self.store.image(state.image_id)) if state.image_id else None
                out_dir = step_dir / "add"
                out_dir.mkdir()
                try:
                    owners = stage_workdir(out_dir, image_root, path, where)
                    owner = single_owner(owners, where)
                except BuildError as error:
                    raise StepError(error.one_line(), step=ref) from None
                return self._write_layer(out_dir, step_dir, overlay=False, owner=owner)
            except BaseException:
                remove_workspace(step_dir)
                raise

        prepared.execute = execute
        return prepared

    def _prepare_run(self, state: StageState, run: Run) -> "_Prepared":
        where = self._where(run)
        command, args = run_cmd(run, state.shell, state.scope.declared_args, state.env)
        mounts = [parse_mount(spec, where) for spec in run.mounts]
        network = run.network or self.request.network
        if network not in NETWORKS:
            raise BuildError(f"{where}: RUN --network={network}: expected one of {', '.join(NETWORKS)}")
        key_extra = {"mounts": [m.key() for m in mounts]}
        if run.network:
            key_extra["network"] = run.network

        def execute(ref: StepRef) -> _NewLayer | None:
            return self._execute_run(state, run, ref, args, mounts, "host" if network == "default" else network)

        return _Prepared(command, build_args=args, key_extra=key_extra, execute=execute, is_run=True)

    def _execute_run(self, state: StageState, run: Run, ref: StepRef, args: dict[str, str], mounts,
                     network: str) -> _NewLayer | None:
        where = self._where(run)
        step_dir = Path(tempfile.mkdtemp(prefix=f"step{ref.index}-", dir=self.workspace))
        try:
            lowers = [self._snapshot(state.image_id, step_dir)]
            user = resolve_user(state.config.get("User") or "0", lowers)
            stage_roots = {name: self._stage_root(name, run) for name in {m.from_ for m in mounts if m.from_}}
            self._precreate_workdir(lowers[0], step_dir / "run", state.workdir, where)
            volumes = volume_mounts(state.config.get("Volumes") or {}, upper=step_dir / "run" / "upper",
                                    lower=lowers[0] if state.image_id else None, scratch=step_dir / "volumes",
                                    where=where)
            script = heredoc_script_mount(run, step_dir, where)
            if script is not None:
                volumes.append(script)
            spec = ProcessSpec(
                args=run_argv(run, state.shell), env=run_env(state.env, args, self.build_args),
                cwd=state.workdir, user=user.spec_user, network=network,  # type: ignore[arg-type]
                hostname=random_ids.token_hex(6),
                mounts=volumes + runtime_mounts(mounts, store_root=self.store.root, context_root=self.context_root,
                                                stage_roots=stage_roots, secrets=self.request.secrets, where=where),
                additional_gids=user.docker_gids)

            def on_output(stream: str, line: bytes) -> None:
                self.events(StepLog(ref, stream, line.decode("utf-8", errors="replace").rstrip("\r")))

            result, upper = run_in_layers(lowers, spec, step_dir / "run", runtime=self.runtime(),
                                          on_output=on_output)
            if not result.ok:
                shown = " ".join(run.command) if run.shell_form else " ".join(run.command)
                raise StepError(f'{where}: RUN failed: "{shown}" exited with code {result.exit_code}',
                                exit_code=result.exit_code, last_lines=tuple(result.output_tail[-10:]), step=ref)
            return self._write_layer(upper, step_dir, overlay=True)
        except BaseException:
            remove_workspace(step_dir)
            raise

    def _precreate_workdir(self, lower: Path, run_dir: Path, workdir: str, where: str) -> None:
        """The working directory a RUN starts in exists before it runs, as Docker makes it at container create."""
        upper = run_dir / "upper"
        upper.mkdir(parents=True, exist_ok=True)
        stage_workdir(upper, lower, workdir, where)

    def _stage_root(self, name: str, instruction: Instruction) -> Path:
        index = stage_reference(self.dockerfile, name, len(self.dockerfile.stages))
        if index is not None:
            image_id = self._wait_for(index)
        else:
            try:
                image_id = str(self.store.resolve(name))
            except NotFound:
                raise BuildError(f"{self._where(instruction)}: --from={name}: no such stage or image in the "
                                 "store") from None
        return self._snapshot(image_id, self.workspace)

    def _snapshot(self, image_id: str, scratch_parent: Path) -> Path:
        if not image_id:
            empty = Path(tempfile.mkdtemp(prefix="scratch-", dir=scratch_parent))
            return empty
        return self.store.snapshot(self.store.image(image_id))

    def _prepare_copy(self, state: StageState, copy: Copy | Add, original: Copy | Add) -> "_Prepared":
        where = self._where(copy)
        word = copy.name
        if copy.source_contents:
            raise BuildError(f"{where}: {word} from a heredoc is not supported by this builder")
        from_name = copy.from_ if isinstance(copy, Copy) else ""
        urls = [s for s in copy.sources if s.startswith(("http://", "https://"))] if isinstance(copy, Add) else []
        if from_name:
            source_root = self._stage_root(from_name, copy)
            excluder = None
            context = BuildContext(source_root, headers="image")
        else:
            source_root = self.context_root
            excluder = self._matcher.matches if self._matcher and self._matcher.patterns else None
            context = self.context()
        local = [s for s in copy.sources if s not in urls]
        try:
            with self.lock:
                sources = context.sources(local) if local else None
        except NotFound as error:
            missing = str(error).split(":", 1)[0]
            raise StepError(f"{where}: {word} failed: file not found in build context or excluded by "
                            f".dockerignore: stat {missing}: file does not exist") from None
        except BuildError as error:
            raise StepError(f"{where}: {word} failed: {error.one_line()}") from None
        digest = sources.digest if sources else ""
        if urls:
            import hashlib

            url_digest = "url:" + hashlib.sha256(("\n".join(urls) + (getattr(copy, "checksum", "") or "")).encode()
                                                 ).hexdigest()
            digest = url_digest if not digest else "multi:" + hashlib.sha256((digest + url_digest).encode()).hexdigest()
        command = copy_command(word, digest, copy.dest, chown=copy.chown, chmod=copy.chmod, shell=state.shell)
        key_extra = {"from": from_name, "link": copy.link, "excludes": list(copy.excludes),
                     "parents": getattr(copy, "parents", False)}

        def execute(ref: StepRef) -> _NewLayer | None:
            step_dir = Path(tempfile.mkdtemp(prefix=f"step{ref.index}-", dir=self.workspace))
            try:
                image_root = self.store.snapshot(self.store.image(state.image_id)) if state.image_id else None
                chown = resolve_chown(copy.chown, image_root, where) if copy.chown else None
                chmod = parse_chmod(copy.chmod, where) if copy.chmod else None
                out_dir = step_dir / "add"
                out_dir.mkdir()
                request = CopyRequest(sources=list(copy.sources), dest=_copy_dest(copy.dest, state, image_root),
                                      workdir=state.workdir, chown=chown, chmod=chmod,
                                      excludes=list(copy.excludes), parents=getattr(copy, "parents", False),
                                      link=copy.link, is_add=isinstance(copy, Add),
                                      checksum=(getattr(copy, "checksum", "") or None),
                                      keep_git_dir=getattr(copy, "keep_git_dir", False))
                if from_name and hasattr(request, "from_source"):
                    request.from_source = from_name
                try:
                    result = stage_copy(request, source_root=source_root, source_excluder=excluder,
                                        image_root=image_root, out_dir=out_dir)
                except BuildError as error:
                    text = error.one_line()
                    if not text.startswith(f"{word} failed"):
                        text = f"{word} failed: {text}"
                    raise StepError(f"{where}: {text}", step=ref) from None
                owners = set(getattr(result, "owners", {}).values())
                if len(owners) > 1:
                    raise StepError(f"{where}: {word} as an unprivileged user cannot give files several owners",
                                    step=ref)
                return self._write_layer(out_dir, step_dir, overlay=False, owner=owners.pop() if owners else None)
            except BaseException:
                remove_workspace(step_dir)
                raise

        return _Prepared(command, source_digest=digest, sources=dict(sources.files) if sources else {},
                         key_extra=key_extra, execute=execute)

    def _write_layer(self, tree: Path, step_dir: Path, *, overlay: bool,
                     owner: tuple[int, int] | None = None) -> _NewLayer | None:
        layer_path = step_dir / "layer.tar"
        with open(layer_path, "wb") as out:
            if overlay:
                blob = write_layer_from_overlay_upper(tree, out)
            else:
                blob = write_layer_from_dir(tree, out, owner=owner)
        if str(blob.diff_id) == EMPTY_LAYER_DIFF_ID:
            return None
        # A tree the tar copies as it stands can become the next snapshot by moving it (see _commit).
        return _NewLayer(layer_path, blob, tree if not overlay and owner is None else None)

    # == committing =================================================================================
    def _commit(self, state: StageState, command: tuple[str, ...], layer: _NewLayer | None, *,
                run_step: bool):
        container_id = random_ids.token_hex(32)
        now = _now()
        parent_id = state.image_id
        run_config = full_config({**state.config, "Image": parent_id})
        container_config = dict(state.config, Cmd=list(command), Image=parent_id, Hostname=container_id[:12])
        if run_step:
            container_config["Entrypoint"] = None
        author = state.maintainer

        def change(data: dict[str, Any]) -> None:
            data["config"] = run_config
            data["container_config"] = full_config(container_config)
            data["container"] = container_id
            data["created"] = now
            data.pop("docker_version", None)
            if author:
                data["author"] = author

        diff_id = layer.blob.diff_id if layer else None
        config = state.image.evolve(change).with_layer(
            diff_id, HistoryEntry(created=now, created_by=created_by(command), author=author,
                                  empty_layer=layer is None))
        parent = self.store.image(parent_id) if parent_id else None
        layers = list(parent.layers()) if parent else []
        if layer:
            blob = layer.blob
            layers.append(RangeLayer(str(layer.path), 0, blob.size, blob.diff_id, blob.diff_id, mt.DOCKER_LAYER_TAR))
        stored = self.store.put_image(ConfigImage(config.to_bytes(), tuple(layers)), parent=parent_id or None)
        if layer:
            if layer.tree is not None:
                # The next step's snapshot, made by moving the staged files rather than unpacking
                # the tar just written from them (a COPY of a big context writes every file once).
                self.store.adopt_snapshot(stored, layer.tree)
            remove_workspace(layer.path.parent)
            return stored, stored.layers()[-1].content_size, str(layer.blob.diff_id)
        return stored, 0, ""


@dataclass
class _NewLayer:
    path: Path               # the layer tar, in the step's scratch dir
    blob: LayerBlob
    tree: Path | None        # the directory the tar copies exactly, when it may be moved into a snapshot


@dataclass
class _Prepared:
    command: tuple[str, ...]
    build_args: dict[str, str] = field(default_factory=dict)
    key_extra: dict[str, Any] = field(default_factory=dict)
    source_digest: str = ""
    sources: dict = field(default_factory=dict)
    execute: Callable[[StepRef], _NewLayer | None] | None = None
    is_run: bool = False


def _copy_dest(dest: str, state: StageState, image_root: Path | None) -> str:
    """Docker's COPY runs in a container whose WORKDIR already exists, so ``.`` names a directory
    even when no step has created it yet; say so with a trailing slash."""
    workdir = state.workdir
    if dest.startswith("/") or dest.endswith("/") or workdir == "/":
        return dest
    normalized = posixpath.normpath(posixpath.join(workdir, dest))
    exists = image_root is not None and os.path.lexists(image_root / workdir.strip("/"))
    return dest + "/" if normalized == posixpath.normpath(workdir) and not exists else dest


def _table(root: Path | None, name: str) -> list[list[str]]:
    if root is None:
        return []
    path = root / "etc" / name
    try:
        real = os.path.realpath(path)
        if not real.startswith(os.path.realpath(root) + os.sep):
            return []
        text = Path(real).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve_chown(text: str, image_root: Path | None, where: str) -> tuple[int, int]:
    """``--chown=user[:group]`` with names from the image's /etc/passwd and /etc/group (Docker's rules)."""
    user, _, group = text.partition(":")
    group = group or user
    if user.isdigit():
        uid = int(user)
    else:
        entry = next((row for row in _table(image_root, "passwd") if len(row) > 2 and row[0] == user), None)
        if entry is None:
            raise BuildError(f"{where}: unable to convert uid/gid chown string to host mapping: can't find uid "
                             f"for user {user}: no such user: {user}")
        uid = int(entry[2])
    if group.isdigit():
        gid = int(group)
    else:
        entry = next((row for row in _table(image_root, "group") if len(row) > 2 and row[0] == group), None)
        if entry is None:
            raise BuildError(f"{where}: unable to convert uid/gid chown string to host mapping: can't find gid "
                             f"for group {group}: no such group: {group}")
        gid = int(entry[2])
    return uid, gid


def parse_chmod(text: str, where: str) -> int:
    try:
        mode = int(text, 8)
    except ValueError:
        raise BuildError(f"{where}: invalid --chmod={text}: expected an octal mode") from None
    if mode > 0o7777:
        raise BuildError(f"{where}: invalid --chmod={text}")
    return mode


__all__ = ["BuildRequest", "BuildResult", "StepError", "StepSummary", "build", "clean_stale_workspaces",
           "remove_workspace", "resolve_chown"]
