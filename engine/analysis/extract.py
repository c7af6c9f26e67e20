"""Read or copy out one file or directory of an image without exporting the image.

Entries remember where their bytes start in the uncompressed layer tar, so
reading a file streams one layer up to that offset; copying a directory
streams each layer it needs once, in offset order.
"""

from __future__ import annotations

import hashlib
import os
import posixpath
import shutil
import stat
from pathlib import Path
from typing import BinaryIO, Callable, Iterable

from layerlab.engine.layers import tarscan
from layerlab.engine.analysis.image_pass import ImageAnalysis, StackedTree
from layerlab.engine.analysis.model import EntryInfo
from layerlab.engine.errors import CorruptLayer, NotFound, UsageError

_MAX_SYMLINK_HOPS = 40
_CHUNK = 1 << 20


def _skip(stream: BinaryIO, count: int) -> None:
    if count <= 0:
        return
    try:
        if stream.seekable():
            stream.seek(count, os.SEEK_CUR)
            return
    except (OSError, ValueError, AttributeError):
        pass
    while count > 0:
        chunk = stream.read(min(_CHUNK, count))
        if not chunk:
            raise CorruptLayer("layer ended before the file's data")
        count -= len(chunk)


def _chunks(stream: BinaryIO, size: int) -> Iterable[bytes]:
    while size > 0:
        chunk = stream.read(min(_CHUNK, size))
        if not chunk:
            raise CorruptLayer("layer ended inside a file's data")
        size -= len(chunk)
        yield chunk


def _finish(stream: BinaryIO) -> None:
    """Go to the end: a source that checks its digest does so there, so damage fails the command.

    A plain file (nothing left to check) seeks there at once; a checking stream refuses that seek
    and is read through.
    """
    try:
        stream.seek(0, os.SEEK_END)
        return
    except (OSError, ValueError, AttributeError):
        pass
    while stream.read(_CHUNK):
        pass


def read_entries(analysis: ImageAnalysis, entry_indices: Iterable[int],
                 consume: Callable[[int, Iterable[bytes]], None]) -> None:
    """Call ``consume(entry, chunks)`` for each regular-file entry, one pass per layer."""
    by_layer: dict[int, list[int]] = {}
    entries = analysis.entries
    for index in set(entry_indices):
        by_layer.setdefault(entries.layer[index], []).append(index)
    for layer, wanted in sorted(by_layer.items()):
        wanted.sort(key=lambda index: entries.offset[index])
        source = analysis.sources[layer]
        position = 0
        with source.open() as stream:
            for index in wanted:
                offset, size = entries.offset[index], entries.size[index]
                _skip(stream, offset - position)
                consume(index, _chunks(stream, size))
                position = offset + size
            _finish(stream)


def resolve(tree: StackedTree, path: str, *, follow_last: bool = True) -> tuple[str, EntryInfo | None]:
    """Resolve symlinks inside the image (absolute targets are the image's root)."""
    pending = [part for part in tarscan.clean_path(path).split("/") if part]
    resolved: list[str] = []
    hops = 0
    while pending:
        part = pending.pop(0)
        candidate = "/" + "/".join(resolved + [part])
        try:
            entry = tree.entry(candidate)
        except NotFound:
            raise NotFound(f"{path}: no such file in the image as of layer {tree.layer}") from None
        if entry is not None and entry.type == tarscan.SYMLINK and (pending or follow_last):
            hops += 1
            if hops > _MAX_SYMLINK_HOPS:
                raise UsageError(f"{path}: too many levels of symbolic links")
            target = entry.linkname
            base = [] if target.startswith("/") else resolved
            pending = [p for p in tarscan.clean_path("/".join(base + [target.lstrip("/")])).split("/") if p] + pending
            resolved = []
            continue
        resolved.append(part)
    final = "/" + "/".join(resolved)
    return final, tree.entry(final) if resolved else None


def _content_entry(analysis: ImageAnalysis, tree: StackedTree, path: str, entry: EntryInfo | None) -> EntryInfo:
    if entry is None or entry.is_dir:
        raise UsageError(f"{path}: is a directory")
    if entry.type == tarscan.HARDLINK:
        target_tree = analysis.tree(entry.layer)
        target = target_tree.entry("/" + tarscan.clean_path(entry.linkname))
        if target is None or target.type != tarscan.REGULAR:
            raise NotFound(f"{path}: hard link to {entry.linkname}, which is not a regular file")
        return target
    if entry.type != tarscan.REGULAR:
        raise UsageError(f"{path}: is a {entry.type_name}, not a regular file")
    return entry


def cat(analysis: ImageAnalysis, path: str, out: BinaryIO, *, layer: int | None = None) -> int:
    """Write the content of ``path`` (symlinks followed) as of ``layer`` to ``out``; returns bytes written."""
    tree = analysis.tree(layer)
    real_path, entry = resolve(tree, path)
    entry = _content_entry(analysis, tree, real_path, entry)
    written = 0

    def consume(_index: int, chunks: Iterable[bytes]) -> None:
        nonlocal written
        for chunk in chunks:
            out.write(chunk)
            written += len(chunk)

    read_entries(analysis, [entry.index], consume)
    return written


def read_bytes(analysis: ImageAnalysis, entry: EntryInfo, limit: int | None = None) -> bytes:
    """The content of one regular-file entry (at most ``limit`` bytes are kept)."""
    parts: list[bytes] = []

    def consume(_index: int, chunks: Iterable[bytes]) -> None:
        kept = 0
        for chunk in chunks:
            if limit is None or kept < limit:
                parts.append(chunk if limit is None else chunk[: limit - kept])
                kept += len(parts[-1])

    read_entries(analysis, [entry.index], consume)
    return b"".join(parts)


def content_digests(analysis: ImageAnalysis, entries: Iterable[int]) -> dict[int, str]:
    """sha256 of each regular-file entry's content."""
    digests: dict[int, str] = {}

    def consume(index: int, chunks: Iterable[bytes]) -> None:
        hasher = hashlib.sha256()
        for chunk in chunks:
            hasher.update(chunk)
        digests[index] = hasher.hexdigest()

    read_entries(analysis, entries, consume)
    return digests


def _inside(root: Path, candidate: Path) -> bool:
    real_root = os.path.realpath(root)
    real = os.path.realpath(candidate)
    return real == real_root or real.startswith(real_root + os.sep)


def copy_out(analysis: ImageAnalysis, path: str, dest: Path, *, layer: int | None = None) -> int:
    """Copy ``path`` (a file or a whole directory) out of the image to ``dest``, like ``docker cp``.

    When ``dest`` is an existing directory the copy goes inside it. Symlinks
    are copied as links and never followed while writing; devices are
    skipped; modes keep their permission bits (never set-id). Returns the
    number of paths written.
    """
    tree = analysis.tree(layer)
    real_path, entry = resolve(tree, path, follow_last=False)
    name = posixpath.basename(real_path) or "root"
    target = dest / name if dest.is_dir() else dest
    if not target.parent.is_dir():
        raise NotFound(f"{target.parent}: no such directory")
    existed = os.path.lexists(target)
    try:
        return _copy_out(analysis, tree, real_path, entry, target, dest)
    except BaseException:
        # A failed copy (a damaged layer found at the end of its read) leaves nothing it made behind.
        if not existed and os.path.lexists(target):
            if os.path.isdir(target) and not os.path.islink(target):
                shutil.rmtree(target, ignore_errors=True)
            else:
                os.unlink(target)
        raise


def _copy_out(analysis: ImageAnalysis, tree: StackedTree, real_path: str, entry: EntryInfo | None, target: Path,
              dest: Path) -> int:
    items: list[tuple[str, EntryInfo | None]]
    if entry is None or entry.is_dir:
        items = [(p, e) for p, e in tree.walk(real_path)] if real_path != "/" else list(tree.walk("/"))
        prefix = real_path.rstrip("/")
        if real_path == "/":
            items = [("/", None)] + items
    else:
        items = [(real_path, entry)]
        prefix = real_path
    files: dict[int, list[Path]] = {}
    links: list[tuple[Path, str]] = []
    written = 0
    for item_path, item in items:
        relative = item_path[len(prefix):].lstrip("/") if item_path != prefix else ""
        out_path = target / relative if relative else target
        if not _inside(target.parent, out_path.parent) or (
                relative and (out_path.parent.is_symlink() or not out_path.parent.is_dir())):
            raise UsageError(f"{item_path}: its parent is not a directory in the image; not copied outside {dest}")
        if item is None or item.is_dir:
            out_path.mkdir(exist_ok=True)
            if item is not None:
                os.chmod(out_path, (item.mode & 0o777) | 0o700)
            written += 1
        elif item.type == tarscan.SYMLINK:
            links.append((out_path, item.linkname))
        elif item.type in (tarscan.REGULAR, tarscan.HARDLINK):
            source = _content_entry(analysis, tree, item_path, item)
            files.setdefault(source.index, []).append(out_path)
            descriptor = os.open(out_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            try:
                os.fchmod(descriptor, (item.mode & 0o777) or 0o600)  # the image's mode, whatever the umask
            finally:
                os.close(descriptor)
            written += 1

    def consume(index: int, chunks: Iterable[bytes]) -> None:
        outputs = [open(os.open(p, os.O_WRONLY | os.O_TRUNC | os.O_NOFOLLOW), "wb") for p in files[index]]
        try:
            for chunk in chunks:
                for handle in outputs:
                    handle.write(chunk)
        finally:
            for handle in outputs:
                handle.close()

    read_entries(analysis, files, consume)
    for out_path, link_target in links:
        if os.path.lexists(out_path):
            if stat.S_ISDIR(os.lstat(out_path).st_mode):
                raise UsageError(f"{out_path}: a directory is in the way of a symlink")
            os.unlink(out_path)
        os.symlink(link_target, out_path)
        written += 1
    return written
