"""Deleting: ``rmi`` with Docker's rules, ``image prune``, and garbage collection.

Deleters hold the root lock exclusively: a concurrent ``put_image`` holds it
shared from its first blob check to its commit, so a blob it is about to
reference is never removed under it.
"""

from __future__ import annotations

import time

from layerlab.engine.errors import Conflict, NotFound, StoreError
from layerlab.engine.oci.digest import Digest
from layerlab.engine.record_type import field, record
from layerlab.engine.reference import Reference
from layerlab.engine.store.core import StoreCore
from layerlab.engine.store.layout import temp_owner_alive
from layerlab.engine.store.leases import leased_images
from layerlab.engine.store.trees import remove_any, remove_tree

STALE_INGEST_SECONDS = 24 * 3600


@record
class PruneReport:
    lines: list[tuple[str, str]] = field(default_factory=list)  # ("untagged"|"deleted", text), as docker prints
    deleted_images: list[Digest] = field(default_factory=list)
    reclaimed: int = 0                                           # bytes of blobs and snapshots removed


@record
class GcReport:
    blobs: list[Digest] = field(default_factory=list)
    snapshots: list[Digest] = field(default_factory=list)
    temp_entries: list[str] = field(default_factory=list)
    ingests: list[str] = field(default_factory=list)
    reclaimed: int = 0


def _conflict(image_id: Digest, message: str, *, hard: bool) -> Conflict:
    forced = "cannot be forced" if hard else "must be forced"
    return Conflict(f"conflict: unable to delete {image_id.short} ({forced}) - {message}")


def refuse_if_metadata_lost(store: StoreCore) -> None:
    """Deleting with lost metadata would take every blob for unused: refuse, naming why."""
    lost = store.meta.lost_metadata()
    if lost is not None:
        raise StoreError(f"refusing to delete anything in {store.root}: {lost}, so every blob would look unused; "
                         "restore meta.db from a backup, or start over in a new root")


def _is_single_reference(names: list[str]) -> bool:
    """moby's isSingleReference: at most one tag, and every digest ref in that tag's repository."""
    refs = [Reference.parse(n, default_tag=None) for n in names]
    if len(refs) <= 1:
        return len(refs) == 1
    tags = [r for r in refs if r.digest is None]
    if len(tags) > 1:
        return False
    canonical_repos = {r.repository for r in refs if r.digest is not None}
    single = tags[0] if tags else refs[0]
    return len(canonical_repos) == 1 and single.repository in canonical_repos


def remove_image(store: StoreCore, text: str, *, force: bool, prune_parents: bool) -> list[tuple[str, str]]:
    """Docker's ``rmi``: returns ("Untagged", name) and ("Deleted", id) lines in docker's order."""
    lines: list[tuple[str, str]] = []
    meta = store.meta
    with store.lock.exclusive():
        refuse_if_metadata_lost(store)
        with meta.transaction():
            resolved = meta.resolve(text)
            image_id, by_id = resolved.image_id, resolved.by_id
            tags, digests = meta.names(image_id)
            leased = leased_images(store)
            holder = leased.get(str(image_id))
            in_use = f"image is being used by a running build or container (pid {holder})"
            if holder is not None and by_id:
                raise _conflict(image_id, in_use, hard=True)
            if not by_id:
                ref = Reference.parse(text)
                if ref.digest is not None:
                    name = str(ref.name_only().with_digest(ref.digest))
                    meta.delete_repo_digest(name)
                    digests.remove(name)
                else:
                    name = str(ref)
                    meta.delete_tag(name)
                    tags.remove(name)
                    # A removed tag takes the digest refs of its repository along when no other tag of it remains.
                    if not any(Reference.parse(t).repository == ref.repository for t in tags):
                        for other in [d for d in digests if Reference.parse(d).repository == ref.repository]:
                            meta.delete_repo_digest(other)
                            digests.remove(other)
                            lines.append(("Untagged", Reference.parse(other).familiar))
                lines.insert(0, ("Untagged", Reference.parse(name).familiar))
                if tags or digests or meta.children(image_id):
                    # Still named, or an intermediate image others build on: untagging was the whole job.
                    return lines
                if holder is not None:
                    if not force:
                        raise _conflict(image_id, in_use, hard=False)  # the transaction undoes the untag
                    return lines  # -f untags; the image itself goes when the build is done with it
            elif _is_single_reference(tags + digests):
                if meta.children(image_id):
                    raise _conflict(image_id, "image has dependent child images", hard=True)
                for name in tags + digests:
                    meta.delete_name(name)
                    lines.append(("Untagged", Reference.parse(name).familiar))
                tags, digests = [], []
            if meta.children(image_id):
                raise _conflict(image_id, "image has dependent child images", hard=True)
            if (tags or digests) and not force:
                raise _conflict(image_id, "image is referenced in multiple repositories", hard=False)
            for name in tags + digests:
                meta.delete_name(name)
                lines.append(("Untagged", Reference.parse(name).familiar))
            deleted = [image_id]
            chains: list[str] = []
            parent = meta.delete_image(image_id, chains)
            while prune_parents and parent is not None and _is_prunable(store, parent) and \
                    str(parent) not in leased:
                deleted.append(parent)
                parent = meta.delete_image(parent, chains)
            lines.extend(("Deleted", str(d)) for d in deleted)
            gone = _chains_now_unused(store, chains)
        release_unreferenced(store)
    lines.extend(("Deleted", chain) for chain in gone)
    return lines


def _chains_now_unused(store: StoreCore, chains: list[str]) -> list[str]:
    """Layer chain IDs (what docker prints after the image IDs) that no remaining image uses."""
    live = store.meta.used_chain_ids()
    seen: set[str] = set()
    out = []
    for chain in reversed(chains):  # docker lists top layer first
        if chain not in live and chain not in seen:
            seen.add(chain)
            out.append(chain)
    return out


def _is_prunable(store: StoreCore, image_id: Digest) -> bool:
    tags, digests = store.meta.names(image_id)
    return not tags and not digests and not store.meta.children(image_id)


@record
class Released:
    blobs: list[Digest] = field(default_factory=list)
    snapshots: list[Digest] = field(default_factory=list)
    reclaimed: int = 0


def release_unreferenced(store: StoreCore) -> Released:
    """Delete every blob and snapshot no image or ref needs. Caller holds the exclusive lock."""
    released = Released()
    with store.meta.transaction():
        live = store.meta.live_digests()
        live_chains = store.meta.live_chains()
        store.meta.forget_dead(live, live_chains)
    # Files go after the commit: a crash in between leaves only unreferenced files, which gc finds again.
    for digest in store.blobs.digests():
        if str(digest) not in live:
            try:
                released.reclaimed += store.blobs.size(digest)
            except NotFound:
                continue
            if store.blobs.delete(digest):
                released.blobs.append(digest)
    on_disk = {p.name for p in store.layout.snapshots.iterdir()} if store.layout.snapshots.is_dir() else set()
    for hex_name in on_disk:
        chain = Digest("sha256", hex_name)
        if str(chain) not in live_chains:
            released.reclaimed += remove_tree(store.layout, store.layout.snapshots / hex_name)
            released.snapshots.append(chain)
    return released


def prune_images(store: StoreCore, *, all: bool) -> PruneReport:
    """``image prune``: dangling images (no tags, no children); with ``all``, every image without children.

    Repeats until nothing more qualifies, so a chain of untagged parents goes too.
    """
    report = PruneReport()
    meta = store.meta
    with store.lock.exclusive():
        refuse_if_metadata_lost(store)
        with store.meta.transaction():
            chains: list[str] = []
            leased = leased_images(store)  # a running build's images stay, and so do their parents
            while True:
                candidates = [r for r in store.meta.image_records() if r.children == 0 and (all or r.dangling)
                              and str(r.id) not in leased]
                if not candidates:
                    break
                for record in candidates:
                    for name in (*record.tags, *record.repo_digests):
                        meta.delete_name(name)
                        report.lines.append(("untagged", Reference.parse(name).familiar))
                    meta.delete_image(record.id, chains)
                    report.lines.append(("deleted", str(record.id)))
                    report.deleted_images.append(record.id)
            gone = _chains_now_unused(store, chains)
        released = release_unreferenced(store)
    report.lines.extend(("deleted", chain) for chain in gone)
    report.reclaimed = released.reclaimed
    return report


def collect_garbage(store: StoreCore) -> GcReport:
    """Remove unreferenced blobs and snapshots, leftovers of dead writers, and stale ingests."""
    report = GcReport()
    with store.lock.exclusive():
        refuse_if_metadata_lost(store)
        released = release_unreferenced(store)
        report.blobs, report.snapshots, report.reclaimed = released.blobs, released.snapshots, released.reclaimed
        with store.meta.transaction():
            store.meta.forget_unused_layers()
        for entry in sorted(store.layout.tmp.iterdir()):
            if not temp_owner_alive(entry.name):
                report.reclaimed += remove_any(entry)
                report.temp_entries.append(entry.name)
        now = time.time()
        for entry in sorted(store.layout.ingest.iterdir()):
            try:
                age = now - max(p.stat().st_mtime for p in [entry, *entry.iterdir()])
            except (OSError, ValueError):
                age = STALE_INGEST_SECONDS
            if age >= STALE_INGEST_SECONDS:
                report.reclaimed += remove_any(entry)
                report.ingests.append(entry.name)
    return report
