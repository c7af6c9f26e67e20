"""The parts every store module works with: the layout, the metadata queries, the blobs and the root lock.

``Store`` (the facade) adds the image API on top. Deleting, fsck, snapshots
and usage take a ``StoreCore``, so none of them imports the facade and the
facade imports them once, at the top.
"""

from __future__ import annotations

from layerlab.engine.store.content import ContentStore
from layerlab.engine.store.layout import Layout, RootLock
from layerlab.engine.store.queries import Metadata


class StoreCore:
    def __init__(self, layout: Layout, meta: Metadata, lock: RootLock):
        self.layout = layout
        self.root = layout.root
        self.meta = meta
        self.lock = lock
        self.blobs = ContentStore(layout, lock)
