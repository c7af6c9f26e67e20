"""``system df``: what the store holds and what pruning would free."""

from __future__ import annotations

from layerlab.engine.oci.digest import Digest
from layerlab.engine.record_type import field, record
from layerlab.engine.store.core import StoreCore


@record(frozen=True)
class DfImage:
    id: Digest
    tags: tuple[str, ...]
    created: str
    size: int          # content size, as docker shows
    shared_size: int   # part of size in layers other images use too
    unique_size: int
    dangling: bool


@record
class DfReport:
    images: list[DfImage] = field(default_factory=list)
    images_size: int = 0          # content size, each distinct layer once
    images_reclaimable: int = 0   # what ``image prune`` would free (layers only dangling images use)
    blobs_count: int = 0
    blobs_bytes: int = 0          # on disk under blobs/
    blobs_reclaimable: int = 0    # blobs no image or ref uses (gc frees them)
    snapshots_count: int = 0
    snapshots_bytes: int = 0
    build_cache_count: int = 0    # cache records, once the build engine keeps them
    build_cache_bytes: int = 0

    @property
    def active_images(self) -> int:
        """Images something else builds on (docker counts images used by containers; we have none)."""
        return 0


def disk_usage(store: StoreCore) -> DfReport:
    report = DfReport()
    layer_size = store.meta.content_sizes()
    users: dict[str, set[str]] = {}
    per_image: dict[str, list[str]] = {}
    for image_id, diff_id in store.meta.image_diff_ids():
        users.setdefault(diff_id, set()).add(image_id)
        per_image.setdefault(image_id, []).append(diff_id)
    records = store.meta.image_records()
    dangling = {str(r.id) for r in records if r.dangling and r.children == 0}
    for record in records:
        diffs = set(per_image.get(str(record.id), ()))
        shared = sum(layer_size.get(d, 0) for d in diffs if len(users.get(d, ())) > 1)
        unique = sum(layer_size.get(d, 0) for d in diffs) - shared
        report.images.append(DfImage(record.id, record.tags, record.created, record.size, shared, unique,
                                     record.dangling))
    report.images_size = sum(layer_size.get(d, 0) for d in users)
    report.images_reclaimable = sum(layer_size.get(d, 0) for d, who in users.items() if who <= dangling)
    live = store.meta.live_digests()
    for digest in store.blobs.digests():
        size = store.blobs.size(digest)
        report.blobs_count += 1
        report.blobs_bytes += size
        if str(digest) not in live:
            report.blobs_reclaimable += size
    report.snapshots_count, report.snapshots_bytes = store.meta.snapshot_totals()
    return report
