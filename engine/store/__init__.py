"""The store: content-addressed blobs, image and tag records, snapshots, gc and fsck.

Open one with ``Store.open(root)``; see ``engine.store.store.Store`` for the
whole API and ``engine.store.layout`` for the on-disk layout.
"""

from engine.store.check import Problem
from engine.store.content import ContentStore, Ingest
from engine.store.delete import GcReport, PruneReport
from engine.store.records import ImageRecord, StoredImage, StoredLayer
from engine.store.store import PutProgress, Store
from engine.store.usage import DfImage, DfReport

__all__ = ["Store", "StoredImage", "StoredLayer", "ImageRecord", "ContentStore", "Ingest", "Problem",
           "PruneReport", "GcReport", "DfReport", "DfImage", "PutProgress"]
