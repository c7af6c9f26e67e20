"""Run one process in a root filesystem: runc (OCI bundle) as root, bubblewrap otherwise.

The names below are looked up on first use (PEP 562): a build whose every RUN is
cached computes its keys with ``ProcessSpec`` and ``MountSpec`` and never loads
runc, bubblewrap or the seccomp compiler.
"""

from __future__ import annotations

from layerlab.engine.lazy_exports import lazy_exports

_HOMES = {
    "BubblewrapRuntime": "bubblewrap", "RuncRuntime": "runc",
    "Runtime": "runner", "default_runtime": "runner", "run_in_layers": "runner",
    "OverlayRootfs": "rootfs",
    "MountSpec": "spec", "ProcessSpec": "spec", "RunResult": "spec",
    "ResolvedUser": "users", "resolve_user": "users",
}

__all__ = list(_HOMES)


__getattr__, __dir__ = lazy_exports(__name__, _HOMES)
