"""RUN: its key (the command, the build args it sees, its mounts and network) and, on a miss, the
command run in the runtime over the parent's layer directories; the overlay upperdir becomes the layer
(and, moved into place, its snapshot)."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from layerlab.engine.builder.bind_sources import bind_content_keys, filtered_context_copy
from layerlab.engine.builder.buildkit import add_mount_points, mount_directories
from layerlab.engine.builder.dispatch import StageState
from layerlab.engine.builder.preparers.prepared import Prepared
from layerlab.engine.builder.request import NETWORK_REACH, NETWORKS, BuildRequest, StepError
from layerlab.engine.builder.run_spec import (
    MountRequest, heredoc_script_mount, parse_mount, run_argv, run_cmd, run_env, runtime_mounts,
)
from layerlab.engine.builder.session import BuildSession
from layerlab.engine.builder.workdir import stage_workdir
from layerlab.engine.builder.workspace import new_step_dir, remove_workspace
from layerlab.engine.dockerfile.instructions import Run
from layerlab.engine.errors import BuildError
from layerlab.engine.events import StepLog, StepRef
from layerlab.engine.fsutil import fresh_directory
from layerlab.engine.layers.stack import LayerStack
from layerlab.engine.runtime.spec import ProcessSpec
from layerlab.engine.runtime.users import resolve_user

if TYPE_CHECKING:  # the commit machinery loads with the first step that misses
    from layerlab.engine.builder.commit import NewLayer


def prepare_run(session: BuildSession, state: StageState, run: Run) -> Prepared:
    where = session.where(run)
    command, args = run_cmd(run, state.shell, state.scope.declared_args, state.env)
    mounts = [parse_mount(spec, where) for spec in run.mounts]
    network = run.network or session.request.network
    if network not in NETWORKS:
        raise BuildError(f"{where}: RUN --network={network}: expected one of {', '.join(NETWORKS)}")
    _check_entitlements(run, network, session.request, where)
    key_extra: dict[str, object] = {"mounts": [m.key() for m in mounts]}
    bind_keys = bind_content_keys(session, mounts, run)
    if bind_keys:
        key_extra["bind_content"] = bind_keys
    if run.network:
        key_extra["network"] = run.network
    if run.security:
        key_extra["security"] = run.security
    if session.request.semantics == "buildkit":
        # BuildKit's RUN sees its state's variables, ARG values among them (even those of the stage it
        # is FROM); they key the step. Proxy build args reach the process but not the key, as there.
        key_extra["variables"] = sorted(f"{name}={value}" for name, value in state.scope.values.items())
        env = [f"{name}={value}" for name, value in state.scope.run_env().items()]
    else:
        env = run_env(state.env, args, session.build_args)

    def execute(ref: StepRef, previous_result: str) -> NewLayer | None:
        return _execute_run(session, state, run, ref, env, mounts, "private" if network == "default" else network)

    return Prepared(command, build_args=args, key_extra=key_extra, execute=execute, is_run=True)


def _check_entitlements(run: Run, network: str, request: BuildRequest, where: str) -> None:
    """A Dockerfile may narrow what the command line gave, never widen it without ``--allow``."""
    if run.network == "host" or NETWORK_REACH[network] > NETWORK_REACH[request.network]:
        if "network.host" not in request.allow:
            raise BuildError(f"{where}: RUN --network={run.network} needs more network than the build was given "
                             f"(--network {request.network}); pass --allow network.host to permit it")
    if run.security not in ("", "sandbox", "insecure"):
        raise BuildError(f"{where}: RUN --security={run.security}: expected sandbox or insecure")
    if run.security == "insecure" and "security.insecure" not in request.allow:
        raise BuildError(f"{where}: RUN --security=insecure needs --allow security.insecure")


def _execute_run(session: BuildSession, state: StageState, run: Run, ref: StepRef, env: list[str],
                 mounts: list[MountRequest], network: str) -> NewLayer | None:
    # the layer writer and VOLUME copies (shutil, subprocess, tempfile) load with the first RUN that misses
    from layerlab.engine.builder.commit import write_layer
    from layerlab.engine.builder.volumes import volume_mounts

    where = session.where(run)
    step_dir = new_step_dir(session.workspace, ref.index)
    # A RUN is the first step that exposes the whole trees of its image's snapshots, so it checks them
    # whole (one lstat per file, ~45 ms on a 9,000-file Debian base). The check needs the CPU while the
    # step waits on the container: on a thread started once the container is (before, it would hold
    # the GIL against the step's own set-up), it runs alongside. The step keeps nothing (layer, cache
    # record, image) unless it passes; a RUN that keeps something outside its layer (a cache mount)
    # checks before it starts.
    keeps_outside = any(mount.kind == "cache" for mount in mounts)
    check: _Background | None = None
    try:
        lowers = session.mount_layers(state.image_id, checked=keeps_outside)
        if not keeps_outside:
            check = _Background(session.snapshot_check(state.image_id))
        image = LayerStack.of(lowers)
        user = resolve_user(state.config.get("User") or "0", lowers)
        stage_roots = {name: session.stage_root(name, run) for name in {m.from_ for m in mounts if m.from_}}
        _precreate_workdir(image, step_dir / "run", state.workdir, where)
        buildkit = session.request.semantics == "buildkit"
        # BuildKit mounts nothing at a declared VOLUME: the RUN writes there into its layer.
        volumes = [] if buildkit else volume_mounts(
            state.config.get("Volumes") or {}, upper=step_dir / "run" / "upper",
            image=image if state.image_id else None, scratch=step_dir / "volumes", where=where)
        script = heredoc_script_mount(run, step_dir, where)
        if script is not None:
            volumes.append(script)
        declared = runtime_mounts(mounts, store_root=session.store.root, context_root=session.context_root,
                                  stage_roots=stage_roots, secrets=session.request.secrets, where=where,
                                  context_view=_context_view(session, step_dir))
        hostname = os.urandom(6).hex()
        if not buildkit and not any(item.startswith("HOSTNAME=") for item in env):
            # Docker's daemon gives every container HOSTNAME (its short ID) before the config's Env;
            # BuildKit sets none.
            env = [f"HOSTNAME={hostname}", *env]
        spec = ProcessSpec(
            args=run_argv(run, state.shell), env=env,
            cwd=state.workdir, user=user.spec_user, network=network,  # type: ignore[arg-type]
            privileged=run.security == "insecure",
            hostname=hostname,
            mounts=volumes + declared,
            additional_gids=user.member_gids if buildkit else user.docker_gids)

        def on_output(stream: str, line: bytes) -> None:
            session.events(StepLog(ref, stream, line.decode("utf-8", errors="replace").rstrip("\r")))

        from layerlab.engine.runtime.runner import run_in_layers  # runc or bubblewrap: only for a RUN that runs

        try:
            result, upper = run_in_layers(lowers, spec, step_dir / "run", runtime=session.runtime(),
                                          on_output=on_output, on_start=check.start if check else None)
        finally:
            if check is not None:
                check.wait()  # damage is the step's error, whatever the run did
        if not result.ok:
            shown = " ".join(run.command)
            raise StepError(f'{where}: RUN failed: "{shown}" exited with code {result.exit_code}',
                            exit_code=result.exit_code, last_lines=tuple(result.output_tail[-10:]), step=ref)
        if buildkit:
            add_mount_points(upper, lowers, mount_directories(declared))
        # BuildKit commits a RUN that changed nothing as an empty tar, still a layer; classic drops it.
        return write_layer(upper, step_dir, overlay=True, keep_empty=buildkit)
    except BaseException:
        if check is not None:
            check.wait(quiet=True)  # no thread outlives its step
        remove_workspace(step_dir)
        raise


class _Background:
    """``work()`` on a thread from ``start()``; ``wait()`` joins it (or, never started, does the work
    itself) and raises what it raised."""

    def __init__(self, work: Callable[[], None]) -> None:
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(work,), name="snapshot-check", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def _run(self, work: Callable[[], None]) -> None:
        try:
            work()
        except BaseException as error:
            self._error = error

    def wait(self, *, quiet: bool = False) -> None:
        if self._thread.ident is None:
            if quiet:
                return
            self._thread.run()   # no container started: the check runs here, before the step's error
        else:
            self._thread.join()
        error, self._error = self._error, None
        if error is not None and not quiet:
            raise error


def _context_view(session: BuildSession, step_dir: Path) -> Callable[[str], Path] | None:
    """With .dockerignore patterns a context bind gets a filtered copy; without, the context itself."""
    if not session.source.matcher.patterns:
        return None
    copies = step_dir / "context-binds"

    def view(relative: str) -> Path:
        return filtered_context_copy(session.context(), relative, fresh_directory(_made(copies), "tmp") / "src")

    return view


def _made(directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def _precreate_workdir(image: LayerStack, run_dir: Path, workdir: str, where: str) -> None:
    """The working directory a RUN starts in exists before it runs, as Docker makes it at container create."""
    upper = run_dir / "upper"
    upper.mkdir(parents=True, exist_ok=True)
    stage_workdir(upper, image, workdir, where)
