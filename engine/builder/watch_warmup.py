"""Getting a watch session ready for its next rebuild while it waits for a change.

A watch session's first build is often a no-op: every step cached, so nothing a
missed step needs has run in this process yet. The first edit would then pay,
inside its rebuild, for what a process pays once: importing the step
machinery and the container runtime, reading the seccomp profile, and checking
the snapshots its steps stand on (``snapshots.check_reused``: one ``lstat`` per
file of the base, tens of milliseconds on a Debian base). ``warm_for_rebuild``
does that work between builds, so an edit pays for what changed.

Warming changes no result. A check that passes is the one the build would make
(once per process, as it always was); one that fails is not recorded, so the
build that uses the snapshot checks it again and reports the damage itself.
Warming emits no event and never raises. What moves is when the one check
happens: right after the build before the edit rather than inside the edit's
rebuild, so damage done between the two is left to ``fsck``, as damage done
after the check always was.
"""

from __future__ import annotations

import importlib
import os
from functools import partial
from typing import Callable, TypeVar

from layerlab.engine.builder.request import BuildResult
from layerlab.engine.store import Store
from layerlab.engine.store.records import StoredLayer
from layerlab.engine.store.snapshots import check_reused, is_complete

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
    "ctypes",                            # the overlay's mount(2) for a RUN as root
)
ROOTLESS_MODULES = ("layerlab.engine.runtime.bubblewrap",)  # the runtime where runc cannot serve
T = TypeVar("T")


def warm_for_rebuild(store: Store, result: BuildResult | None, interrupted: Callable[[], bool]) -> None:
    """Do now what the next rebuild of ``result``'s Dockerfile would do first in this process.

    Stops between items once ``interrupted()`` is true (a change is waiting): the build then does
    what is left, as it would without warming, and never waits for warming it does not need.
    """
    rootless = ROOTLESS_MODULES if os.geteuid() != 0 else ()
    for item in [*(partial(importlib.import_module, name) for name in WARM_MODULES + rootless),
                 _read_seccomp_profile]:
        if interrupted():
            return
        _quietly(item)
    layers = _quietly(partial(_layers_used, store, result)) if result is not None else None
    for layer in layers or ():  # bottom first: the base, the largest, is what any step stands on
        if interrupted():
            return
        _quietly(partial(_check_snapshot, store, layer))


def _quietly(item: Callable[[], T]) -> T | None:
    try:
        return item()
    except Exception:  # noqa: BLE001 -- warming only saves time: the build meets and reports the same failure
        return None


def _layers_used(store: Store, result: BuildResult) -> list[StoredLayer]:
    """The layers of every stage's image, each once: as prefixes, the chain below each of its steps."""
    layers: dict[str, StoredLayer] = {}
    for image_id in dict.fromkeys([result.image_id, *result.stage_images.values()]):
        if image_id:
            for layer in store.image(image_id).layers():
                layers.setdefault(str(layer.chain_id), layer)
    return list(layers.values())


def _read_seccomp_profile() -> None:
    from layerlab.engine.runtime.seccomp import default_profile

    default_profile()  # the profile file is read once per process, then kept


def _check_snapshot(store: Store, layer: StoredLayer) -> None:
    """The once-per-process check of a snapshot a step would reuse; one not unpacked yet is left for the
    build that needs it (unpacking a base takes seconds, and the next change may not need it)."""
    with store.lock.shared():
        if is_complete(store, layer.chain_id):
            check_reused(store, layer)
