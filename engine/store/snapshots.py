"""Snapshots: each layer unpacked on its own, in overlayfs' form, once per chain ID.

``snapshots/<chain-hex>/layer`` holds only the files of the layer the chain
ID ends with, as containerd's overlay snapshotter keeps them: a deleted name
is a 0/0 character device, a directory replaced wholesale carries the
opaque xattr (``names.opaque_xattr_for``). A RUN stacks the chain's layer
directories as overlay lowerdirs; everything else reads them through
``layers.stack.LayerStack``. So a new layer costs what its own files cost,
never the whole image.

Each snapshot is built under ``tmp/``, gets its ``snapshot.json`` written
last, then is renamed into place, so a snapshot directory either is
complete or does not exist. A step that already holds its layer's tree (a
COPY's staged files, a RUN's upperdir) moves it into place instead of
unpacking the tar it just wrote (``adopt_layer``).

``directories.json`` next to it maps each directory of ``layer/`` to the digest of its own entries
(``trees.fingerprint_tree``), written with the marker or after the first whole check of a snapshot
made before it: a step that only looks up a few paths checks just the directories it reads.

``merged/`` next to ``layer/`` is an optional cache: the whole tree of the
chain up to that layer, as hard links into the layer directories, made only
for readers that need one directory (``COPY --from``, a stack deeper than an
overlay mount takes).
"""

from __future__ import annotations

import errno
import json
import os
import time
from pathlib import Path
from typing import TYPE_CHECKING

from layerlab.engine.errors import DigestMismatch, StoreError
from layerlab.engine.layers.names import opaque_xattr_for
from layerlab.engine.oci.digest import Digest
from layerlab.engine.store.core import StoreCore
from layerlab.engine.store.records import StoredImage, StoredLayer
from layerlab.engine.store.trees import directory_digest, fingerprint_tree, remove_tree, tree_size

if TYPE_CHECKING:
    from layerlab.engine.layers.stack import LayerStack

LAYER = "layer"
MERGED = "merged"
MARKER = "snapshot.json"
DIRECTORIES = "directories.json"
FORMAT = 2
# An overlay mount takes at most 500 lowerdirs, and Docker's overlay2 stops at 128; past
# MAX_STACK the bottom of a chain is mounted as one flattened tree. Flattening whole blocks
# of FLATTEN_BLOCK layers lets one cached tree serve the next FLATTEN_BLOCK steps.
MAX_STACK = 120
FLATTEN_BLOCK = 32


def ensure_layers(store: StoreCore, image: StoredImage, upto_layer: int | None = None, *,
                  whole: bool = True) -> list[Path]:
    """The layer directories of ``image`` up to ``upto_layer`` (default: all), bottom to top.

    ``whole``: the caller exposes the whole trees (an overlay mount, a merged tree, a copy), so each
    reused snapshot's files are checked in full first (``check_reused``); else only the blobs' stamps,
    and the caller checks the directories it reads (``lookup_stack``)."""
    layers = _prefix(image, upto_layer)
    with store.lock.shared():
        missing = [index for index, layer in enumerate(layers) if not is_complete(store, layer.chain_id)]
        for index in missing:
            _build(store, layers[index], layers[index - 1].chain_id if index else None)
        if missing:
            _record(store, layers)
        for layer in layers:
            if whole:
                check_reused(store, layer)
            else:
                _check_blob(store, layer)
    return [layer_dir(store, layer.chain_id) for layer in layers]


def lookup_stack(store: StoreCore, image: StoredImage) -> LayerStack:
    """``image``'s layers as a ``LayerStack`` that checks each reused snapshot directory it reads.

    Where the check belongs: a step that looks up a few paths (WORKDIR, COPY's destination, a --chown
    name in /etc/passwd) reads a few directories, so it checks those, against the digests recorded
    when the snapshot was made, and nothing else: checking the whole base (one lstat per file, ~45 ms
    on a 9,000-file Debian) belongs to the first reader of whole trees: COPY --from's merged tree and
    ``run`` before they read them, a RUN while its container runs (it keeps nothing until the check
    passed). Damage is refused as soon as any step reads it, and never goes into a layer or a cache
    record."""
    from layerlab.engine.layers.stack import LayerStack

    dirs = ensure_layers(store, image, whole=False)
    by_dir = dict(zip(dirs, _prefix(image, None)))
    return LayerStack.of(dirs, lambda layer, rel: check_directory(store, by_dir[layer], rel))


def check_layers(store: StoreCore, image: StoredImage) -> None:
    """``check_reused`` for each of ``image``'s layers: what ``ensure_layers`` does with ``whole``."""
    for layer in image.layers():
        check_reused(store, layer)


# What this process checked, per (store root, chain ID): a snapshot made or checked is trusted from then on
_checked: set[tuple[str, str]] = set()           # its blob and its whole tree
_blobs_checked: set[tuple[str, str]] = set()     # its blob
_directories_checked: set[tuple[str, str, str]] = set()   # one directory of its tree
_directory_digests: dict[tuple[str, str], dict[str, str] | None] = {}


def check_reused(store: StoreCore, layer: StoredLayer) -> None:
    """Refuse a snapshot, or the blob it stands for, that changed since it was made (once per process).

    A snapshot is reused without reading its blob again, so damage to either would go into every
    image built on it: the blob is rehashed, and the snapshot's fingerprint (taken when it was made
    from a checked blob) taken again. Raises ``DigestMismatch`` or ``StoreError`` naming the layer."""
    key = (str(store.layout.root), str(layer.chain_id))
    if key in _checked:
        return
    _verify_blob(store, layer)
    path = store.layout.snapshot(layer.chain_id)
    recorded = read_marker(path).get("fingerprint")
    if recorded is not None:
        directories: dict[str, str] = {}
        if fingerprint_tree(path / LAYER, directories)[1] != recorded:
            raise _changed(layer)
        if not (path / DIRECTORIES).is_file():  # made before directory digests: record them, now checked
            _write_directories(path, directories)
    _checked.add(key)


def check_directory(store: StoreCore, layer: StoredLayer, rel: str | None) -> None:
    """Refuse a snapshot whose directory ``rel`` (None: any part) changed since it was made (once per
    process and directory). A snapshot recorded without directory digests is checked whole."""
    root, chain = str(store.layout.root), str(layer.chain_id)
    if (root, chain) in _checked or (root, chain, rel) in _directories_checked:
        return
    if (root, chain) not in _directory_digests:
        _directory_digests[(root, chain)] = _load_directories(store.layout.snapshot(layer.chain_id))
    digests = _directory_digests[(root, chain)]
    if rel is None or digests is None:
        check_reused(store, layer)
        return
    if directory_digest(layer_dir(store, layer.chain_id), rel) != digests.get(rel):
        raise _changed(layer)
    _directories_checked.add((root, chain, rel))


def _changed(layer: StoredLayer) -> StoreError:
    return StoreError(f"snapshot of layer {layer.digest} (chain {layer.chain_id}) changed on disk since it "
                      "was unpacked; `layerlab fsck` names the files")


def _check_blob(store: StoreCore, layer: StoredLayer) -> None:
    """``_verify_blob``, once per process."""
    key = (str(store.layout.root), str(layer.chain_id))
    if key not in _blobs_checked and key not in _checked:
        _verify_blob(store, layer)
        _blobs_checked.add(key)


def forget_checks() -> None:
    """Trust nothing checked so far, as a new process starts."""
    for checks in (_checked, _blobs_checked, _directories_checked, _directory_digests):
        checks.clear()


def _verify_blob(store: StoreCore, layer: StoredLayer) -> None:
    """Refuse a blob that changed since its snapshot was made from it."""
    path = store.layout.snapshot(layer.chain_id)
    marker = read_marker(path)
    # The blob is rehashed unless its inode, size and mtime are those it had when the snapshot was made
    # from it: hashing a base layer (hundreds of MB) in every build would cost more than the build. A
    # change that keeps both (``touch -r``) is for fsck, as for the snapshot's own files.
    stamp = _blob_stamp(store, layer)
    if stamp is not None and marker.get("blob_stamp") != stamp:
        actual = store.blobs.verify(layer.digest)
        if actual != layer.digest:
            raise DigestMismatch(f"layer {layer.digest} (damaged in the store; fsck names it)",
                                 str(layer.digest), str(actual))
        _restamp(path, marker, stamp)


def _load_directories(path: Path) -> dict[str, str] | None:
    try:
        with open(path / DIRECTORIES) as stream:
            digests = json.load(stream)
    except (OSError, ValueError):
        return None
    return digests if isinstance(digests, dict) else None


def _write_directories(path: Path, digests: dict[str, str]) -> None:
    """Replaced whole, so a reader sees no map or the complete one."""
    temp = path / (DIRECTORIES + f".{os.getpid()}.tmp")
    try:
        temp.write_text(json.dumps(digests, sort_keys=True, separators=(",", ":")))
        os.replace(temp, path / DIRECTORIES)
    except OSError:
        temp.unlink(missing_ok=True)  # a read-only store stays correct, only slower


def _restamp(path: Path, marker: dict, stamp: list[int]) -> None:
    """Record the stamp of a blob just checked in full in its snapshot's marker (replaced whole, so a
    reader sees the old marker or the new one), so a snapshot made before stamps pays the hash once."""
    temp = path / (MARKER + f".{os.getpid()}.tmp")
    try:
        temp.write_text(json.dumps({**marker, "blob_stamp": stamp}, sort_keys=True))
        os.replace(temp, path / MARKER)
    except OSError:
        temp.unlink(missing_ok=True)  # a read-only store stays correct, only slower


def _blob_stamp(store: StoreCore, layer: StoredLayer) -> list[int] | None:
    """[inode, size, mtime in ns] of the layer's blob (a hard-linked copy of the store keeps all three;
    an edit in place moves the mtime, a replacement the inode); None when the store has no blob for it."""
    try:
        st = os.stat(store.blobs.path(layer.digest))
    except FileNotFoundError:
        return None
    return [st.st_ino, st.st_size, st.st_mtime_ns]


def layer_stack(store: StoreCore, image: StoredImage, upto_layer: int | None = None, *,
                whole: bool = True) -> list[Path]:
    """``ensure_layers``, with a chain deeper than ``MAX_STACK`` starting from one flattened tree.
    ``whole`` False: the caller runs ``check_layers`` itself before it keeps anything read from them."""
    dirs = ensure_layers(store, image, upto_layer, whole=whole)
    if len(dirs) <= MAX_STACK:
        return dirs
    flat = -(-(len(dirs) - MAX_STACK + 1) // FLATTEN_BLOCK) * FLATTEN_BLOCK
    return [merged_tree(store, image, flat - 1), *dirs[flat:]]


def merged_tree(store: StoreCore, image: StoredImage, upto_layer: int | None = None) -> Path:
    """The whole tree of ``image`` up to ``upto_layer`` in one directory (made once, then cached).

    Costs one hard link per file the first time; for the readers that need a
    single directory, never for a build step's own layer.
    """
    from layerlab.engine.layers.stack import flatten

    layers = _prefix(image, upto_layer)
    dirs = ensure_layers(store, image, upto_layer)
    target = store.layout.snapshot(layers[-1].chain_id) / MERGED
    if target.is_dir():
        return target
    with store.lock.shared():
        work = store.layout.new_temp(".merged")
        work.mkdir()
        try:
            flatten(dirs, work / MERGED)
            try:
                os.rename(work / MERGED, target)
            except OSError:
                if not target.is_dir():  # a peer finishing first is fine; anything else is not
                    raise
        finally:
            remove_tree(store.layout, work)
    return target


def _prefix(image: StoredImage, upto_layer: int | None) -> list[StoredLayer]:
    layers = list(image.layers())
    if not layers:
        raise StoreError(f"image {image.id.short} has no layers to unpack")
    top = len(layers) - 1 if upto_layer is None else upto_layer
    if not 0 <= top < len(layers):
        raise StoreError(f"image {image.id.short} has no layer {upto_layer} (it has {len(layers)})")
    return layers[: top + 1]


def layer_dir(store: StoreCore, chain_id: Digest) -> Path:
    return store.layout.snapshot(chain_id) / LAYER


def is_complete(store: StoreCore, chain_id: Digest) -> bool:
    try:
        return (store.layout.snapshot(chain_id) / MARKER).stat().st_size > 0
    except FileNotFoundError:
        return False


def unpack_layer(open_blob, diff_id: Digest, target: Path) -> None:
    """Unpack one layer blob on its own, in overlay form, at ``target``; its diff ID is checked."""
    from layerlab.engine.layers.apply import apply_layer  # imported here so fsck and gc work without it loaded

    with open_blob() as blob:
        stats = apply_layer(blob, target, keep_whiteouts=opaque_xattr_for(os.geteuid()))
    if stats.diff_id != diff_id:
        raise StoreError(f"layer {diff_id} unpacks to a tar with diff ID {stats.diff_id}")


def _build(store: StoreCore, layer: StoredLayer, parent: Digest | None, staged: Path | None = None) -> None:
    """Make the snapshot of ``layer``: unpack its blob, or move ``staged`` (its exact tree) into place."""
    work = store.layout.new_temp(".snapshot")
    work.mkdir()
    try:
        if staged is None:
            unpack_layer(layer.open_blob, layer.diff_id, work / LAYER)
        else:
            os.rename(staged, work / LAYER)
        directories: dict[str, str] = {}
        size, fingerprint = fingerprint_tree(work / LAYER, directories)
        marker = {"format": FORMAT, "chain_id": str(layer.chain_id), "diff_id": str(layer.diff_id),
                  "parent": str(parent) if parent else None, "opaque_xattr": opaque_xattr_for(os.geteuid()),
                  "created": time.time(), "size": size, "fingerprint": fingerprint,
                  "blob_stamp": _blob_stamp(store, layer)}  # the blob was just read or written whole
        # No fsync: a snapshot is a cache of its blob, which is durable. The rename makes it appear
        # whole to every other process; after a power loss fsck names a damaged one, and a marker
        # that never reached the disk (empty) counts as no snapshot (see is_complete).
        _write_directories(work, directories)
        (work / MARKER).write_text(json.dumps(marker, sort_keys=True))
        target = store.layout.snapshot(layer.chain_id)
        try:
            os.rename(work, target)
            _checked.add((str(store.layout.root), str(layer.chain_id)))
        except OSError:
            if not is_complete(store, layer.chain_id):  # a peer finishing first is fine; anything else is not
                raise
    finally:
        if work.exists():
            remove_tree(store.layout, work)


def adopt_layer(store: StoreCore, image: StoredImage, staged: Path) -> None:
    """Make the snapshot of ``image``'s top layer by moving ``staged`` into place.

    ``staged`` must hold exactly what the top layer's tar holds, in overlay
    form: the tree a COPY wrote its tar from, or the upperdir of the RUN
    whose changes the tar records. Moving it costs one rename where
    unpacking the tar would write every file again. ``staged`` is consumed
    (left in place when the snapshot already exists).
    """
    layers = list(image.layers())
    if not layers or is_complete(store, layers[-1].chain_id):
        return
    parent = layers[-2].chain_id if len(layers) > 1 else None
    with store.lock.shared():
        try:
            _build(store, layers[-1], parent, staged=staged)
        except OSError as error:
            if error.errno != errno.EXDEV:
                raise
            _build(store, layers[-1], parent)  # staged on another file system: unpack the blob instead
        _record(store, layers)


def _record(store: StoreCore, layers: list[StoredLayer]) -> None:
    with store.meta.transaction():
        for index, layer in enumerate(layers):
            if store.meta.has_snapshot(layer.chain_id):
                continue
            store.meta.add_snapshot(layer.chain_id, layers[index - 1].chain_id if index else None, layer.diff_id,
                                    _size_of(store, layer.chain_id))


def _size_of(store: StoreCore, chain_id: Digest) -> int:
    """The size the snapshot's marker recorded (measured while it was made), else measured now."""
    try:
        size = read_marker(store.layout.snapshot(chain_id)).get("size")
    except (OSError, ValueError):
        size = None
    return size if isinstance(size, int) else tree_size(layer_dir(store, chain_id))


def read_marker(path: Path) -> dict:
    with open(path / MARKER) as stream:
        return json.load(stream)


def layer_differences(store: StoreCore, chain_id: Digest, diff_id: str) -> list[str] | None:
    """How the layer directory of ``chain_id`` differs from its blob ([] when equal); None: no blob to compare."""
    from layerlab.engine.layers.dircheck import layer_dir_differences

    blob_digest = store.meta.blob_of_diff_id(diff_id)
    if blob_digest is None or not store.blobs.has(blob_digest):
        return None
    with store.blobs.open(blob_digest) as blob:
        return layer_dir_differences(blob, layer_dir(store, chain_id), owners=os.geteuid() == 0)
