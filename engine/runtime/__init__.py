"""Run one process in a root filesystem: runc (OCI bundle) as root, bubblewrap otherwise."""

from __future__ import annotations

from engine.runtime.runner import BubblewrapRuntime, RuncRuntime, Runtime, default_runtime, run_in_layers
from engine.runtime.rootfs import OverlayRootfs
from engine.runtime.spec import MountSpec, ProcessSpec, RunResult
from engine.runtime.users import ResolvedUser, resolve_user

__all__ = ["BubblewrapRuntime", "MountSpec", "OverlayRootfs", "ProcessSpec", "ResolvedUser", "RunResult",
           "RuncRuntime", "Runtime", "default_runtime", "resolve_user", "run_in_layers"]
