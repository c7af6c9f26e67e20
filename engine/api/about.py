"""What ``version`` and ``info`` report: this layerlab, its store, and how it would run a RUN here.

Read-only and cheap: the store is opened for its counts, the runtimes are
asked whether they work (``runc --version``), nothing is started.
"""

from __future__ import annotations

import os
import platform
import shutil
import sys
from importlib import metadata
from pathlib import Path

from layerlab.engine.record_type import record


def layerlab_version() -> str:
    try:
        return metadata.version("layerlab")
    except metadata.PackageNotFoundError:
        return "unknown"


@record(frozen=True)
class VersionInfo:
    version: str
    python: str
    os: str
    arch: str


def version_info() -> VersionInfo:
    return VersionInfo(layerlab_version(), platform.python_version(), sys.platform, platform.machine())


@record(frozen=True)
class SystemInfo:
    version: str
    store_root: Path
    store_format: int            # meta.db's schema version this layerlab writes
    runtime: str                 # "runc", "bubblewrap", or "none (why)"
    network: str                 # what a RUN gets by default
    seccomp: str
    rootless: bool
    images: int
    tags: int
    blobs: int
    snapshots: int


def _runtime() -> tuple[str, bool]:
    from layerlab.engine.runtime.bubblewrap import BubblewrapRuntime
    from layerlab.engine.runtime.runc import RuncRuntime

    runc_problem = RuncRuntime().works()
    if runc_problem is None:
        return "runc", True
    bwrap_problem = BubblewrapRuntime().works()
    if bwrap_problem is None:
        return "bubblewrap", True
    return f"none ({runc_problem}; {bwrap_problem})", False


def system_info(root: Path) -> SystemInfo:
    from layerlab.engine.store import Store
    from layerlab.engine.store.meta import SCHEMA_VERSION

    runtime, usable = _runtime()
    helper = next((name for name in ("slirp4netns", "pasta") if shutil.which(name)), None)
    if helper:
        network = f"private ({helper}; the host's loopback unreachable); none and host on request"
    else:
        network = "none (neither slirp4netns nor pasta is installed); host on request"
    seccomp = "builtin (Docker's default intent)" if usable else "not applicable"
    with Store.open(root) as store:
        records = store.images()
        blobs, snapshots = store.layout.content_counts()
    return SystemInfo(
        version=layerlab_version(), store_root=Path(root), store_format=SCHEMA_VERSION, runtime=runtime,
        network=network, seccomp=seccomp, rootless=os.geteuid() != 0, images=len(records),
        tags=sum(len(record.tags) for record in records), blobs=blobs, snapshots=snapshots,
    )
