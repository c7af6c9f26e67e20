"""ADD of a local tar: recognised by content, unpacked safely into the destination.

As in Docker's classic builder, a source is an archive when, after
decompression (gzip, bzip2, xz, zstd or none, detected by the magic bytes),
a first tar header can be read; anything else -- including an empty tar --
is copied as a plain file. Entries keep the owners, modes and mtimes the tar
gives them (``--chown`` does not apply to them, as in Docker); directories
the tar implies without listing are created 0755 root:root, or staged with
the image's own metadata when the image already has them. Unpacking goes
through ``apply_layer``, so no entry can land outside the destination and
symlinks resolve with the destination as their root, as under Docker's
chrooted unpack.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from layerlab.engine.builder.copy.tree import Staging
from layerlab.engine.errors import BuildError, LayerError
from layerlab.engine.layers.compression import open_decompressed
from layerlab.engine.layers.tarscan import scan
from layerlab.engine import long_paths
from layerlab.engine.deep_trees import walk_tree


def is_archive(path: Path) -> bool:
    """True when ``path`` holds a (possibly compressed) tar with at least one entry."""
    try:
        with open(path, "rb") as blob, open_decompressed(blob) as stream:
            return next(scan(stream, where=path.name), None) is not None
    except (LayerError, OSError, EOFError, ValueError):
        return False


def _listed_names(path: Path) -> set[str]:
    with open(path, "rb") as blob, open_decompressed(blob) as stream:
        return {entry.path for entry in scan(stream, where=path.name)}


def extract_archive(path: Path, staging: Staging, dest_rel: str, *, command: str) -> None:
    """Unpack the tar at ``path`` into the staged physical directory ``dest_rel``."""
    from layerlab.engine.layers.apply import apply_layer  # tarfile loads only for an ADD of an archive

    staging.ensure_dirs(dest_rel, mode=0o755, owner=(0, 0))
    target = Path(staging.host(dest_rel))
    staged_before = set(_directories(target))
    try:
        with open(path, "rb") as blob:
            apply_layer(blob, target)
        listed = _listed_names(path)
    except LayerError as error:
        raise BuildError(f"{command} failed: {path.name}: {error}") from None
    _fix_implied_dirs(staging, dest_rel, target, listed | staged_before)


def _directories(target: Path):
    """Target-relative paths of the real directories under ``target`` (symlinks not followed)."""
    for directory, subdirs, _files in walk_tree(target):
        for name in subdirs:
            full = os.path.join(directory, name)
            if not stat.S_ISLNK(long_paths.lstat(full).st_mode):
                yield full[len(os.fspath(target)) + 1:]


def _fix_implied_dirs(staging: Staging, dest_rel: str, target: Path, keep: set[str]) -> None:
    """Directories the unpack created without a tar entry: Docker's 0755 root, or the image's own."""
    for inner in list(_directories(target)):
        if inner in keep:
            continue
        full = os.path.join(target, inner)
        rel = f"{dest_rel}/{inner}" if dest_rel else inner
        image_st = staging.in_image(rel)
        if image_st is not None and stat.S_ISDIR(image_st.st_mode):
            long_paths.chmod(full, stat.S_IMODE(image_st.st_mode))
            staging.set_owner(rel, (image_st.st_uid, image_st.st_gid))
        else:
            long_paths.chmod(full, 0o755)
            staging.set_owner(rel, (0, 0))
