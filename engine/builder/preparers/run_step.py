"""RUN: its key (the command, the build args it sees, its mounts and network) and, on a miss, the
command run in the runtime over the parent's snapshot; the overlay upperdir becomes the layer."""

from __future__ import annotations

import secrets as random_ids
from pathlib import Path

from layerlab.engine.builder.commit import NewLayer, write_layer
from layerlab.engine.builder.dispatch import StageState
from layerlab.engine.builder.preparers.prepared import Prepared
from layerlab.engine.builder.request import NETWORKS, StepError
from layerlab.engine.builder.run_spec import (
    MountRequest, heredoc_script_mount, parse_mount, run_argv, run_cmd, run_env, runtime_mounts,
)
from layerlab.engine.builder.session import BuildSession
from layerlab.engine.builder.volumes import volume_mounts
from layerlab.engine.builder.workdir import stage_workdir
from layerlab.engine.builder.workspace import new_step_dir, remove_workspace
from layerlab.engine.dockerfile.instructions import Run
from layerlab.engine.errors import BuildError
from layerlab.engine.events import StepLog, StepRef
from layerlab.engine.runtime import ProcessSpec, resolve_user, run_in_layers


def prepare_run(session: BuildSession, state: StageState, run: Run) -> Prepared:
    where = session.where(run)
    command, args = run_cmd(run, state.shell, state.scope.declared_args, state.env)
    mounts = [parse_mount(spec, where) for spec in run.mounts]
    network = run.network or session.request.network
    if network not in NETWORKS:
        raise BuildError(f"{where}: RUN --network={network}: expected one of {', '.join(NETWORKS)}")
    key_extra: dict[str, object] = {"mounts": [m.key() for m in mounts]}
    if run.network:
        key_extra["network"] = run.network

    def execute(ref: StepRef) -> NewLayer | None:
        return _execute_run(session, state, run, ref, args, mounts, "private" if network == "default" else network)

    return Prepared(command, build_args=args, key_extra=key_extra, execute=execute, is_run=True)


def _execute_run(session: BuildSession, state: StageState, run: Run, ref: StepRef, args: dict[str, str],
                 mounts: list[MountRequest], network: str) -> NewLayer | None:
    where = session.where(run)
    step_dir = new_step_dir(session.workspace, ref.index)
    try:
        lowers = [session.snapshot(state.image_id, step_dir)]
        user = resolve_user(state.config.get("User") or "0", lowers)
        stage_roots = {name: session.stage_root(name, run) for name in {m.from_ for m in mounts if m.from_}}
        _precreate_workdir(lowers[0], step_dir / "run", state.workdir, where)
        volumes = volume_mounts(state.config.get("Volumes") or {}, upper=step_dir / "run" / "upper",
                                lower=lowers[0] if state.image_id else None, scratch=step_dir / "volumes",
                                where=where)
        script = heredoc_script_mount(run, step_dir, where)
        if script is not None:
            volumes.append(script)
        spec = ProcessSpec(
            args=run_argv(run, state.shell), env=run_env(state.env, args, session.build_args),
            cwd=state.workdir, user=user.spec_user, network=network,  # type: ignore[arg-type]
            hostname=random_ids.token_hex(6),
            mounts=volumes + runtime_mounts(mounts, store_root=session.store.root, context_root=session.context_root,
                                            stage_roots=stage_roots, secrets=session.request.secrets, where=where),
            additional_gids=user.docker_gids)

        def on_output(stream: str, line: bytes) -> None:
            session.events(StepLog(ref, stream, line.decode("utf-8", errors="replace").rstrip("\r")))

        result, upper = run_in_layers(lowers, spec, step_dir / "run", runtime=session.runtime(),
                                      on_output=on_output)
        if not result.ok:
            shown = " ".join(run.command)
            raise StepError(f'{where}: RUN failed: "{shown}" exited with code {result.exit_code}',
                            exit_code=result.exit_code, last_lines=tuple(result.output_tail[-10:]), step=ref)
        return write_layer(upper, step_dir, overlay=True)
    except BaseException:
        remove_workspace(step_dir)
        raise


def _precreate_workdir(lower: Path, run_dir: Path, workdir: str, where: str) -> None:
    """The working directory a RUN starts in exists before it runs, as Docker makes it at container create."""
    upper = run_dir / "upper"
    upper.mkdir(parents=True, exist_ok=True)
    stage_workdir(upper, lower, workdir, where)
