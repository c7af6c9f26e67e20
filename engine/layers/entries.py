"""Streaming a layer tar's members with their bytes, for applying it to disk (``apply``, COPY of archives).

Listing entries without their bytes is ``layerlab.engine.layers.tarscan``'s job.
"""

from __future__ import annotations

import tarfile
from typing import BinaryIO, Iterator

from layerlab.engine.errors import CorruptLayer
from layerlab.engine.layers.tarscan import XATTR_PREFIX

_KINDS = {
    tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.CONTTYPE: "file",
    tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink", tarfile.LNKTYPE: "hardlink",
    tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block", tarfile.FIFOTYPE: "fifo",
}


def entry_kind(member: tarfile.TarInfo) -> str:
    kind = _KINDS.get(member.type)
    if kind is None:
        # tarfile already folds GNU long names and PAX headers into the next member
        raise CorruptLayer(f"entry {member.name!r}: unsupported tar entry type {member.type!r}")
    return kind


def entry_xattrs(member: tarfile.TarInfo) -> dict[str, bytes]:
    return {
        key[len(XATTR_PREFIX):]: value.encode("utf-8", "surrogateescape")
        for key, value in member.pax_headers.items() if key.startswith(XATTR_PREFIX)
    }


def open_tar_stream(stream: BinaryIO) -> tarfile.TarFile | None:
    """A forward-only reader over an uncompressed tar stream; None for an empty stream."""
    try:
        return tarfile.open(fileobj=stream, mode="r|", errorlevel=2)
    except tarfile.ReadError as error:
        if str(error) == "empty file":
            return None
        raise CorruptLayer(f"not a tar archive: {error}") from None


def iter_tar_members(archive: tarfile.TarFile | None) -> Iterator[tarfile.TarInfo]:
    """Members in order; bad or truncated data -> ``CorruptLayer``.

    The caller may read a member's content with ``archive.extractfile(member)``
    before asking for the next one.
    """
    if archive is None:
        return
    last = "(start)"
    while True:
        try:
            member = archive.next()
        except tarfile.TarError as error:
            raise CorruptLayer(f"after entry {last!r}: {error or 'unreadable tar header'}") from None
        if member is None:
            return
        last = member.name
        archive.members.clear()  # streaming: do not keep 100k TarInfo objects alive
        yield member
