"""The store: blobs, image records, tags, snapshots under one root.

Several processes may open one root at once: metadata changes are SQLite
transactions, blobs and snapshots appear by rename, and deleters (rmi,
prune, gc) take the root lock exclusively so they never remove something a
writer is about to reference.
"""

from __future__ import annotations

import time
from contextlib import contextmanager
from pathlib import Path

from layerlab.engine.errors import ArchiveError, DigestMismatch, InvalidReference, NotFound
from layerlab.engine.oci.digest import Digest
from layerlab.engine.reference import Reference
from layerlab.engine.store.core import StoreCore
from layerlab.engine.store.layout import Layout, RootLock
from layerlab.engine.store.meta import connect
from layerlab.engine.store.outputs import sweep_partial_outputs
from layerlab.engine.store.queries import LayerRow, Metadata, NewImage
from layerlab.engine.store.snapshot_format import migrate_snapshots
from layerlab.engine.values import Value, set_fields

# Opening the store and listing images (every quick command) imports only what is above. Writing
# images, deleting, fsck, snapshots and usage import their modules (and the config and manifest
# types, the blob measurer) on first use, inside the methods below.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping, Sequence

    from layerlab.engine.image import Image
    from layerlab.engine.layers.stack import LayerStack
    from layerlab.engine.store.check import Problem
    from layerlab.engine.store.delete import GcReport, PruneReport
    from layerlab.engine.store.leases import Lease
    from layerlab.engine.store.listing import ImageRecord
    from layerlab.engine.store.measure import LayerMeasure
    from layerlab.engine.store.records import StoredImage
    from layerlab.engine.store.usage import DfReport


class PutProgress(Value):
    """Reported by ``put_image`` after each blob is safely in the content store."""

    __slots__ = ("what", "digest", "index", "total_layers")
    what: str          # "config", "manifest" or "layer"
    digest: Digest
    index: int         # layer index (0 for config/manifest)
    total_layers: int

    def __init__(self, what: str, digest: Digest, index: int, total_layers: int) -> None:
        set_fields(self, what, digest, index, total_layers)


class Store(StoreCore):
    """A layerlab store rooted at a directory. Use ``Store.open(root)``.

    Public API (stable)::

        blobs: ContentStore                      ingest/open/has/size/path/writer(ref)
        meta: Metadata                           the named queries over meta.db
        put_image(image, tags=(), parent=None, repo_digests=(), progress=None) -> StoredImage
        image(ref_or_id) -> StoredImage          tag, ID, short ID, name@digest
        resolve(ref_or_id) -> Digest             the image ID only
        images() -> list[ImageRecord]
        tag(src, target); untag(name)
        remove(ref, force=False, prune_parents=True) -> [("Untagged"|"Deleted", text)]
        prune(all=False) -> PruneReport; gc() -> GcReport; fsck() -> list[Problem]
        snapshot_layers(image, upto_layer=None) -> list[Path]   one dir per layer, bottom to top
        layer_stack(image, checked=True) -> list[Path]   the same, mountable (a deep chain's bottom flattened);
                                                 checked=False: the caller runs check_snapshots(image)
        lookup_stack(image) -> LayerStack        the layers for path lookups, checked directory by directory
        merged_tree(image, upto_layer=None) -> Path   the whole tree in one dir (cached; COPY --from)
        adopt_layer(image, staged)               the top layer's snapshot, by moving its exact tree
        df() -> DfReport
        add_ref(owner, digest); drop_refs(owner)  keep blobs/snapshots alive for gc
        leased() -> Store                        a view for one build: what it uses is held from deleters
        notices: list[str]                       one-line news from opening (a migration done)
    """

    def __init__(self, layout: Layout, meta: Metadata, lock: RootLock):
        super().__init__(layout, meta, lock)
        self.notices: list[str] = []
        self._lease: Lease | None = None   # set on the view ``leased()`` hands a build

    @classmethod
    def open(cls, root: Path | str) -> "Store":
        """Open the store at ``root``, creating the layout on first use."""
        layout = Layout(Path(root).absolute())  # a RUN hands paths under it to runc, which runs elsewhere
        layout.create()
        sweep_partial_outputs(layout)  # what a killed ``save -o`` left beside its target
        missing = layout.metadata_missing()  # looked at before connecting creates an empty one
        meta = Metadata(connect(layout.db))
        if missing:
            blobs, snapshots = layout.content_counts()
            if blobs or snapshots:
                meta.note_lost_metadata(f"meta.db was empty or missing while {blobs} blobs and {snapshots} "
                                        f"snapshots existed (found {time.strftime('%Y-%m-%d %H:%M:%S')})")
        store = cls(layout, meta, RootLock(layout.lock_file))
        notice = migrate_snapshots(store)
        if notice:
            store.notices.append(notice)
        return store

    def close(self) -> None:
        if self._lease is None:  # a leased view shares its parent's connection
            self.meta.close()

    @contextmanager
    def leased(self) -> Iterator["Store"]:
        """A view of this store for one build: every image it looks up or puts is held until the block ends.

        ``rmi``, ``prune`` and gc (in any process) leave held images, their
        blobs and their snapshots alone; see ``leases``.
        """
        from layerlab.engine.store.leases import Lease

        lease = Lease(self)
        view = Store(self.layout, self.meta, self.lock)
        view._lease = lease
        try:
            yield view
        finally:
            lease.release()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # == writing images ================================================================
    def put_image(self, image: Image, *, tags: Sequence[str] = (), parent: str | Digest | None = None,
                  repo_digests: Sequence[str] = (),
                  progress: Callable[[PutProgress], None] | None = None,
                  measured: Mapping[Digest, LayerMeasure] | None = None) -> StoredImage:
        """Copy ``image`` in (verifying every digest and diff ID), record it, then tag it.

        Blobs go in first; the image, its layers and its tags are then one
        transaction, so a crash leaves at worst unreferenced blobs (gc removes
        them), never a half image. A tag that named another image moves here.
        ``measured`` holds ``measure_layer`` results a caller already took of
        blobs in this store (a pull measures layers in parallel as they
        arrive); their diff IDs are still checked against the config.
        """
        from layerlab.engine.oci.chain import chain_ids
        from layerlab.engine.oci.config import ImageConfig
        from layerlab.engine.oci.manifest import Manifest
        from layerlab.engine.store.records import labels_json

        config_raw = image.config_bytes()
        image_id = Digest.of_bytes(config_raw)
        if image_id != image.config_digest:
            raise DigestMismatch("image config", str(image.config_digest), str(image_id))
        config = ImageConfig.parse(config_raw, where=f"image config {image_id}")
        manifest_raw = image.manifest_bytes()
        manifest = Manifest.parse(manifest_raw, where=f"manifest of image {image_id.short}")
        if manifest.config.digest != image_id:
            raise ArchiveError(f"manifest of image {image_id.short} names config {manifest.config.digest}, "
                               f"not {image_id}")
        layers = list(image.layers())
        diff_ids = config.diff_ids
        if len(layers) != len(diff_ids) or len(manifest.layers) != len(layers):
            raise ArchiveError(f"image {image_id.short}: config has {len(diff_ids)} diff_ids, manifest "
                               f"{len(manifest.layers)} layers, source {len(layers)} layers")
        for index, (layer, diff_id, descriptor) in enumerate(zip(layers, diff_ids, manifest.layers)):
            if layer.diff_id != diff_id:
                raise DigestMismatch(f"image {image_id.short} layer {index} diff_id", str(diff_id),
                                     str(layer.diff_id))
            if descriptor.digest != layer.digest:
                raise ArchiveError(f"image {image_id.short} layer {index}: manifest names "
                                   f"{descriptor.digest}, source has {layer.digest}")
        tag_names = [self._tag_name(t) for t in tags]
        digest_names = [str(Reference.parse(d, default_tag=None)) for d in repo_digests]
        parent_id = self.resolve(str(parent)) if parent is not None else None

        with self.lock.shared(), self.blobs.batched_dir_syncs():
            _, manifest_digest = self.blobs.put_together([
                (config_raw, image_id, f"config of image {image_id.short}"),
                (manifest_raw, Digest.of_bytes(manifest_raw), f"manifest of image {image_id.short}")])
            self._report(progress, PutProgress("config", image_id, 0, len(layers)))
            self._report(progress, PutProgress("manifest", manifest_digest, 0, len(layers)))
            layer_rows = []
            for index, layer in enumerate(layers):
                layer_rows.append(self._put_layer(layer, index, image_id, (measured or {}).get(layer.digest)))
                self._report(progress, PutProgress("layer", layer.digest, index, len(layers)))
            self.blobs.flush_dir_syncs()  # every blob's rename durable before a record names it
            self.meta.add_image(NewImage(
                image_id=image_id, manifest_digest=manifest_digest, manifest_media_type=manifest.media_type,
                created=config.created, parent=parent_id, os=config.os, architecture=config.architecture,
                labels_json=labels_json(config), layers=layer_rows, chain_ids=chain_ids(diff_ids)),
                tag_names, digest_names)
            # Looked up (and, for a leased build, held) before the shared lock goes: no prune between.
            return self.image(str(image_id))

    @staticmethod
    def _report(progress, event: PutProgress) -> None:
        if progress is not None:
            progress(event)

    def _put_layer(self, layer, index: int, image_id: Digest,
                   measured: LayerMeasure | None = None) -> LayerRow:
        """Ingest one layer blob and measure it (diff ID, tar size, content size); verified once per blob."""
        what = f"layer {index} ({layer.digest}) of image {image_id.short}"
        known = self.meta.known_layer(layer.digest)
        present = self.blobs.has(layer.digest)
        # A blob measured by the caller was verified on its way in just now; any other copy is rehashed.
        damaged = present and measured is None and self._damaged(layer)
        if known is not None and present and not damaged:
            if known["diff_id"] != str(layer.diff_id):
                raise DigestMismatch(f"{what} diff_id", str(layer.diff_id), known["diff_id"])
            return (str(layer.digest), known["diff_id"], layer.media_type, self.blobs.size(layer.digest),
                    known["uncompressed_size"], known["content_size"])
        with layer.open_blob() as blob:
            self.blobs.ingest(blob, layer.digest, what=what, replace=damaged)
        if measured is None:
            from layerlab.engine.store.measure import measure_layer

            measured = measure_layer(self.blobs.open(layer.digest), what=what)
        if measured.diff_id != layer.diff_id:
            raise DigestMismatch(f"{what} diff_id", str(layer.diff_id), str(measured.diff_id))
        return (str(layer.digest), str(measured.diff_id), layer.media_type, self.blobs.size(layer.digest),
                measured.tar_size, measured.content_size)

    def _damaged(self, layer) -> bool:
        """Whether the stored blob a new copy of ``layer`` would reuse no longer hashes to its digest.

        A layer from this store is its own blob (nothing to check here; reads
        check it). A layer arriving from elsewhere (a build step, a load, a
        pull) that matches a blob already present must not be recorded over a
        damaged copy: the blob is rehashed, and a damaged one is replaced.
        """
        from layerlab.engine.store.records import StoredLayer

        if isinstance(layer, StoredLayer) and layer.stored_in(self.blobs):
            return False
        return self.blobs.verify(layer.digest) != layer.digest

    # == looking images up ================================================================
    @staticmethod
    def _tag_name(text: str) -> str:
        ref = Reference.parse(text)
        if ref.digest is not None:
            raise InvalidReference(f"cannot tag with a digest reference: {text!r}")
        return str(ref)

    def resolve(self, text: str) -> Digest:
        """The image ID ``text`` names (tag, name@digest, full or short ID); ``NotFound`` otherwise."""
        return self.meta.resolve(text).image_id

    def image(self, ref_or_id: str) -> StoredImage:
        """The stored image named by a tag, ``name@digest``, full ID or short ID."""
        image = self._load(self.resolve(ref_or_id))
        if self._lease is not None:
            self._lease.hold(image)
        return image

    def _load(self, image_id: Digest) -> StoredImage:
        row = self.meta.image_row(image_id)
        if row is None:
            raise NotFound(f"no such image: {image_id}")
        from layerlab.engine.oci.config import ImageConfig
        from layerlab.engine.store.records import StoredImage, StoredLayer

        config = ImageConfig.parse(self.blobs.read(image_id), where=f"image config {image_id}")
        layer_rows = self.meta.image_layers(image_id)
        layers = tuple(StoredLayer(Digest.parse(r["digest"]), Digest.parse(r["diff_id"]), r["media_type"], r["size"],
                                   r["uncompressed_size"], r["content_size"], Digest.parse(r["chain_id"]), self.blobs)
                       for r in layer_rows)
        tags, digests = self.meta.names(image_id)
        return StoredImage(
            id=image_id, config=config, manifest_digest=Digest.parse(row["manifest_digest"]),
            manifest_media_type=row["manifest_media_type"], tags=tuple(tags), repo_digests=tuple(digests),
            size=row["size"], parent=Digest.parse(row["parent"]) if row["parent"] else None,
            added_at=row["added_at"], _layers=layers, _content=self.blobs)

    def images(self) -> list[ImageRecord]:
        """Every image, newest first (one query per table; no blob is read)."""
        return self.meta.image_records()

    def children(self, image_id: Digest) -> list[Digest]:
        return self.meta.children(image_id)

    # == tags ==================================================================================
    def tag(self, src: str, target: str) -> None:
        """Point ``target`` (normalized, default tag latest) at the image ``src`` names."""
        name = self._tag_name(target)
        image_id = self.resolve(src)
        with self.meta.transaction():
            if not self.meta.has_image(image_id):
                raise NotFound(f"no such image: {src}")
            self.meta.set_tag(name, image_id)

    def add_repo_digest(self, src: str, name: str) -> None:
        """Record ``name`` (``repo@sha256:…``) as a repo digest of the image ``src`` names, as a push does."""
        full = str(Reference.parse(name, default_tag=None))
        image_id = self.resolve(src)
        with self.meta.transaction():
            self.meta.add_repo_digest(full, image_id)

    def untag(self, name: str) -> Digest:
        """Remove one tag; the image stays (possibly dangling). Returns the image it named."""
        full = self._tag_name(name)
        with self.meta.transaction():
            image_id = self.meta.tag_target(full)
            if image_id is None:
                raise NotFound(f"no such image: {name}")
            self.meta.delete_tag(full)
        return image_id

    # == references that keep things alive =======================================================
    def add_ref(self, owner: str, digest: Digest) -> None:
        """Keep a blob or snapshot (by digest or chain ID) alive for gc under ``owner`` (e.g. a cache record)."""
        with self.meta.transaction():
            self.meta.add_ref(owner, digest)

    def drop_refs(self, owner: str) -> None:
        with self.meta.transaction():
            self.meta.drop_refs(owner)

    # == deleting, checking, snapshots, usage (in their own modules) ==================================
    def remove(self, ref: str, *, force: bool = False, prune_parents: bool = True) -> list[tuple[str, str]]:
        from layerlab.engine.store.delete import remove_image

        return remove_image(self, ref, force=force, prune_parents=prune_parents)

    def prune(self, *, all: bool = False) -> PruneReport:
        from layerlab.engine.store.delete import prune_images

        return prune_images(self, all=all)

    def gc(self) -> GcReport:
        from layerlab.engine.store.delete import collect_garbage

        return collect_garbage(self)

    def fsck(self) -> list[Problem]:
        from layerlab.engine.store.check import check_store

        return check_store(self)

    def snapshot_layers(self, image: StoredImage, upto_layer: int | None = None) -> list[Path]:
        from layerlab.engine.store.snapshots import ensure_layers

        return ensure_layers(self, image, upto_layer)

    def layer_stack(self, image: StoredImage, *, checked: bool = True) -> list[Path]:
        from layerlab.engine.store.snapshots import layer_stack

        return layer_stack(self, image, whole=checked)

    def check_snapshots(self, image: StoredImage) -> None:
        """Refuse ``image``'s snapshots (or blobs) if damaged since made (each once per process)."""
        from layerlab.engine.store.snapshots import check_layers

        check_layers(self, image)

    def lookup_stack(self, image: StoredImage) -> LayerStack:
        from layerlab.engine.store.snapshots import lookup_stack

        return lookup_stack(self, image)

    def merged_tree(self, image: StoredImage, upto_layer: int | None = None) -> Path:
        from layerlab.engine.store.snapshots import merged_tree

        return merged_tree(self, image, upto_layer)

    def layer_dir(self, chain_id: Digest) -> Path | None:
        """The directory holding one layer's files (its snapshot), if that snapshot is complete."""
        from layerlab.engine.store.snapshots import is_complete, layer_dir

        return layer_dir(self, chain_id) if is_complete(self, chain_id) else None

    def adopt_layer(self, image: StoredImage, staged: Path) -> None:
        """Make the top layer's snapshot by moving ``staged`` (the exact tree its tar was written from)."""
        from layerlab.engine.store.snapshots import adopt_layer

        adopt_layer(self, image, staged)

    def df(self) -> DfReport:
        from layerlab.engine.store.usage import disk_usage

        return disk_usage(self)
