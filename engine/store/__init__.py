"""The store: content-addressed blobs, image and tag records, snapshots, gc and fsck.

Open one with ``Store.open(root)``; see ``layerlab.engine.store.facade.Store`` for the
whole API and ``layerlab.engine.store.layout`` for the on-disk layout.

Imports go one way: ``facade`` -> ``delete``, ``check``, ``snapshots``, ``usage``, ``leases``
-> ``core`` (layout, metadata, blobs, lock) -> ``queries`` (every SQL statement on
``meta.db``), ``content``, ``layout``. ``meta`` holds the schema and its migrations.
"""

from layerlab.engine.store.check import Problem
from layerlab.engine.store.content import ContentStore, Ingest
from layerlab.engine.store.delete import GcReport, PruneReport
from layerlab.engine.store.records import ImageRecord, StoredImage, StoredLayer
from layerlab.engine.store.facade import PutProgress, Store
from layerlab.engine.store.usage import DfImage, DfReport

__all__ = ["Store", "StoredImage", "StoredLayer", "ImageRecord", "ContentStore", "Ingest", "Problem",
           "PruneReport", "GcReport", "DfReport", "DfImage", "PutProgress"]
