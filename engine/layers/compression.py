"""Layer compression: detected by content, never by media type or file name.

Registries and archives mislabel layers often enough (a "tar.gzip" media type
over plain tar, a ``layer.tar`` that is gzipped) that the magic bytes are the
only thing worth trusting. Every decoder failure, including a stream that
simply stops, surfaces as ``CorruptLayer`` so callers handle one error type.
"""

from __future__ import annotations

import bz2
import io
import lzma
import shutil
import zlib
from typing import BinaryIO

from layerlab.engine.errors import CorruptLayer, UsageError

# gzip and zstandard (which loads platform) are imported where a layer is (de)compressed:
# commands that never touch a layer's bytes, like `images`, start without them.

KINDS = ("gzip", "zstd", "bzip2", "xz", "none")
HEAD_SIZE = 6  # the longest magic (xz) is six bytes
CHUNK = 1 << 20

_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
)


def detect(head: bytes) -> str:
    """The compression of a blob whose first bytes are ``head``."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return "none"


class _Prefixed(io.RawIOBase):
    """A reader that replays already-consumed ``head`` bytes before the rest of ``stream``."""

    def __init__(self, head: bytes, stream: BinaryIO):
        self._head = head
        self._stream = stream

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
        super().close()

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def _zstd_error() -> type[Exception]:
    import zstandard

    return zstandard.ZstdError


class _ZstdReader(io.RawIOBase):
    """Streaming zstd over any number of frames; a missing frame end is an error.

    ``zstandard``'s own stream reader returns a short read on truncated input
    instead of failing, which would let a cut-off layer apply half-way silently.
    """

    def __init__(self, source: BinaryIO):
        self._source = source
        import zstandard

        self._decompressor = zstandard.ZstdDecompressor()
        self._frame = self._decompressor.decompressobj()
        self._pending = b""
        self._frame_open = False
        self._done = False

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        if not self.closed:
            self._source.close()
        super().close()

    def readinto(self, buffer) -> int:
        while not self._pending and not self._done:
            data = self._source.read(CHUNK)
            if not data:
                self._done = True
                if self._frame_open:
                    raise CorruptLayer("zstd stream ended before the end of its frame (truncated layer)")
                break
            self._feed(data)
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def _feed(self, data: bytes) -> None:
        out = []
        while data:
            self._frame_open = True
            try:
                out.append(self._frame.decompress(data))
            except _zstd_error() as error:
                raise CorruptLayer(f"zstd data is corrupt: {error}") from None
            if self._frame.eof:
                self._frame_open = False
                data = self._frame.unused_data
                self._frame = self._decompressor.decompressobj()
            else:
                data = b""
        self._pending = b"".join(out)


class _CorruptionMapped(io.RawIOBase):
    """Turns a decoder's own exceptions into ``CorruptLayer`` with the format named."""

    def __init__(self, kind: str, stream: BinaryIO, source: BinaryIO):
        self._kind = kind
        self._stream = stream
        self._source = source

    def close(self) -> None:
        if not self.closed:
            self._stream.close()
            self._source.close()
        super().close()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self._stream.read(len(buffer))
        except CorruptLayer:
            raise
        except EOFError:
            raise CorruptLayer(f"{self._kind} stream ended early (truncated layer)") from None
        except (OSError, zlib.error, lzma.LZMAError, ValueError) as error:
            raise CorruptLayer(f"{self._kind} data is corrupt: {error}") from None
        buffer[: len(data)] = data
        return len(data)


def open_decompressed(blob: BinaryIO) -> BinaryIO:
    """A streaming reader of ``blob``'s uncompressed bytes, whatever the compression.

    Reads only forward, so ``blob`` may be a pipe or a socket. Closing the
    reader closes ``blob`` too.
    """
    head = _read_exactly_up_to(blob, HEAD_SIZE)
    kind = detect(head)
    source: BinaryIO = io.BufferedReader(_Prefixed(head, blob), CHUNK)
    if kind == "none":
        return source
    if kind == "gzip":
        import gzip

        decoder: BinaryIO = gzip.GzipFile(fileobj=source, mode="rb")
    elif kind == "bzip2":
        decoder = bz2.BZ2File(source, mode="rb")
    elif kind == "xz":
        decoder = lzma.LZMAFile(source, mode="rb")
    else:
        decoder = _ZstdReader(source)
    return io.BufferedReader(_CorruptionMapped(kind, decoder, source), CHUNK)


def _read_exactly_up_to(stream: BinaryIO, size: int) -> bytes:
    parts, got = [], 0
    while got < size:
        data = stream.read(size - got)
        if not data:
            break
        parts.append(data)
        got += len(data)
    return b"".join(parts)


def compress_to(src: BinaryIO, dst: BinaryIO, kind: str = "gzip", level: int = 6) -> None:
    """Compress ``src`` into ``dst`` reproducibly: same input, same bytes out.

    gzip gets mtime 0 and no file name in its header, so a layer's digest
    depends on its content alone.
    """
    if kind == "gzip":
        import gzip

        with gzip.GzipFile(filename="", fileobj=dst, mode="wb", compresslevel=level, mtime=0) as writer:
            shutil.copyfileobj(src, writer, CHUNK)
    elif kind == "zstd":
        import zstandard

        compressor = zstandard.ZstdCompressor(level=level)
        compressor.copy_stream(src, dst, read_size=CHUNK, write_size=CHUNK)
    elif kind == "bzip2":
        encoder = bz2.BZ2Compressor(max(1, min(level, 9)))
        _pump(src, dst, encoder.compress, encoder.flush)
    elif kind == "xz":
        encoder = lzma.LZMACompressor(preset=max(0, min(level, 9)))
        _pump(src, dst, encoder.compress, encoder.flush)
    elif kind == "none":
        shutil.copyfileobj(src, dst, CHUNK)
    else:
        raise UsageError(f"unknown compression {kind!r}: expected one of {', '.join(KINDS)}")


def _pump(src: BinaryIO, dst: BinaryIO, compress, flush) -> None:
    while chunk := src.read(CHUNK):
        dst.write(compress(chunk))
    dst.write(flush())
