"""Snapshots: an image's root filesystem unpacked once per chain ID.

``snapshots/<chain-hex>/rootfs`` is the *whole* filesystem of the layer stack
the chain ID names (the parent snapshot copied, then this layer applied with
its whiteouts), so one directory is a complete view: a read-only lowerdir
for overlayfs, or a tree to explore. Each is built under ``tmp/``, gets its
``snapshot.json`` (with a digest of the tree) written last, then is renamed
into place, so a snapshot directory either is complete or does not exist.

The parent is copied as a farm of hard links, so a snapshot costs one inode
operation per file, not a copy of every byte. That is safe because nothing
ever writes into a snapshot file in place: ``apply_layer`` unlinks whatever
sits at an entry's name before writing it (a new inode), and overlayfs copies
a lower file up before changing it. The marker's digest covers the tree's
shape (paths, types, modes, owners, sizes, link targets) so building a
snapshot reads no file contents; ``fsck`` checks contents by rebuilding.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import time
from pathlib import Path

from layerlab.engine.errors import StoreError
from layerlab.engine.oci.digest import CHUNK, Digest
from layerlab.engine.store.core import StoreCore
from layerlab.engine.store.layout import fsync_dir
from layerlab.engine.store.records import StoredImage
from layerlab.engine.store.trees import remove_tree, tree_size

ROOTFS = "rootfs"
MARKER = "snapshot.json"


def ensure_chain(store: StoreCore, image: StoredImage) -> list[Path]:
    """Snapshot every prefix of the image; the rootfs dirs bottom to top (each complete on its own)."""
    return [ensure_snapshot(store, image, i) for i in range(len(image.layers()))]


def ensure_snapshot(store: StoreCore, image: StoredImage, upto_layer: int | None = None) -> Path:
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


def _complete(store: StoreCore, chain_id: Digest) -> bool:
    return (store.layout.snapshot(chain_id) / MARKER).is_file()


def _unpack(store: StoreCore, open_blob, parent: Digest | None, rootfs: Path) -> None:
    """The parent snapshot's tree (hard links) with the layer ``open_blob()`` reads applied, at ``rootfs``."""
    from layerlab.engine.layers.apply import apply_layer  # imported here so fsck and gc work without it loaded

    if parent is None:
        rootfs.mkdir()
    else:
        _copy_tree(store.layout.snapshot(parent) / ROOTFS, rootfs)
    with open_blob() as blob:
        apply_layer(blob, rootfs)


def rebuilt_matches(store: StoreCore, chain_id: Digest, hashed: dict) -> bool | None:
    """Whether the snapshot's files equal a fresh unpack of its layer over its parent (None: cannot tell).

    The parent is trusted here: fsck checks it on its own, and a file that
    came from a lower layer is shared by hard link, so a change to it shows
    at the snapshot whose layer wrote it.
    """
    row = store.meta.snapshot_row(chain_id)
    if row is None:
        return None
    parent = Digest.parse(row[0]) if row[0] else None
    blob = store.meta.blob_of_diff_id(row[1])
    if blob is None or not store.blobs.has(blob):
        return None
    if parent is not None and not _complete(store, parent):
        return None
    work = store.layout.new_temp(".fsck")
    work.mkdir()
    try:
        _unpack(store, lambda: store.blobs.open(blob), parent, work / ROOTFS)
        # Only inodes that outlive this call may enter the shared cache: the
        # fresh tree's own files are deleted below and their numbers reused.
        kept = tree_digest(store.layout.snapshot(chain_id) / ROOTFS, hashed=hashed)
        return kept == tree_digest(work / ROOTFS, hashed=_ReadThrough(hashed))
    finally:
        remove_tree(store.layout, work)


class _ReadThrough(dict):
    """A cache that reads from ``shared`` but keeps its own additions to itself."""

    def __init__(self, shared: dict):
        super().__init__()
        self.shared = shared

    def __missing__(self, key):
        if key in self.shared:
            return self.shared[key]
        raise KeyError(key)

    def __contains__(self, key):
        return dict.__contains__(self, key) or key in self.shared


def _build(store: StoreCore, layer, parent: Digest | None, fill=None) -> bool:
    """Make the snapshot of ``layer`` over ``parent``; ``fill(rootfs)`` may stand in for unpacking the blob.

    Returns False (nothing changed in the store) when ``fill`` declines.
    """
    work = store.layout.new_temp(".snapshot")
    rootfs = work / ROOTFS
    work.mkdir()
    try:
        if fill is None:
            _unpack(store, layer.open_blob, parent, rootfs)
        else:
            if parent is None:
                rootfs.mkdir()
            else:
                _copy_tree(store.layout.snapshot(parent) / ROOTFS, rootfs)
            if not fill(rootfs):
                return False
        marker = {"chain_id": str(layer.chain_id), "diff_id": str(layer.diff_id),
                  "parent": str(parent) if parent else None, "tree_digest": tree_digest(rootfs, contents=False),
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
        return True
    finally:
        if work.exists():
            remove_tree(store.layout, work)


def adopt_snapshot(store: StoreCore, image: StoredImage, staged: Path) -> bool:
    """Make the snapshot of ``image``'s top layer by moving ``staged`` into a copy of its parent.

    ``staged`` must hold exactly what the top layer's tar holds (it was written
    from this tree, with no owner override, and it has no whiteouts): moving
    it costs a rename per entry where unpacking the tar would write every
    file again. Returns False, building nothing, when the tree meets
    something in the parent a rename cannot settle as the tar would (a
    directory replacing a file or a symlink, or the reverse); the snapshot is
    then unpacked from the blob when it is first needed. ``staged`` is
    consumed either way.
    """
    layers = image.layers()
    top = len(layers) - 1
    if top < 0 or _complete(store, layers[top].chain_id):
        return True
    with store.lock.shared():
        parent = None
        if top:
            ensure_snapshot(store, image, top - 1)
            parent = layers[top - 1].chain_id
        if not _build(store, layers[top], parent, fill=lambda rootfs: _merge(staged, rootfs)):
            return False
        _record(store, layers, top)
    return True


def _merge(source: Path, target: Path) -> bool:
    """Move ``source``'s entries into ``target`` as applying their tar would place them."""
    for entry in os.scandir(source):
        destination = target / entry.name
        try:
            existing = os.lstat(destination)
        except FileNotFoundError:
            existing = None
        if entry.is_dir(follow_symlinks=False):
            if existing is None:
                os.rename(entry.path, destination)
                continue
            if not stat.S_ISDIR(existing.st_mode) or not _merge(Path(entry.path), destination):
                return False
            info = entry.stat(follow_symlinks=False)  # the tar's header for this directory wins
            os.chown(destination, info.st_uid, info.st_gid)
            os.chmod(destination, stat.S_IMODE(info.st_mode))
            os.utime(destination, ns=(info.st_atime_ns, info.st_mtime_ns))
            continue
        if existing is not None:
            if stat.S_ISDIR(existing.st_mode):
                return False
            os.unlink(destination)
        os.rename(entry.path, destination)
    return True


def _record(store: StoreCore, layers, top: int) -> None:
    with store.meta.transaction():
        for index in range(top + 1):
            layer = layers[index]
            if store.meta.has_snapshot(layer.chain_id):
                continue
            path = store.layout.snapshot(layer.chain_id)
            store.meta.add_snapshot(layer.chain_id, layers[index - 1].chain_id if index else None, layer.diff_id,
                                    tree_size(path))


def _copy_tree(source: Path, target: Path) -> None:
    """Copy the directory skeleton keeping owners, modes and xattrs; every non-directory becomes a hard link."""
    result = subprocess.run(["cp", "-a", "--link", str(source), str(target)], capture_output=True)
    if result.returncode != 0:
        raise StoreError(f"cannot copy snapshot {source}: {result.stderr.decode(errors='replace').strip()}")


def tree_digest(root: Path, *, contents: bool = True, hashed: dict | None = None) -> str:
    """A digest over every entry's path, type, mode, owner, size, link target and, with ``contents``, file bytes.

    Not times. ``hashed`` caches content hashes by inode across calls, so the
    hard links shared between snapshots are read once.
    """
    outer = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            rel = os.path.relpath(path, root)
            line = f"{rel}\0{stat.S_IFMT(info.st_mode)}\0{stat.S_IMODE(info.st_mode):o}\0{info.st_uid}\0{info.st_gid}"
            if stat.S_ISREG(info.st_mode):
                line += f"\0{info.st_size}"
                if contents:
                    key = (info.st_dev, info.st_ino, info.st_mtime_ns, info.st_size)
                    if hashed is None:
                        line += f"\0{_file_hash(path)}"
                    else:
                        if key not in hashed:
                            hashed[key] = _file_hash(path)
                        line += f"\0{hashed[key]}"
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
