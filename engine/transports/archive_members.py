"""Named files inside an archive tar or a directory, located without copying.

A docker-archive is a tar; an OCI layout is a directory (or a tar of one).
Readers ask a ``FileSource`` for a member by name and get back where its bytes
are (file, offset, size), so layers are hashed and ingested straight from the
archive. Member names that could escape (absolute, ``..``), links that point
outside, and members cut short by truncation are refused with the member named.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import tarfile
import tempfile
from pathlib import Path
from typing import BinaryIO, Protocol

from layerlab.engine.errors import ArchiveError, CorruptLayer, DigestMismatch, NotFound
from layerlab.engine.oci import mediatypes as mt
from layerlab.engine.oci.digest import Digest
from layerlab.engine.layers.compression import detect, open_decompressed
from layerlab.engine.record_type import record
from layerlab.engine.transports.memory import RangeLayer, open_range

# Small JSON members (manifest.json, configs, index.json) are read whole; cap them.
MAX_JSON_MEMBER = 64 << 20


@record(frozen=True)
class Located:
    path: str
    offset: int
    size: int


class FileSource(Protocol):
    label: str

    def locate(self, name: str) -> Located: ...

    def exists(self, name: str) -> bool: ...


def read_small(source: FileSource, name: str) -> bytes:
    where = source.locate(name)
    if where.size > MAX_JSON_MEMBER:
        raise ArchiveError(f"{source.label}: {name}: {where.size} bytes is too large for a JSON document")
    with open_range(where.path, where.offset, where.size) as stream:
        return stream.read()


def safe_member_name(name: str, label: str) -> str:
    """The normalized relative name, or ``ArchiveError`` for names that escape."""
    if name.startswith("/"):
        raise ArchiveError(f"{label}: unsafe member name {name!r} (absolute path)")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if ".." in parts:
        raise ArchiveError(f"{label}: unsafe member name {name!r} (contains '..')")
    return "/".join(parts)


class TarSource:
    """The members of an uncompressed tar file, indexed by normalized name."""

    def __init__(self, path: str | os.PathLike, label: str | None = None):
        self.path = str(path)
        self.label = label or self.path
        self._members: dict[str, tarfile.TarInfo] = {}
        file_size = os.path.getsize(self.path)
        try:
            with tarfile.open(self.path, "r:") as tar:
                for member in tar:
                    name = safe_member_name(member.name, self.label)
                    if member.isreg() and member.offset_data + member.size > file_size:
                        raise ArchiveError(f"{self.label}: truncated archive: member {member.name!r} is cut short")
                    if member.issym() or member.islnk():
                        self._check_link(name, member)
                    self._members[name] = member
        except tarfile.TarError as error:
            raise ArchiveError(f"{self.label}: not a valid tar archive: {error}") from None
        except EOFError:
            raise ArchiveError(f"{self.label}: truncated archive") from None
        if not self._members:
            raise ArchiveError(f"{self.label}: empty archive")

    def _link_target(self, name: str, member: tarfile.TarInfo) -> str:
        if member.islnk():
            target = member.linkname
        else:
            if member.linkname.startswith("/"):
                raise ArchiveError(f"{self.label}: unsafe link {member.name!r} -> {member.linkname!r}")
            target = posixpath.join(posixpath.dirname(name), member.linkname)
        normalized = posixpath.normpath(target)
        if normalized.startswith("../") or normalized == ".." or normalized.startswith("/"):
            raise ArchiveError(f"{self.label}: unsafe link {member.name!r} -> {member.linkname!r} leaves the archive")
        return normalized

    def _check_link(self, name: str, member: tarfile.TarInfo) -> None:
        self._link_target(name, member)

    def exists(self, name: str) -> bool:
        return safe_member_name(name, self.label) in self._members

    def names(self) -> list[str]:
        return list(self._members)

    def locate(self, name: str) -> Located:
        key = safe_member_name(name, self.label)
        for _ in range(16):  # follow symlinks / hardlinks between members, as docker save writes them
            member = self._members.get(key)
            if member is None:
                raise ArchiveError(f"{self.label}: missing member {name!r}")
            if member.isreg():
                return Located(self.path, member.offset_data, member.size)
            if member.issym() or member.islnk():
                key = self._link_target(key, member)
                continue
            raise ArchiveError(f"{self.label}: member {name!r} is not a regular file")
        raise ArchiveError(f"{self.label}: member {name!r}: too many levels of links")


class DirectorySource:
    """Files under a directory (an OCI image layout on disk)."""

    def __init__(self, path: str | os.PathLike):
        self.root = Path(path)
        self.label = str(path)

    def _path(self, name: str) -> Path:
        relative = safe_member_name(name, self.label)
        full = (self.root / relative)
        resolved = full.resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise ArchiveError(f"{self.label}: {name!r} leads outside the layout")
        return resolved

    def exists(self, name: str) -> bool:
        return self._path(name).is_file()

    def locate(self, name: str) -> Located:
        path = self._path(name)
        if not path.is_file():
            raise ArchiveError(f"{self.label}: missing file {name!r}")
        return Located(str(path), 0, path.stat().st_size)


def spool(stream: BinaryIO, directory: str | None = None) -> str:
    """Copy a (possibly compressed) stream into a temp tar file; the caller deletes it."""
    reader = stream if hasattr(stream, "peek") else __import__("io").BufferedReader(stream, 1 << 20)
    # "<pid>-" names let the store tell live scratch from what a killed process left behind.
    fd, path = tempfile.mkstemp(prefix=f"{os.getpid()}-archive-", suffix=".tar", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            shutil.copyfileobj(open_decompressed(reader), out, 1 << 20)
    except BaseException:
        os.unlink(path)
        raise
    return path


def is_compressed_file(path: str | os.PathLike) -> bool:
    try:
        with open(path, "rb") as handle:
            return detect(handle.read(8)) != "none"
    except FileNotFoundError:
        raise NotFound(f"{path}: no such file") from None



class LayerVerifier:
    """Hashes layer members once each and checks them against what the image claims."""

    def __init__(self, source: FileSource):
        self.source = source
        self._cache: dict[Located, tuple[Digest, Digest, str | None]] = {}

    def _measure(self, name: str, where: Located) -> tuple[Digest, Digest, str | None]:
        if where not in self._cache:
            try:
                with open_range(where.path, where.offset, where.size) as stream:
                    compression = detect(stream.peek(8)[:8])
                    digest = Digest.of_stream(stream)
                diff_id = digest
                if compression != "none":
                    with open_decompressed(open_range(where.path, where.offset, where.size)) as stream:
                        diff_id = Digest.of_stream(stream)
            except (OSError, EOFError, ValueError, CorruptLayer) as error:
                raise ArchiveError(f"{self.source.label}: {name}: unreadable layer: {error}") from None
            self._cache[where] = (digest, diff_id, compression)
        return self._cache[where]

    def layer(self, name: str, diff_id: Digest, *, digest: Digest | None = None, media_type: str = "",
              oci: bool = False) -> RangeLayer:
        """The member ``name`` as a layer, verified against ``diff_id`` (and ``digest`` when known)."""
        where = self.source.locate(name)
        actual_digest, actual_diff_id, compression = self._measure(name, where)
        label = f"{self.source.label}: {name}"
        if digest is not None and actual_digest != digest:
            raise DigestMismatch(f"{label}: layer blob", str(digest), str(actual_digest))
        if actual_diff_id != diff_id:
            raise DigestMismatch(f"{label}: layer diff_id", str(diff_id), str(actual_diff_id))
        if not media_type:
            if compression not in ("none", "gzip", "zstd"):  # no media type names bzip2 or xz layers
                raise ArchiveError(f"{label}: {compression}-compressed layers are not supported (use gzip or zstd)")
            media_type = mt.layer_media_type(compression, oci=oci)
        return RangeLayer(where.path, where.offset, where.size, actual_digest, actual_diff_id, media_type)


def read_verified(source: FileSource, name: str, digest: Digest) -> bytes:
    """A small blob whose sha256 must be ``digest``."""
    data = read_small(source, name)
    actual = Digest.of_bytes(data)
    if actual != digest:
        raise DigestMismatch(f"{source.label}: {name}", str(digest), str(actual))
    return data
