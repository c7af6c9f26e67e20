"""Reading layer tars into comparable rows, and making an image rootfs from layers."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from pathlib import Path

from layerlab.engine.layers.apply import apply_layer
from layerlab.engine.layers.write import write_layer_from_dir

_TYPES = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink",
          tarfile.LNKTYPE: "hardlink", tarfile.FIFOTYPE: "fifo"}


def layer_rows(blob: bytes) -> dict[str, tuple]:
    """path -> (type, mode, uid, gid, size, content sha256, link target, mtime or None for a directory)."""
    rows = {}
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:*") as archive:
        for member in archive:
            kind = _TYPES.get(member.type, member.type)
            content = ""
            if member.isfile():
                content = hashlib.sha256(archive.extractfile(member).read()).hexdigest()[:16]
            mtime = None if kind == "dir" else int(member.mtime)
            rows[member.name.rstrip("/")] = (kind, oct(member.mode & 0o7777), member.uid, member.gid, member.size, content,
                                            member.linkname, mtime)
    return rows


def staged_rows(out_dir: Path) -> dict[str, tuple]:
    buffer = io.BytesIO()
    write_layer_from_dir(out_dir, buffer)
    return layer_rows(buffer.getvalue())


def docker_layers(archive: Path) -> list[bytes]:
    """The layer tars of the one image in a ``docker save`` archive, base first."""
    with tarfile.open(archive) as saved:
        manifest = json.load(saved.extractfile("manifest.json"))
        return [saved.extractfile(name).read() for name in manifest[0]["Layers"]]


def rootfs_from(layers: list[bytes], target: Path) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for layer in layers:
        apply_layer(io.BytesIO(layer), target)
    return target
