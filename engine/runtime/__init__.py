"""Run one process in a root filesystem: runc (OCI bundle) as root, bubblewrap otherwise."""

from __future__ import annotations

from layerlab.engine.runtime.runner import BubblewrapRuntime, RuncRuntime, Runtime, default_runtime, run_in_layers
from layerlab.engine.runtime.rootfs import OverlayRootfs
from layerlab.engine.runtime.spec import MountSpec, ProcessSpec, RunResult
from layerlab.engine.runtime.users import ResolvedUser, resolve_user

__all__ = ["BubblewrapRuntime", "MountSpec", "OverlayRootfs", "ProcessSpec", "ResolvedUser", "RunResult",
           "RuncRuntime", "Runtime", "default_runtime", "resolve_user", "run_in_layers"]
