"""The store: content-addressed blobs, image and tag records, snapshots, gc and fsck.

Open one with ``Store.open(root)``; see ``layerlab.engine.store.facade.Store`` for the
whole API and ``layerlab.engine.store.layout`` for the on-disk layout.

Imports go one way: ``facade`` -> ``delete``, ``check``, ``snapshots``, ``usage``, ``leases``
-> ``core`` (layout, metadata, blobs, lock) -> ``queries`` (every SQL statement on
``meta.db``), ``content``, ``layout``. ``meta`` holds the schema and its migrations.

The names below are looked up on first use (PEP 562): ``layerlab images`` opens the
store and runs one query, and pays for neither gc, fsck, snapshots nor blob hashing.
"""

from __future__ import annotations

from layerlab.engine.lazy_exports import lazy_exports

_HOMES = {
    "Store": "facade", "PutProgress": "facade",
    "StoredImage": "records", "StoredLayer": "records", "ImageRecord": "listing",
    "ContentStore": "content", "Ingest": "content",
    "Problem": "check",
    "PruneReport": "delete", "GcReport": "delete",
    "DfReport": "usage", "DfImage": "usage",
}

__all__ = list(_HOMES)


__getattr__, __dir__ = lazy_exports(__name__, _HOMES)
