"""Getting a watch session ready for its next rebuild while it waits for a change.

A watch session's first build is often a no-op: every step cached, so nothing a
missed step needs has run in this process yet. The first edit would then pay,
inside its rebuild, for what a process pays once: importing the step machinery
and the container runtime, and reading the seccomp profile. ``warm_for_rebuild``
does that between builds. It changes no result, emits no event and never
raises: an import that fails is met, and reported, by the build that needs it.

The once-per-process check of the snapshots a rebuild stands on
(``snapshots.check_reused``) is not warmed: made early, it would miss damage
done between the no-op build and the edit, which the edit's rebuild refuses
today. Watching the checked layer directories (inotify) to redo it after a
change would keep that, but setting the watches up costs more (100-150 ms on a
9,000-file base, after every rebuild's new layers) than the check itself.
"""

from __future__ import annotations

import importlib
import os
from functools import partial
from typing import Callable

# What a step that misses imports on first use: its callers import these lazily, so that a rebuild whose
# every step is cached loads none of them (a new lazy import on that path belongs here too; the watch
# warm-up test names any the first rebuild still loads).
WARM_MODULES = (
    "layerlab.engine.builder.commit",    # the layer writer and the image commit
    "layerlab.engine.builder.copy.ops",  # COPY's file operations
    "layerlab.engine.builder.volumes",   # a RUN's VOLUME copies
    "layerlab.engine.runtime.runner",    # a RUN that runs: runc, the overlay root, the watchdog
    "layerlab.engine.oci.chain",         # the chain IDs of a newly committed image
    "layerlab.engine.store.measure",     # a new layer's size
    "layerlab.engine.store.snapshots",   # the layer directories a step stands on, and their check
    "ctypes",                            # the overlay's mount(2) for a RUN as root
)
ROOTLESS_MODULES = ("layerlab.engine.runtime.bubblewrap",)  # the runtime where runc cannot serve


def warm_for_rebuild(interrupted: Callable[[], bool]) -> None:
    """Load now what the next rebuild's first missed step would load in this process.

    Stops between items once ``interrupted()`` is true (a change is waiting): the build then loads
    what is left, as it would without warming, and never waits for warming it does not need.
    """
    rootless = ROOTLESS_MODULES if os.geteuid() != 0 else ()
    for item in [*(partial(importlib.import_module, name) for name in WARM_MODULES + rootless),
                 _read_seccomp_profile]:
        if interrupted():
            return
        try:
            item()
        except Exception:  # noqa: BLE001 -- warming only saves time: the build meets and reports the same failure
            pass


def _read_seccomp_profile() -> None:
    from layerlab.engine.runtime.seccomp import default_profile

    default_profile()  # the profile file is read once per process, then kept
