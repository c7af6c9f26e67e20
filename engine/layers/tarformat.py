"""A tar writer that lays out bytes the way Docker's (Go's) ``archive/tar`` does.

A layer's diff ID is the sha256 of the tar bytes, so two tars of the same
tree only share a diff ID (and a build cache hit) when every header byte
matches. Python's ``tarfile`` differs from Go in small ways (device fields of
non-devices, PAX header names, 10 KiB record padding), so headers are
packed here instead:

- USTAR header blocks with magic "ustar\\0" and version "00";
- numeric fields zero-padded octal with a NUL terminator;
- a PAX extended header only when a value does not fit: a non-ASCII or
  over-long name or link name, xattrs, a uid/gid/size/mtime out of range;
  its records sorted by key, its block named "<dir>/PaxHeaders.0/<base>";
- the archive ends with two zero blocks, no record padding.
"""

from __future__ import annotations

from typing import BinaryIO

from layerlab.engine.oci.digest import Digest, Hasher
from layerlab.engine.record_type import field, record

BLOCK = 512
END_OF_ARCHIVE = b"\x00" * (2 * BLOCK)

REGULAR = b"0"
HARDLINK = b"1"
SYMLINK = b"2"
CHAR_DEVICE = b"3"
BLOCK_DEVICE = b"4"
DIRECTORY = b"5"
FIFO = b"6"
PAX_HEADER = b"x"


@record
class TarHeader:
    name: str  # directories end with "/"
    typeflag: bytes
    mode: int = 0o644  # permission bits plus setuid/setgid/sticky, no file-type bits
    uid: int = 0
    gid: int = 0
    size: int = 0
    mtime: int = 0
    linkname: str = ""
    uname: str = ""
    gname: str = ""
    devmajor: int = 0
    devminor: int = 0
    xattrs: dict[str, bytes] = field(default_factory=dict)


def _fits_octal(width: int, value: int) -> bool:
    # the field keeps one byte for its NUL terminator
    return 0 <= value < 8 ** (width - 1)


def _octal(value: int, width: int) -> bytes:
    if not _fits_octal(width, value):
        value = 0  # the real value travels in a PAX record
    return b"%0*o\x00" % (width - 1, value)


def _string(text: bytes, width: int) -> bytes:
    if len(text) > width:
        cut = text[:width]
        if cut.endswith(b"/"):
            # as Go does: a slash left at the cut would make readers see a directory
            end = len(cut[: width - 1].rstrip(b"/"))
            cut = cut[:end] + b"\x00" + cut[end + 1:]
        return cut
    return text + b"\x00" * (width - len(text))


_NON_ASCII = bytes(range(0x80, 0x100))


def _to_ascii(raw: bytes) -> bytes:
    return raw.translate(None, _NON_ASCII)


def _pax_record(key: bytes, value: bytes) -> bytes:
    body = b" " + key + b"=" + value + b"\n"
    size = len(body) + len(str(len(body)))
    if len(str(size)) + len(body) != size:
        size = len(str(size)) + len(body)
    return str(size).encode() + body


def _block(name: bytes, typeflag: bytes, mode: int, uid: int, gid: int, size: int, mtime: int,
           linkname: bytes, uname: bytes, gname: bytes, devmajor: int, devminor: int,
           with_ustar_numbers: bool = True) -> bytes:
    ustar_tail = (
        _string(uname, 32) + _string(gname, 32)
        + (_octal(devmajor, 8) + _octal(devminor, 8) if with_ustar_numbers else b"\x00" * 16)
    )
    head = (
        _string(name, 100) + _octal(mode, 8) + _octal(uid, 8) + _octal(gid, 8)
        + _octal(size, 12) + _octal(mtime, 12)
    )
    rest = typeflag + _string(linkname, 100) + b"ustar\x0000" + ustar_tail
    block = head + b" " * 8 + rest
    checksum = sum(block)
    block = head + b"%06o\x00 " % checksum + rest
    return block + b"\x00" * (BLOCK - len(block))


# Limits of the plain case: every number fits its octal field, every name its field, in ASCII.
_SHORT_NUMBER, _LONG_NUMBER = 8 ** 7, 8 ** 11


def _plain_block(header: TarHeader, name: bytes, linkname: bytes, uname: bytes, gname: bytes) -> bytes:
    """``_block`` for a header that needs no PAX record and no field cut short: one formatting pass
    instead of a dozen field calls (a layer of small files spends a third of its time in headers)."""
    head = name.ljust(100, b"\x00") + b"%07o\x00%07o\x00%07o\x00%011o\x00%011o\x00" % (
        header.mode, header.uid, header.gid, header.size, header.mtime)
    rest = (header.typeflag + linkname.ljust(100, b"\x00") + b"ustar\x0000" + uname.ljust(32, b"\x00")
            + gname.ljust(32, b"\x00") + b"%07o\x00%07o\x00" % (header.devmajor, header.devminor))
    checksum = sum(head) + sum(rest) + 8 * 0x20  # the checksum field itself counts as eight spaces
    return head + b"%06o\x00 " % checksum + rest + bytes(BLOCK - 156 - len(rest))


def _is_plain(header: TarHeader, name: bytes, linkname: bytes, uname: bytes, gname: bytes) -> bool:
    return (len(name) <= 100 and len(linkname) <= 100 and len(uname) <= 32 and len(gname) <= 32
            and name.isascii() and linkname.isascii() and uname.isascii() and gname.isascii()
            and not header.xattrs and 0 <= header.mode < _SHORT_NUMBER
            and 0 <= header.uid < _SHORT_NUMBER and 0 <= header.gid < _SHORT_NUMBER
            and 0 <= header.size < _LONG_NUMBER and 0 <= header.mtime < _LONG_NUMBER
            and 0 <= header.devmajor < _SHORT_NUMBER and 0 <= header.devminor < _SHORT_NUMBER)


def encode_header(header: TarHeader) -> bytes:
    """The header block(s) for ``header``, a PAX extended header first when needed."""
    name = header.name.encode("utf-8", "surrogateescape")
    linkname = header.linkname.encode("utf-8", "surrogateescape")
    uname, gname = header.uname.encode(), header.gname.encode()
    if _is_plain(header, name, linkname, uname, gname):
        return _plain_block(header, name, linkname, uname, gname)
    pax: dict[bytes, bytes] = {}
    if len(name) > 100 or not name.isascii():
        pax[b"path"] = name
    if len(linkname) > 100 or not linkname.isascii():
        pax[b"linkpath"] = linkname
    for key, value, width in ((b"uid", header.uid, 8), (b"gid", header.gid, 8),
                              (b"size", header.size, 12), (b"mtime", header.mtime, 12)):
        if not _fits_octal(width, value):
            pax[key] = str(value).encode()
    for xattr, value in header.xattrs.items():
        pax[b"SCHILY.xattr." + xattr.encode("utf-8", "surrogateescape")] = value
    ascii_name, ascii_link = _to_ascii(name), _to_ascii(linkname)
    main = _block(ascii_name, header.typeflag, header.mode, header.uid, header.gid, header.size,
                  header.mtime, ascii_link, uname, gname, header.devmajor, header.devminor)
    if not pax:
        return main
    data = b"".join(_pax_record(key, pax[key]) for key in sorted(pax))
    directory, _, base = header.name.rpartition("/") if not header.name.endswith("/") else (header.name.rstrip("/"), "", "")
    pax_name = (directory + "/PaxHeaders.0/" + base) if directory else "PaxHeaders.0/" + base
    pax_name_bytes = _to_ascii(pax_name.encode("utf-8", "surrogateescape"))[:100].rstrip(b"/")
    pax_block = _block(pax_name_bytes, PAX_HEADER, 0, 0, 0, len(data), 0, b"", b"", b"", 0, 0,
                       with_ustar_numbers=False)
    return pax_block + _padded(data) + main


def _padded(data: bytes) -> bytes:
    remainder = len(data) % BLOCK
    return data + (b"\x00" * (BLOCK - remainder) if remainder else b"")


class TarStreamWriter:
    """Writes entries to ``out`` while hashing the bytes: the diff ID comes for free."""

    def __init__(self, out: BinaryIO):
        self._out = out
        self._hasher = Hasher("sha256")

    def _emit(self, data: bytes) -> None:
        self._hasher.update(data)
        self._out.write(data)

    def add(self, header: TarHeader, content: BinaryIO | None = None) -> None:
        """Write one entry; ``content`` must yield exactly ``header.size`` bytes."""
        self._emit(encode_header(header))
        if header.size:
            remaining = header.size
            while remaining:
                chunk = content.read(min(remaining, 1 << 20)) if content is not None else b""
                if not chunk:
                    raise EOFError(f"{header.name}: {remaining} of {header.size} bytes missing")
                self._emit(chunk)
                remaining -= len(chunk)
            if header.size % BLOCK:
                self._emit(b"\x00" * (BLOCK - header.size % BLOCK))

    def add_small(self, header: TarHeader, content: bytes) -> None:
        """Write one entry whose content (exactly ``header.size`` bytes) is in memory: one hash update
        and one write for header, content and padding."""
        tail = len(content) % BLOCK
        self._emit(encode_header(header) + content + (b"\x00" * (BLOCK - tail) if tail else b""))

    def close(self) -> tuple[Digest, int]:
        """Finish the archive; returns the diff ID and the tar's size."""
        self._emit(END_OF_ARCHIVE)
        return self._hasher.digest(), self._hasher.size
