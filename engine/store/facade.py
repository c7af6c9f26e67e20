"""The store: blobs, image records, tags, snapshots under one root.

Several processes may open one root at once: metadata changes are SQLite
transactions, blobs and snapshots appear by rename, and deleters (rmi,
prune, gc) take the root lock exclusively so they never remove something a
writer is about to reference.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Mapping, Sequence

from layerlab.engine.errors import ArchiveError, DigestMismatch, InvalidReference, NotFound
from layerlab.engine.image import Image
from layerlab.engine.oci.chain import chain_ids
from layerlab.engine.oci.config import ImageConfig
from layerlab.engine.oci.digest import Digest
from layerlab.engine.oci.manifest import Manifest
from layerlab.engine.reference import Reference
from layerlab.engine.store.content import ContentStore
from layerlab.engine.store.layout import Layout, RootLock
from layerlab.engine.store.meta import connect, transaction
from layerlab.engine.store.measure import LayerMeasure, measure_layer
from layerlab.engine.store.records import ImageRecord, StoredImage, StoredLayer, labels_json

_HEX_PREFIX = re.compile(r"^[a-f0-9]{1,64}$")
_FULL_ID = re.compile(r"^sha256:[a-f0-9]{64}$")


@dataclass(frozen=True)
class PutProgress:
    """Reported by ``put_image`` after each blob is safely in the content store."""

    what: str          # "config", "manifest" or "layer"
    digest: Digest
    index: int         # layer index (0 for config/manifest)
    total_layers: int


class Store:
    """A layerlab store rooted at a directory. Use ``Store.open(root)``.

    Public API (stable)::

        blobs: ContentStore                      ingest/open/has/size/path/writer(ref)
        put_image(image, tags=(), parent=None, repo_digests=(), progress=None) -> StoredImage
        image(ref_or_id) -> StoredImage          tag, ID, short ID, name@digest
        resolve(ref_or_id) -> Digest             the image ID only
        images() -> list[ImageRecord]
        tag(src, target); untag(name)
        remove(ref, force=False, prune_parents=True) -> [("Untagged"|"Deleted", text)]
        prune(all=False) -> PruneReport; gc() -> GcReport; fsck() -> list[Problem]
        snapshot(image, upto_layer=None) -> Path; snapshot_chain(image) -> list[Path]
        df() -> DfReport
        add_ref(owner, digest); drop_refs(owner)  keep blobs/snapshots alive for gc
    """

    def __init__(self, layout: Layout, db: sqlite3.Connection, lock: RootLock):
        self.layout = layout
        self.root = layout.root
        self.db = db
        self.lock = lock
        self.blobs = ContentStore(layout, lock)

    @classmethod
    def open(cls, root: Path | str) -> "Store":
        """Open the store at ``root``, creating the layout on first use."""
        layout = Layout(Path(root))
        layout.create()
        return cls(layout, connect(layout.db), RootLock(layout.lock_file))

    def close(self) -> None:
        self.db.close()

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

        with self.lock.shared():
            self.blobs.ingest_bytes(config_raw, image_id, what=f"config of image {image_id.short}")
            self._report(progress, PutProgress("config", image_id, 0, len(layers)))
            manifest_digest = self.blobs.ingest_bytes(manifest_raw, what=f"manifest of image {image_id.short}")
            self._report(progress, PutProgress("manifest", manifest_digest, 0, len(layers)))
            layer_rows = []
            for index, layer in enumerate(layers):
                layer_rows.append(self._put_layer(layer, index, image_id, (measured or {}).get(layer.digest)))
                self._report(progress, PutProgress("layer", layer.digest, index, len(layers)))
            chains = chain_ids(diff_ids)
            with transaction(self.db):
                for row in layer_rows:
                    self.db.execute("INSERT OR IGNORE INTO layers(digest, diff_id, media_type, size, "
                                    "uncompressed_size, content_size) VALUES(?,?,?,?,?,?)", row)
                exists = self.db.execute("SELECT 1 FROM images WHERE id=?", (str(image_id),)).fetchone()
                if not exists:
                    self.db.execute(
                        "INSERT INTO images(id, manifest_digest, manifest_media_type, created, added_at, parent,"
                        " size, os, architecture, labels) VALUES(?,?,?,?,?,?,?,?,?,?)",
                        (str(image_id), str(manifest_digest), manifest.media_type, config.created, time.time(),
                         str(parent_id) if parent_id else None, sum(r[5] for r in layer_rows), config.os,
                         config.architecture, labels_json(config)))
                    self.db.executemany(
                        "INSERT INTO image_layers(image_id, position, digest, diff_id, chain_id) VALUES(?,?,?,?,?)",
                        [(str(image_id), i, str(layer.digest), str(diff_ids[i]), str(chains[i]))
                         for i, layer in enumerate(layers)])
                elif parent_id is not None:
                    self.db.execute("UPDATE images SET parent=? WHERE id=? AND parent IS NULL",
                                    (str(parent_id), str(image_id)))
                now = time.time()
                for name in tag_names:
                    self.db.execute("INSERT OR REPLACE INTO tags(name, image_id, added_at) VALUES(?,?,?)",
                                    (name, str(image_id), now))
                for name in digest_names:
                    self.db.execute("INSERT OR IGNORE INTO repo_digests(name, image_id) VALUES(?,?)",
                                    (name, str(image_id)))
        return self.image(str(image_id))

    @staticmethod
    def _report(progress, event: PutProgress) -> None:
        if progress is not None:
            progress(event)

    def _put_layer(self, layer, index: int, image_id: Digest,
                   measured: LayerMeasure | None = None) -> tuple[str, str, str, int, int, int]:
        """Ingest one layer blob and measure it (diff ID, tar size, content size); verified once per blob."""
        what = f"layer {index} ({layer.digest}) of image {image_id.short}"
        known = self.db.execute("SELECT diff_id, uncompressed_size, content_size FROM layers WHERE digest=?",
                                (str(layer.digest),)).fetchone()
        if known is not None and self.blobs.has(layer.digest):
            if known["diff_id"] != str(layer.diff_id):
                raise DigestMismatch(f"{what} diff_id", str(layer.diff_id), known["diff_id"])
            return (str(layer.digest), known["diff_id"], layer.media_type, self.blobs.size(layer.digest),
                    known["uncompressed_size"], known["content_size"])
        with layer.open_blob() as blob:
            self.blobs.ingest(blob, layer.digest, what=what)
        if measured is None:
            measured = measure_layer(self.blobs.open(layer.digest), what=what)
        if measured.diff_id != layer.diff_id:
            raise DigestMismatch(f"{what} diff_id", str(layer.diff_id), str(measured.diff_id))
        return (str(layer.digest), str(measured.diff_id), layer.media_type, self.blobs.size(layer.digest),
                measured.tar_size, measured.content_size)

    # == looking images up ================================================================
    @staticmethod
    def _tag_name(text: str) -> str:
        ref = Reference.parse(text)
        if ref.digest is not None:
            raise InvalidReference(f"cannot tag with a digest reference: {text!r}")
        return str(ref)

    def resolve(self, text: str) -> Digest:
        """The image ID ``text`` names (tag, name@digest, full or short ID); ``NotFound`` otherwise."""
        return self._resolve(text)[0]

    def _resolve(self, text: str) -> tuple[Digest, bool]:
        """(image ID, whether ``text`` was an ID rather than a reference)."""
        if _FULL_ID.match(text):
            if self.db.execute("SELECT 1 FROM images WHERE id=?", (text,)).fetchone():
                return Digest.parse(text), True
            raise NotFound(f"no such image: {text}")
        ref = Reference.try_parse(text)
        if ref is not None:
            if ref.digest is not None:
                row = self.db.execute("SELECT image_id FROM repo_digests WHERE name=?",
                                      (str(ref.name_only().with_digest(ref.digest)),)).fetchone()
            else:
                row = self.db.execute("SELECT image_id FROM tags WHERE name=?", (str(ref),)).fetchone()
            if row is not None:
                return Digest.parse(row[0]), False
        if _HEX_PREFIX.match(text):
            rows = self.db.execute("SELECT id FROM images WHERE id LIKE ?", (f"sha256:{text}%",)).fetchall()
            if len(rows) == 1:
                return Digest.parse(rows[0][0]), True
            if len(rows) > 1:
                raise NotFound(f"image ID prefix {text!r} is ambiguous ({len(rows)} images match)")
        if ref is None:
            Reference.parse(text)  # raises InvalidReference naming the text
        raise NotFound(f"no such image: {text}")

    def image(self, ref_or_id: str) -> StoredImage:
        """The stored image named by a tag, ``name@digest``, full ID or short ID."""
        image_id = self.resolve(ref_or_id)
        return self._load(image_id)

    def _load(self, image_id: Digest) -> StoredImage:
        row = self.db.execute("SELECT * FROM images WHERE id=?", (str(image_id),)).fetchone()
        if row is None:
            raise NotFound(f"no such image: {image_id}")
        config = ImageConfig.parse(self.blobs.read(image_id), where=f"image config {image_id}")
        layer_rows = self.db.execute(
            "SELECT il.digest, il.diff_id, il.chain_id, l.media_type, l.size, l.uncompressed_size, "
            "l.content_size "
            "FROM image_layers il JOIN layers l ON l.digest = il.digest WHERE il.image_id=? ORDER BY il.position",
            (str(image_id),)).fetchall()
        layers = tuple(StoredLayer(Digest.parse(r["digest"]), Digest.parse(r["diff_id"]), r["media_type"], r["size"],
                                   r["uncompressed_size"], r["content_size"], Digest.parse(r["chain_id"]), self.blobs)
                       for r in layer_rows)
        tags, digests = self._names(image_id)
        return StoredImage(
            id=image_id, config=config, manifest_digest=Digest.parse(row["manifest_digest"]),
            manifest_media_type=row["manifest_media_type"], tags=tuple(tags), repo_digests=tuple(digests),
            size=row["size"], parent=Digest.parse(row["parent"]) if row["parent"] else None,
            added_at=row["added_at"], _layers=layers, _content=self.blobs)

    def _names(self, image_id: Digest) -> tuple[list[str], list[str]]:
        tags = [r[0] for r in self.db.execute("SELECT name FROM tags WHERE image_id=? ORDER BY name",
                                              (str(image_id),))]
        digests = [r[0] for r in self.db.execute("SELECT name FROM repo_digests WHERE image_id=? ORDER BY name",
                                                 (str(image_id),))]
        return tags, digests

    def images(self) -> list[ImageRecord]:
        """Every image, newest first (one query per table; no blob is read)."""
        tags: dict[str, list[str]] = {}
        for name, image_id in self.db.execute("SELECT name, image_id FROM tags ORDER BY name"):
            tags.setdefault(image_id, []).append(name)
        digests: dict[str, list[str]] = {}
        for name, image_id in self.db.execute("SELECT name, image_id FROM repo_digests ORDER BY name"):
            digests.setdefault(image_id, []).append(name)
        counts = dict(self.db.execute("SELECT image_id, COUNT(*) FROM image_layers GROUP BY image_id"))
        children = dict(self.db.execute("SELECT parent, COUNT(*) FROM images WHERE parent IS NOT NULL "
                                        "GROUP BY parent"))
        out = []
        for row in self.db.execute("SELECT * FROM images ORDER BY created DESC, added_at DESC"):
            out.append(ImageRecord(
                id=Digest.parse(row["id"]), tags=tuple(tags.get(row["id"], ())),
                repo_digests=tuple(digests.get(row["id"], ())), created=row["created"], size=row["size"],
                parent=Digest.parse(row["parent"]) if row["parent"] else None,
                labels=json.loads(row["labels"]), os=row["os"], architecture=row["architecture"],
                layer_count=counts.get(row["id"], 0), added_at=row["added_at"],
                children=children.get(row["id"], 0)))
        return out

    def children(self, image_id: Digest) -> list[Digest]:
        return [Digest.parse(r[0]) for r in self.db.execute("SELECT id FROM images WHERE parent=?",
                                                            (str(image_id),))]

    # == tags ==================================================================================
    def tag(self, src: str, target: str) -> None:
        """Point ``target`` (normalized, default tag latest) at the image ``src`` names."""
        name = self._tag_name(target)
        image_id = self.resolve(src)
        with transaction(self.db):
            if not self.db.execute("SELECT 1 FROM images WHERE id=?", (str(image_id),)).fetchone():
                raise NotFound(f"no such image: {src}")
            self.db.execute("INSERT OR REPLACE INTO tags(name, image_id, added_at) VALUES(?,?,?)",
                            (name, str(image_id), time.time()))

    def add_repo_digest(self, src: str, name: str) -> None:
        """Record ``name`` (``repo@sha256:…``) as a repo digest of the image ``src`` names, as a push does."""
        full = str(Reference.parse(name, default_tag=None))
        image_id = self.resolve(src)
        with transaction(self.db):
            self.db.execute("INSERT OR IGNORE INTO repo_digests(name, image_id) VALUES(?,?)", (full, str(image_id)))

    def untag(self, name: str) -> Digest:
        """Remove one tag; the image stays (possibly dangling). Returns the image it named."""
        full = self._tag_name(name)
        with transaction(self.db):
            row = self.db.execute("SELECT image_id FROM tags WHERE name=?", (full,)).fetchone()
            if row is None:
                raise NotFound(f"no such image: {name}")
            self.db.execute("DELETE FROM tags WHERE name=?", (full,))
        return Digest.parse(row[0])

    # == references that keep things alive =======================================================
    def add_ref(self, owner: str, digest: Digest) -> None:
        """Keep a blob or snapshot (by digest or chain ID) alive for gc under ``owner`` (e.g. a cache record)."""
        with transaction(self.db):
            self.db.execute("INSERT OR IGNORE INTO refs(owner, digest) VALUES(?,?)", (owner, str(digest)))

    def drop_refs(self, owner: str) -> None:
        with transaction(self.db):
            self.db.execute("DELETE FROM refs WHERE owner=?", (owner,))

    # == deleting, checking, snapshots, usage (in their own modules) ==================================
    def remove(self, ref: str, *, force: bool = False, prune_parents: bool = True) -> list[tuple[str, str]]:
        from layerlab.engine.store.delete import remove_image

        return remove_image(self, ref, force=force, prune_parents=prune_parents)

    def prune(self, *, all: bool = False):
        from layerlab.engine.store.delete import prune_images

        return prune_images(self, all=all)

    def gc(self):
        from layerlab.engine.store.delete import collect_garbage

        return collect_garbage(self)

    def fsck(self):
        from layerlab.engine.store.check import check_store

        return check_store(self)

    def snapshot(self, image: StoredImage, upto_layer: int | None = None) -> Path:
        from layerlab.engine.store.snapshots import ensure_snapshot

        return ensure_snapshot(self, image, upto_layer)

    def adopt_snapshot(self, image: StoredImage, staged: Path) -> bool:
        """Make the top layer's snapshot by moving ``staged`` (the exact tree its tar was written from)."""
        from layerlab.engine.store.snapshots import adopt_snapshot

        return adopt_snapshot(self, image, staged)

    def snapshot_chain(self, image: StoredImage) -> list[Path]:
        from layerlab.engine.store.snapshots import ensure_chain

        return ensure_chain(self, image)

    def df(self):
        from layerlab.engine.store.usage import disk_usage

        return disk_usage(self)


