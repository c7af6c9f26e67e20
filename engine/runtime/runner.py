"""The runtime seam: run one process in a rootfs; run one process over a layer stack.

``Runtime`` is a one-method interface; ``RuncRuntime`` (root) and
``BubblewrapRuntime`` (any user) implement it. ``run_in_layers`` is what the
build calls for RUN: it stacks the snapshots under a fresh upperdir, adds a
layer of mount-point stubs on top so that no runtime bookkeeping reaches the
upperdir, runs the process, and hands back the upperdir, which then holds
exactly the process's changes.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Protocol

from layerlab.engine.errors import ContainerError
from layerlab.engine.runtime import watchdog
from layerlab.engine.runtime.container_files import mount_targets
from layerlab.engine.runtime.output import OutputCallback
from layerlab.engine.runtime.rootfs import OverlayRootfs
from layerlab.engine.runtime.runc import RuncRuntime
from layerlab.engine.runtime.spec import ProcessSpec, RunResult
from layerlab.engine.runtime.stubs import make_mount_stubs

__all__ = ["Runtime", "RuncRuntime", "default_runtime", "run_in_layers"]


class Runtime(Protocol):
    name: str

    def run(self, rootfs: Path, spec: ProcessSpec, *, on_output: OutputCallback | None = None,
            scratch_dir: Path | None = None, on_start: Callable[[], None] | None = None) -> RunResult:
        """Run ``spec`` with ``rootfs`` as /; stream output lines to ``on_output``; keep the
        runtime's own files (bundle, /etc files, secret copies) under ``scratch_dir``; call
        ``on_start`` once the process was started (not when it could not be)."""
        ...


def default_runtime(*, state_dir: Path | None = None) -> Runtime:
    """runc when we are root and it works, else bubblewrap; the error names what is missing."""
    runc = RuncRuntime(state_dir)
    runc_problem = runc.works(start=False)
    if runc_problem is None:
        return runc
    from layerlab.engine.runtime.bubblewrap import BubblewrapRuntime  # loaded only where runc cannot serve

    bwrap = BubblewrapRuntime()
    bwrap_problem = bwrap.works()
    if bwrap_problem is None:
        return bwrap
    raise ContainerError(f"no usable container runtime: {runc_problem}; {bwrap_problem}")


def run_in_layers(lowers: list[Path], spec: ProcessSpec, workspace: Path, *, runtime: Runtime | None = None,
                  on_output: OutputCallback | None = None,
                  on_start: Callable[[], None] | None = None) -> tuple[RunResult, Path]:
    """Run ``spec`` over ``lowers`` (bottom -> top); return the result and the upperdir.

    ``workspace`` should be a fresh directory on the same filesystem as the
    store; the caller turns the upperdir into a layer and then removes the
    workspace. The lowers are never written.
    """
    runtime = runtime or default_runtime()
    workspace = Path(workspace)
    workspace.mkdir(parents=True, exist_ok=True)
    mount_points = workspace / "mountpoints"
    make_mount_stubs([Path(lower) for lower in lowers], mount_points, mount_targets(spec))
    stack = [*lowers, mount_points]
    if os.geteuid() == 0:
        rootfs = OverlayRootfs(stack, workspace)
        # Should we be killed while it is mounted, the watchdog detaches the overlay.
        undo_mount = watchdog.undo_on_death(["umount", "-l", str(rootfs.merged)])
        try:
            with rootfs:
                result = runtime.run(rootfs.merged, spec, on_output=on_output, scratch_dir=workspace,
                                     on_start=on_start)
        finally:
            watchdog.done(undo_mount)
        return result, rootfs.upper
    from layerlab.engine.runtime.bubblewrap import BubblewrapRuntime

    if not isinstance(runtime, BubblewrapRuntime):
        raise ContainerError(f"without root only bubblewrap can run over layers, not {runtime.name}")
    result = runtime.run_layers(stack, workspace, spec, on_output=on_output, on_start=on_start)
    return result, workspace / "upper"
