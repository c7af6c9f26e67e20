"""The one reader of a layer's entries: a fast, streaming reader of tar headers.

Listing a layer (analysis, ``history`` sizes, tests of what a writer wrote)
needs each member's header (path, type, mode, owner, size, link target,
xattrs), never its bytes, so this reader parses the 512-byte headers itself
and skips over content. It is several times faster than ``tarfile`` in
streaming mode, which matters when an image holds a hundred thousand files.
It understands ustar, GNU long names (``L``/``K``) and PAX records (``x``);
global PAX headers (``g``) are skipped. It never writes anything.

Applying a layer to disk is the other job and needs the bytes: that goes
through ``tarfile`` in ``layerlab.engine.layers.entries`` and ``apply``.
"""

from __future__ import annotations

import posixpath
from typing import BinaryIO, Iterator

from layerlab.engine.errors import CorruptLayer
from layerlab.engine.layers.names import split_whiteout
from layerlab.engine.record_type import field, record

BLOCK = 512
XATTR_PREFIX = "SCHILY.xattr."
_READ_CHUNK = 1 << 20

# Type codes as single characters, the same letters tar uses.
REGULAR = "0"
HARDLINK = "1"
SYMLINK = "2"
CHARDEV = "3"
BLOCKDEV = "4"
DIRECTORY = "5"
FIFO = "6"


@record(slots=True)
class RawEntry:
    """One tar member's header. ``path`` is cleaned: no leading ``/`` or ``./``, never ``..``."""

    path: str
    type: str
    mode: int
    uid: int
    gid: int
    size: int
    linkname: str
    offset: int  # where the member's data starts in the (uncompressed) stream
    ordinal: int  # position among the members yielded from this stream
    xattrs: dict[str, bytes] = field(default_factory=dict)  # from PAX ``SCHILY.xattr.*`` records

    @property
    def whiteout(self) -> tuple[str, str] | None:
        """For a whiteout, ``("file", hidden path)`` or ``("opaque", its directory)``; else None."""
        found = split_whiteout(self.path) if self.type == REGULAR else None
        return found if found is not None and found[0] != "meta" else None


def clean_path(name: str) -> str:
    """Normalise a member name to a root-relative path ('' is the root itself).

    ``..`` is clamped at the root, as a layer applier must do, so a hostile
    name can never point outside the image.
    """
    if not name:
        return ""
    cleaned = posixpath.normpath("/" + name)
    # normpath keeps a leading '//' (POSIX allows it to mean something else)
    return cleaned.lstrip("/")


def _number(field: bytes, what: str, offset: int, where: str) -> int:
    if field and field[0] & 0x80:
        # base-256 (GNU) for values that do not fit in octal
        value = int.from_bytes(field[1:], "big")
        return value
    text = field.split(b"\0", 1)[0].strip(b" \0")
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise CorruptLayer(f"{where}: tar header at offset {offset}: bad {what} field {text!r}") from None


def _pax_number(pax: dict[str, str], key: str, offset: int, where: str) -> int:
    try:
        value = int(pax[key])
    except ValueError:
        value = -1
    if value < 0:
        raise CorruptLayer(f"{where}: tar header at offset {offset}: bad PAX {key} {pax[key]!r}")
    return value


def _string(field: bytes) -> str:
    return field.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")


def _pax_records(data: bytes, offset: int, where: str) -> dict[str, str]:
    records: dict[str, str] = {}
    pos = 0
    while pos < len(data):
        if data[pos] == 0:
            break
        space = data.find(b" ", pos)
        if space < 0:
            raise CorruptLayer(f"{where}: tar PAX header at offset {offset}: malformed record")
        try:
            length = int(data[pos:space])
        except ValueError:
            raise CorruptLayer(f"{where}: tar PAX header at offset {offset}: malformed record length") from None
        if length <= 0 or pos + length > len(data):
            raise CorruptLayer(f"{where}: tar PAX header at offset {offset}: record runs past the header")
        record = data[space + 1: pos + length - 1]
        key, _, value = record.partition(b"=")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


class _Reader:
    """Buffered forward reader that counts the absolute offset."""

    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.buf = b""
        self.pos = 0
        self.base = 0  # absolute offset of buf[0]
        self.length: int | None = None  # known for seekable streams, to notice truncation
        try:
            self.seekable = bool(stream.seekable())
            if self.seekable:
                here = stream.tell()
                self.length = stream.seek(0, 2) - here
                stream.seek(here)
        except (AttributeError, OSError, ValueError):
            self.seekable = False

    @property
    def offset(self) -> int:
        return self.base + self.pos

    def read(self, size: int) -> bytes:
        end = self.pos + size
        if end <= len(self.buf):
            data = self.buf[self.pos:end]
            self.pos = end
            return data
        buf = self.buf[self.pos:]
        self.base += self.pos
        while len(buf) < size:
            chunk = self.stream.read(max(_READ_CHUNK, size - len(buf)))
            if not chunk:
                break
            buf += chunk
        self.buf = buf
        self.pos = min(size, len(buf))
        return buf[:size]

    def skip(self, size: int) -> bool:
        """Skip ``size`` bytes; False when the stream ends first."""
        remaining = len(self.buf) - self.pos
        if size <= remaining:
            self.pos += size
            return True
        size -= remaining
        self.base += len(self.buf)
        self.buf, self.pos = b"", 0
        if self.seekable:
            try:
                self.stream.seek(size, 1)
                self.base += size
                return self.length is None or self.base <= self.length
            except (OSError, ValueError):
                self.seekable = False
        while size > 0:
            chunk = self.stream.read(min(_READ_CHUNK, size))
            if not chunk:
                return False
            size -= len(chunk)
            self.base += len(chunk)
        return True


def scan(stream: BinaryIO, *, where: str = "layer") -> Iterator[RawEntry]:
    """Yield every member's header from an uncompressed tar stream, in order.

    Raises ``CorruptLayer`` (naming ``where`` and the offset) on a truncated
    stream or a header whose checksum does not match.
    """
    reader = _Reader(stream)
    long_name: str | None = None
    long_link: str | None = None
    pax: dict[str, str] = {}
    ordinal = 0
    while True:
        header_offset = reader.offset
        header = reader.read(BLOCK)
        if len(header) < BLOCK:
            if not header:
                return  # tolerated: a tar without its end-of-archive blocks
            raise CorruptLayer(f"{where}: truncated tar header at offset {header_offset}")
        if header.count(0) == BLOCK:
            return
        stored = _number(header[148:156], "checksum", header_offset, where)
        computed = sum(header[:148]) + 256 + sum(header[156:])
        if stored != computed:
            signed = sum((b - 256 if b > 127 else b) for b in header[:148]) + 256 + sum(
                (b - 256 if b > 127 else b) for b in header[156:])
            if stored != signed:
                raise CorruptLayer(f"{where}: bad tar header checksum at offset {header_offset}")
        typeflag = chr(header[156]) if header[156] else REGULAR
        size = _number(header[124:136], "size", header_offset, where)
        padded = (size + BLOCK - 1) & ~(BLOCK - 1)
        if typeflag in "xXgLK":
            data = reader.read(padded)
            if len(data) < padded:
                raise CorruptLayer(f"{where}: truncated tar member at offset {header_offset}")
            data = data[:size]
            if typeflag in "xX":
                pax.update(_pax_records(data, header_offset, where))
            elif typeflag == "L":
                long_name = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            elif typeflag == "K":
                long_link = data.split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            continue
        name = _string(header[0:100])
        magic = header[257:263]
        if magic == b"ustar\0" and header[345]:
            name = _string(header[345:500]) + "/" + name
        linkname = _string(header[157:257])
        mode = _number(header[100:108], "mode", header_offset, where)
        uid = _number(header[108:116], "uid", header_offset, where)
        gid = _number(header[116:124], "gid", header_offset, where)
        if long_name is not None:
            name, long_name = long_name, None
        if long_link is not None:
            linkname, long_link = long_link, None
        xattrs: dict[str, bytes] = {}
        if pax:
            xattrs = {key[len(XATTR_PREFIX):]: value.encode("utf-8", "surrogateescape")
                      for key, value in pax.items() if key.startswith(XATTR_PREFIX)}
            name = pax.get("path", name)
            linkname = pax.get("linkpath", linkname)
            if "size" in pax:
                size = _pax_number(pax, "size", header_offset, where)
                padded = (size + BLOCK - 1) & ~(BLOCK - 1)
            if "uid" in pax:
                uid = _pax_number(pax, "uid", header_offset, where)
            if "gid" in pax:
                gid = _pax_number(pax, "gid", header_offset, where)
            pax = {}
        data_offset = reader.offset
        if typeflag not in "123456":
            # contiguous, sparse and unknown types are read as regular files, as tarfile does
            typeflag = REGULAR
        yield RawEntry(clean_path(name), typeflag, mode & 0o7777, uid, gid,
                       size if typeflag == REGULAR else 0, linkname, data_offset, ordinal, xattrs)
        ordinal += 1
        # links, directories and devices carry no data even when size says otherwise
        if typeflag == REGULAR and padded and not reader.skip(padded):
            raise CorruptLayer(f"{where}: tar member {name!r} at offset {header_offset} is truncated")
