"""Snapshots: an image's root filesystem unpacked once per chain ID.

``snapshots/<chain-hex>/rootfs`` is the *whole* filesystem of the layer stack
the chain ID names (the parent snapshot copied, then this layer applied with
its whiteouts), so one directory is a complete view: a read-only lowerdir
for overlayfs, or a tree to explore. Each is built under ``tmp/``, gets its
``snapshot.json`` (with a digest of the tree) written last, then is renamed
into place, so a snapshot directory either is complete or does not exist.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

from engine.errors import StoreError
from engine.oci.digest import CHUNK, Digest
from engine.store.delete import remove_tree, tree_size
from engine.store.layout import fsync_dir
from engine.store.meta import transaction
from engine.store.records import StoredImage

if TYPE_CHECKING:
    from engine.store.store import Store

ROOTFS = "rootfs"
MARKER = "snapshot.json"


def ensure_chain(store: "Store", image: StoredImage) -> list[Path]:
    """Snapshot every prefix of the image; the rootfs dirs bottom to top (each complete on its own)."""
    return [ensure_snapshot(store, image, i) for i in range(len(image.layers()))]


def ensure_snapshot(store: "Store", image: StoredImage, upto_layer: int | None = None) -> Path:
    """The rootfs dir of ``image`` up to and including layer ``upto_layer`` (default: all layers)."""
    layers = image.layers()
    if not layers:
        raise StoreError(f"image {image.id.short} has no layers to unpack")
    top = len(layers) - 1 if upto_layer is None else upto_layer
    if not 0 <= top < len(layers):
        raise StoreError(f"image {image.id.short} has no layer {upto_layer} (it has {len(layers)})")
    with store.lock.shared():
        start = top
        while start >= 0 and not _complete(store, layers[start].chain_id):
            start -= 1
        for index in range(start + 1, top + 1):
            parent = layers[index - 1].chain_id if index else None
            _build(store, layers[index], parent)
        _record(store, layers, top)
    return store.layout.snapshot(layers[top].chain_id) / ROOTFS


def _complete(store: "Store", chain_id: Digest) -> bool:
    return (store.layout.snapshot(chain_id) / MARKER).is_file()


def _build(store: "Store", layer, parent: Digest | None) -> None:
    from engine.layers.apply import apply_layer  # imported here so fsck and gc work without it loaded

    work = store.layout.new_temp(".snapshot")
    rootfs = work / ROOTFS
    work.mkdir()
    try:
        if parent is None:
            rootfs.mkdir()
        else:
            _copy_tree(store.layout.snapshot(parent) / ROOTFS, rootfs)
        with layer.open_blob() as blob:
            apply_layer(blob, rootfs)
        marker = {"chain_id": str(layer.chain_id), "diff_id": str(layer.diff_id),
                  "parent": str(parent) if parent else None, "tree_digest": tree_digest(rootfs),
                  "created": time.time()}
        with open(work / MARKER, "w") as out:
            json.dump(marker, out, sort_keys=True)
            out.flush()
            os.fsync(out.fileno())
        fsync_dir(work)
        target = store.layout.snapshot(layer.chain_id)
        try:
            os.rename(work, target)
        except OSError:
            if not _complete(store, layer.chain_id):  # a peer finishing first is fine; anything else is not
                raise
        fsync_dir(target.parent)
    finally:
        if work.exists():
            remove_tree(store, work)


def _record(store: "Store", layers, top: int) -> None:
    with transaction(store.db):
        for index in range(top + 1):
            layer = layers[index]
            chain = str(layer.chain_id)
            if store.db.execute("SELECT 1 FROM snapshots WHERE chain_id=?", (chain,)).fetchone():
                continue
            path = store.layout.snapshot(layer.chain_id)
            store.db.execute("INSERT INTO snapshots(chain_id, parent, diff_id, created, size) VALUES(?,?,?,?,?)",
                             (chain, str(layers[index - 1].chain_id) if index else None, str(layer.diff_id),
                              time.time(), tree_size(path)))


def _copy_tree(source: Path, target: Path) -> None:
    """Copy keeping owners, modes, links, devices and xattrs (reflinks where the filesystem has them)."""
    result = subprocess.run(["cp", "-a", "--reflink=auto", str(source), str(target)], capture_output=True)
    if result.returncode != 0:
        raise StoreError(f"cannot copy snapshot {source}: {result.stderr.decode(errors='replace').strip()}")


def tree_digest(root: Path) -> str:
    """A digest over every entry's path, type, mode, owner, size, content or link target (not times)."""
    outer = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            rel = os.path.relpath(path, root)
            line = f"{rel}\0{stat.S_IFMT(info.st_mode)}\0{stat.S_IMODE(info.st_mode):o}\0{info.st_uid}\0{info.st_gid}"
            if stat.S_ISREG(info.st_mode):
                line += f"\0{info.st_size}\0{_file_hash(path)}"
            elif stat.S_ISLNK(info.st_mode):
                line += f"\0{os.readlink(path)}"
            elif stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode):
                line += f"\0{info.st_rdev}"
            outer.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return "sha256:" + outer.hexdigest()


def _file_hash(path: str) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        while chunk := stream.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_marker(path: Path) -> dict:
    with open(path / MARKER) as stream:
        return json.load(stream)
