"""Which form the snapshots under a root are in, and moving an older root to the current one.

Stores made before per-layer snapshots kept ``snapshots/<chain-hex>/rootfs``:
the *whole* tree of the chain, as a farm of hard links. Those trees are
caches of what the layer blobs hold, so migrating removes them (and their
records); each layer is unpacked again, on its own, the first time a build
or a run needs it. ``snapshots.format`` at the root says the migration is
done, so opening a store costs one ``stat`` once it is.
"""

from __future__ import annotations

import os

from layerlab.engine.store.core import StoreCore

FORMAT_FILE = "snapshots.format"
CURRENT = "per-layer overlay 2\n"
_LEGACY_TREE = "rootfs"


def migrate_snapshots(store: StoreCore) -> str | None:
    """Bring the root's snapshots to the current form; a one-line notice when anything was migrated."""
    marker = store.root / FORMAT_FILE
    if marker.is_file():
        return None
    removed = 0
    if _legacy_snapshots(store):
        from layerlab.engine.store.trees import remove_tree

        with store.lock.exclusive():
            legacy = _legacy_snapshots(store)  # again: a peer may have migrated while we waited
            for path in legacy:
                remove_tree(store.layout, path)
            with store.meta.transaction():
                store.meta.forget_snapshots(["sha256:" + path.name for path in legacy])
            removed = len(legacy)
    temp = store.layout.new_temp(".format")
    temp.write_text(CURRENT)
    os.replace(temp, marker)
    if not removed:
        return None
    return (f"migrated the store at {store.root} to per-layer snapshots: removed {removed} whole-image "
            f"snapshot{'s' if removed != 1 else ''}; each layer is unpacked again on first use")


def _legacy_snapshots(store: StoreCore) -> list:
    try:
        entries = list(store.layout.snapshots.iterdir())
    except FileNotFoundError:
        return []
    return sorted(path for path in entries if (path / _LEGACY_TREE).is_dir())
