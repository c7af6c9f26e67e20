"""Every SQL statement the store runs on ``meta.db``: the one module that knows the tables.

The other store modules (the facade, deleting, fsck, snapshots, usage) call
these named queries; none of them writes SQL. Changes go inside
``transaction()`` (one ``BEGIN IMMEDIATE`` per change, nested calls join it).
The schema itself, and its migrations, live in ``meta``.
"""

from __future__ import annotations

import json
import re
import sqlite3
import time

from layerlab.engine.dbfile import write_transaction
from layerlab.engine.errors import NotFound
from layerlab.engine.oci.digest import Digest
from layerlab.engine.reference import Reference
from layerlab.engine.store.listing import ImageRecord
from layerlab.engine.values import Value, set_fields

# typing costs milliseconds of the start-up of every command that opens the store; type checkers honour this.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence
    from contextlib import AbstractContextManager

_HEX_PREFIX = re.compile(r"^[a-f0-9]{1,64}$")
_FULL_ID = re.compile(r"^sha256:[a-f0-9]{64}$")

# (digest, diff_id, media_type, size, uncompressed_size, content_size): one row of ``layers``
LayerRow = tuple[str, str, str, int, int, int]


# Values, not dataclasses: every command that opens the store imports this module (see ``values``).
class Resolved(Value):
    __slots__ = ("image_id", "by_id")
    image_id: Digest
    by_id: bool        # the text was an image ID (full or short), not a tag or name@digest

    def __init__(self, image_id: Digest, by_id: bool) -> None:
        set_fields(self, image_id, by_id)


class NewImage(Value):
    """What ``add_image`` records for one image (its blobs are already in the store)."""

    __slots__ = ("image_id", "manifest_digest", "manifest_media_type", "created", "parent", "os", "architecture",
                 "labels_json", "layers", "chain_ids")
    image_id: Digest
    manifest_digest: Digest
    manifest_media_type: str
    created: str
    parent: Digest | None
    os: str
    architecture: str
    labels_json: str
    layers: Sequence[LayerRow]
    chain_ids: Sequence[Digest]

    def __init__(self, image_id: Digest, manifest_digest: Digest, manifest_media_type: str, created: str,
                 parent: Digest | None, os: str, architecture: str, labels_json: str, layers: Sequence[LayerRow],
                 chain_ids: Sequence[Digest]) -> None:
        set_fields(self, image_id, manifest_digest, manifest_media_type, created, parent, os, architecture,
                   labels_json, layers, chain_ids)


class Metadata:
    """Named queries over one store's ``meta.db`` connection."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def transaction(self) -> AbstractContextManager[sqlite3.Connection]:
        return write_transaction(self.db)

    def close(self) -> None:
        self.db.close()

    # == the store's own notes ===========================================================
    def note_lost_metadata(self, description: str) -> None:
        """Remember that the metadata was found missing while content existed (fsck and deleters read it)."""
        with self.transaction():
            self.db.execute("INSERT OR IGNORE INTO meta(key, value) VALUES('metadata_lost', ?)", (description,))

    def lost_metadata(self) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key='metadata_lost'").fetchone()
        return row[0] if row else None

    # == images =======================================================================
    def known_layer(self, digest: Digest) -> sqlite3.Row | None:
        """(diff_id, uncompressed_size, content_size) recorded for a layer blob."""
        return self.db.execute("SELECT diff_id, uncompressed_size, content_size FROM layers WHERE digest=?",
                               (str(digest),)).fetchone()

    def add_image(self, image: NewImage, tags: Iterable[str], repo_digests: Iterable[str]) -> None:
        """Record an image, its layers and names in one transaction; a tag naming another image moves here."""
        image_id = str(image.image_id)
        parent = str(image.parent) if image.parent else None
        with self.transaction():
            self.db.executemany("INSERT OR IGNORE INTO layers(digest, diff_id, media_type, size, "
                                "uncompressed_size, content_size) VALUES(?,?,?,?,?,?)", image.layers)
            if not self.has_image(image.image_id):
                self.db.execute(
                    "INSERT INTO images(id, manifest_digest, manifest_media_type, created, added_at, parent,"
                    " size, os, architecture, labels) VALUES(?,?,?,?,?,?,?,?,?,?)",
                    (image_id, str(image.manifest_digest), image.manifest_media_type, image.created, time.time(),
                     parent, sum(row[5] for row in image.layers), image.os, image.architecture, image.labels_json))
                self.db.executemany(
                    "INSERT INTO image_layers(image_id, position, digest, diff_id, chain_id) VALUES(?,?,?,?,?)",
                    [(image_id, i, row[0], row[1], str(chain))
                     for i, (row, chain) in enumerate(zip(image.layers, image.chain_ids))])
            elif parent is not None:
                self.db.execute("UPDATE images SET parent=? WHERE id=? AND parent IS NULL", (parent, image_id))
            for name in tags:
                self.set_tag(name, image.image_id)
            for name in repo_digests:
                self.add_repo_digest(name, image.image_id)

    def has_image(self, image_id: Digest | str) -> bool:
        return self.db.execute("SELECT 1 FROM images WHERE id=?", (str(image_id),)).fetchone() is not None

    def resolve(self, text: str) -> Resolved:
        """The image ``text`` names (tag, name@digest, full or short ID); ``NotFound`` otherwise."""
        if _FULL_ID.match(text):
            if self.has_image(text):
                return Resolved(Digest.parse(text), True)
            raise NotFound(f"no such image: {text}")
        ref = Reference.try_parse(text)
        if ref is not None:
            if ref.digest is not None:
                row = self.db.execute("SELECT image_id FROM repo_digests WHERE name=?",
                                      (str(ref.name_only().with_digest(ref.digest)),)).fetchone()
            else:
                row = self.db.execute("SELECT image_id FROM tags WHERE name=?", (str(ref),)).fetchone()
            if row is not None:
                return Resolved(Digest.parse(row[0]), False)
        if _HEX_PREFIX.match(text):
            rows = self.db.execute("SELECT id FROM images WHERE id LIKE ?", (f"sha256:{text}%",)).fetchall()
            if len(rows) == 1:
                return Resolved(Digest.parse(rows[0][0]), True)
            if len(rows) > 1:
                raise NotFound(f"image ID prefix {text!r} is ambiguous ({len(rows)} images match)")
        if ref is None:
            Reference.parse(text)  # raises InvalidReference naming the text
        raise NotFound(f"no such image: {text}")

    def image_row(self, image_id: Digest) -> sqlite3.Row | None:
        return self.db.execute("SELECT * FROM images WHERE id=?", (str(image_id),)).fetchone()

    def image_rows(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT * FROM images").fetchall()

    def image_ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT id FROM images")}

    def image_layers(self, image_id: Digest) -> list[sqlite3.Row]:
        """The image's layers bottom to top, with what ``layers`` knows of each blob."""
        return self.db.execute(
            "SELECT il.digest, il.diff_id, il.chain_id, l.media_type, l.size, l.uncompressed_size, "
            "l.content_size "
            "FROM image_layers il JOIN layers l ON l.digest = il.digest WHERE il.image_id=? ORDER BY il.position",
            (str(image_id),)).fetchall()

    def image_layer_records(self, image_id: Digest | str) -> list[sqlite3.Row]:
        """The image's layer rows bottom to top; ``known`` is NULL where the blob has no ``layers`` row."""
        return self.db.execute(
            "SELECT il.position, il.digest, il.diff_id, il.chain_id, l.digest AS known FROM image_layers il "
            "LEFT JOIN layers l ON l.digest = il.digest WHERE il.image_id=? ORDER BY il.position",
            (str(image_id),)).fetchall()

    def names(self, image_id: Digest) -> tuple[list[str], list[str]]:
        """(tags, repo digests) of one image, sorted."""
        tags = [r[0] for r in self.db.execute("SELECT name FROM tags WHERE image_id=? ORDER BY name",
                                              (str(image_id),))]
        digests = [r[0] for r in self.db.execute("SELECT name FROM repo_digests WHERE image_id=? ORDER BY name",
                                                 (str(image_id),))]
        return tags, digests

    def image_records(self) -> list[ImageRecord]:
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

    def delete_image(self, image_id: Digest, chains: list[str] | None = None) -> Digest | None:
        """Delete an image row (its layers, tags and digests cascade); returns its parent.

        ``chains`` collects the chain IDs of its layers, bottom to top.
        """
        row = self.db.execute("SELECT parent FROM images WHERE id=?", (str(image_id),)).fetchone()
        if row is None:
            raise NotFound(f"no such image: {image_id}")
        if chains is not None:
            chains.extend(r[0] for r in self.db.execute(
                "SELECT chain_id FROM image_layers WHERE image_id=? ORDER BY position", (str(image_id),)))
        self.db.execute("DELETE FROM images WHERE id=?", (str(image_id),))
        return Digest.parse(row[0]) if row[0] else None

    # == names ========================================================================
    def set_tag(self, name: str, image_id: Digest) -> None:
        self.db.execute("INSERT OR REPLACE INTO tags(name, image_id, added_at) VALUES(?,?,?)",
                        (name, str(image_id), time.time()))

    def tag_target(self, name: str) -> Digest | None:
        row = self.db.execute("SELECT image_id FROM tags WHERE name=?", (name,)).fetchone()
        return Digest.parse(row[0]) if row else None

    def add_repo_digest(self, name: str, image_id: Digest) -> None:
        self.db.execute("INSERT OR IGNORE INTO repo_digests(name, image_id) VALUES(?,?)", (name, str(image_id)))

    def delete_tag(self, name: str) -> None:
        self.db.execute("DELETE FROM tags WHERE name=?", (name,))

    def delete_repo_digest(self, name: str) -> None:
        self.db.execute("DELETE FROM repo_digests WHERE name=?", (name,))

    def delete_name(self, name: str) -> None:
        """Remove ``name`` whether it is a tag or a repo digest."""
        self.delete_tag(name)
        self.delete_repo_digest(name)

    # == refs, liveness and what gc removes ===============================================
    def add_ref(self, owner: str, digest: Digest) -> None:
        self.db.execute("INSERT OR IGNORE INTO refs(owner, digest) VALUES(?,?)", (owner, str(digest)))

    def drop_refs(self, owner: str) -> None:
        self.db.execute("DELETE FROM refs WHERE owner=?", (owner,))

    def used_chain_ids(self) -> set[str]:
        """Chain IDs some image's layer stack has."""
        return {r[0] for r in self.db.execute("SELECT chain_id FROM image_layers")}

    def live_digests(self) -> set[str]:
        """Blobs something needs: configs, manifests, layers of images, and refs."""
        live: set[str] = set()
        for query in ("SELECT id FROM images", "SELECT manifest_digest FROM images",
                      "SELECT digest FROM image_layers", "SELECT digest FROM refs"):
            live.update(r[0] for r in self.db.execute(query))
        return live

    def live_chains(self) -> set[str]:
        """Snapshots something needs: chains of image layers, and refs."""
        live = self.used_chain_ids()
        live.update(r[0] for r in self.db.execute("SELECT digest FROM refs"))
        return live

    def forget_dead(self, live: set[str], live_chains: set[str]) -> None:
        """Drop ``layers`` rows for blobs not in ``live`` and snapshot rows for chains not in ``live_chains``."""
        dead_layers = [(r[0],) for r in self.db.execute("SELECT digest FROM layers") if r[0] not in live]
        dead_snapshots = [(c,) for c in self.snapshot_chains() if c not in live_chains]
        self.db.executemany("DELETE FROM layers WHERE digest=?", dead_layers)
        self.db.executemany("DELETE FROM snapshots WHERE chain_id=?", dead_snapshots)

    def forget_unused_layers(self) -> None:
        self.db.execute("DELETE FROM layers WHERE digest NOT IN (SELECT digest FROM image_layers) "
                        "AND digest NOT IN (SELECT digest FROM refs)")

    # == snapshots ======================================================================
    def snapshot_chains(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT chain_id FROM snapshots")}

    def has_snapshot(self, chain_id: Digest) -> bool:
        return self.db.execute("SELECT 1 FROM snapshots WHERE chain_id=?", (str(chain_id),)).fetchone() is not None

    def snapshot_row(self, chain_id: Digest) -> sqlite3.Row | None:
        """(parent, diff_id) of a recorded snapshot."""
        return self.db.execute("SELECT parent, diff_id FROM snapshots WHERE chain_id=?",
                               (str(chain_id),)).fetchone()

    def add_snapshot(self, chain_id: Digest, parent: Digest | None, diff_id: Digest, size: int) -> None:
        self.db.execute("INSERT OR IGNORE INTO snapshots(chain_id, parent, diff_id, created, size) "
                        "VALUES(?,?,?,?,?)", (str(chain_id), str(parent) if parent else None, str(diff_id),
                                               time.time(), size))

    def forget_snapshots(self, chains: Iterable[str]) -> None:
        self.db.executemany("DELETE FROM snapshots WHERE chain_id=?", [(chain,) for chain in chains])

    def snapshot_totals(self) -> tuple[int, int]:
        """(count, recorded bytes) of all snapshots."""
        count, total = self.db.execute("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM snapshots").fetchone()
        return count, total

    # == layers ===========================================================================
    def layer_rows(self) -> list[sqlite3.Row]:
        return self.db.execute("SELECT digest, diff_id, uncompressed_size, content_size FROM layers").fetchall()

    def layer_in_use(self, digest: str) -> bool:
        return self.db.execute("SELECT 1 FROM image_layers WHERE digest=?", (digest,)).fetchone() is not None

    def blob_of_diff_id(self, diff_id: str) -> Digest | None:
        row = self.db.execute("SELECT digest FROM layers WHERE diff_id=? LIMIT 1", (diff_id,)).fetchone()
        return Digest.parse(row[0]) if row else None

    def content_sizes(self) -> dict[str, int]:
        """diff ID -> the layer's content size (docker's SIZE)."""
        return {r[0]: r[1] for r in self.db.execute("SELECT diff_id, content_size FROM layers")}

    def image_diff_ids(self) -> list[tuple[str, str]]:
        """(image ID, diff ID) of every image layer."""
        return [(r[0], r[1]) for r in self.db.execute("SELECT image_id, diff_id FROM image_layers")]

    # == integrity ========================================================================
    def integrity_problems(self) -> list[str]:
        """What SQLite's integrity and foreign-key checks report (empty when healthy)."""
        out = [f"integrity check: {result}" for (result,) in self.db.execute("PRAGMA integrity_check")
               if result != "ok"]
        out += [f"table {row[0]} row {row[1]} points at a missing {row[2]} row"
                for row in self.db.execute("PRAGMA foreign_key_check")]
        return out
