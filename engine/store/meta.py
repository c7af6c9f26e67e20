"""The metadata schema in SQLite (WAL, a busy timeout), and opening it: creating and migrating.

The queries are in ``queries``; every change is one ``write_transaction``.

Schema (version 2)::

    images(id, manifest_digest, manifest_media_type, created, added_at, parent, size, os, architecture, labels)
    image_layers(image_id, position, digest, diff_id, chain_id)    bottom to top
    layers(digest, diff_id, media_type, size, uncompressed_size, content_size)
                                                                   what we know of each layer blob
    tags(name, image_id, added_at)                                 name = docker.io/library/busybox:latest
    repo_digests(name, image_id)                                   name = docker.io/library/busybox@sha256:…
    snapshots(chain_id, parent, diff_id, created, size)
    refs(owner, digest)                                            extra roots for gc (build cache, leases)
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from layerlab.engine.dbfile import open_shared_db, write_transaction
from layerlab.engine.errors import StoreError

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS images(
    id TEXT PRIMARY KEY,
    manifest_digest TEXT NOT NULL,
    manifest_media_type TEXT NOT NULL,
    created TEXT NOT NULL DEFAULT '',
    added_at REAL NOT NULL,
    parent TEXT,
    size INTEGER NOT NULL,
    os TEXT NOT NULL DEFAULT '',
    architecture TEXT NOT NULL DEFAULT '',
    labels TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX IF NOT EXISTS images_parent ON images(parent);
CREATE TABLE IF NOT EXISTS image_layers(
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    position INTEGER NOT NULL,
    digest TEXT NOT NULL,
    diff_id TEXT NOT NULL,
    chain_id TEXT NOT NULL,
    PRIMARY KEY(image_id, position)
);
CREATE INDEX IF NOT EXISTS image_layers_digest ON image_layers(digest);
CREATE INDEX IF NOT EXISTS image_layers_chain ON image_layers(chain_id);
CREATE TABLE IF NOT EXISTS layers(
    digest TEXT PRIMARY KEY,
    diff_id TEXT NOT NULL,
    media_type TEXT NOT NULL,
    size INTEGER NOT NULL,
    uncompressed_size INTEGER NOT NULL,
    content_size INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS layers_diff_id ON layers(diff_id);
CREATE TABLE IF NOT EXISTS tags(
    name TEXT PRIMARY KEY,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    added_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tags_image ON tags(image_id);
CREATE TABLE IF NOT EXISTS repo_digests(
    name TEXT NOT NULL,
    image_id TEXT NOT NULL REFERENCES images(id) ON DELETE CASCADE,
    PRIMARY KEY(name, image_id)
);
CREATE TABLE IF NOT EXISTS snapshots(
    chain_id TEXT PRIMARY KEY,
    parent TEXT,
    diff_id TEXT NOT NULL,
    created REAL NOT NULL,
    size INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS refs(
    owner TEXT NOT NULL,
    digest TEXT NOT NULL,
    PRIMARY KEY(owner, digest)
);
"""


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating and migrating) the metadata database."""
    try:
        db = open_shared_db(path, timeout=60, synchronous="FULL")
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA foreign_keys = ON")
        if _version(db) == SCHEMA_VERSION:
            # The usual open: read only, so listing images never waits on a build's write lock.
            return db
        with write_transaction(db):
            version = _version(db)
            if version > SCHEMA_VERSION:
                raise StoreError(f"store {path.parent} has schema version {version}; "
                                 f"this layerlab knows up to {SCHEMA_VERSION}")
            if version == 1:
                db.execute("ALTER TABLE layers ADD COLUMN content_size INTEGER NOT NULL DEFAULT 0")
            if version < SCHEMA_VERSION:
                for statement in _SCHEMA.split(";"):
                    if statement.strip():
                        db.execute(statement)
                db.execute("INSERT OR REPLACE INTO meta(key, value) VALUES('schema_version', ?)",
                           (str(SCHEMA_VERSION),))
        return db
    except sqlite3.DatabaseError as error:
        raise StoreError(f"store metadata {path} is unusable: {error}") from None


def _version(db: sqlite3.Connection) -> int:
    has_meta = db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND name='meta'").fetchone()
    if not has_meta:
        return 0
    row = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
    return int(row[0]) if row else 0
