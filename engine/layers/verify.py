"""Reading a blob while checking it is what its digest says."""

from __future__ import annotations

import io

from layerlab.engine.errors import DigestMismatch
from layerlab.engine.oci.digest import Digest

# typing costs milliseconds of every command's start-up; type checkers honour this form.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import BinaryIO


class VerifyingReader(io.RawIOBase):
    """Passes ``blob`` through and, at its end, raises ``DigestMismatch`` unless it hashed to ``expected``.

    Reading stops with the error before the caller sees end-of-file, so a
    consumer that reads to the end (``apply_layer`` does) cannot finish on a
    blob that lies about its digest.
    """

    def __init__(self, blob: BinaryIO, expected: Digest, what: str = "blob",
                 on_verified: Callable[[], None] | None = None):
        self._blob = blob
        self._expected = expected
        self._what = what
        self._hasher = expected.new_hasher()
        self._checked = False
        self._on_verified = on_verified

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._hasher.size

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        """Back to the start (a retried upload), or forward by reading through: every byte is still hashed."""
        if whence == io.SEEK_CUR:
            offset += self.tell()
        elif whence != io.SEEK_SET:
            raise io.UnsupportedOperation("a checked stream seeks only from its start or its position")
        if offset == 0:
            self._blob.seek(0)
            self._hasher = self._expected.new_hasher()
            self._checked = False
            return 0
        if offset < self.tell():
            raise io.UnsupportedOperation("a checked stream seeks back only to its start")
        while self.tell() < offset:
            data = self._blob.read(min(offset - self.tell(), 1 << 20))
            if not data:
                break
            self._hasher.update(data)
        return self.tell()

    def close(self) -> None:
        try:
            self._blob.close()
        finally:
            super().close()

    def readinto(self, buffer) -> int:
        data = self._blob.read(len(buffer))
        if data:
            self._hasher.update(data)
            buffer[: len(data)] = data
            return len(data)
        if not self._checked:
            actual = self._hasher.digest()
            if actual != self._expected:
                raise DigestMismatch(self._what, str(self._expected), str(actual))
            self._checked = True
            if self._on_verified is not None:
                self._on_verified()
        return 0

    @property
    def size(self) -> int:
        return self._hasher.size


def verify_stream(blob: BinaryIO, expected: Digest, what: str = "blob",
                  on_verified: Callable[[], None] | None = None) -> BinaryIO:
    """``blob`` wrapped so that reading it to the end checks it against ``expected`` (then ``on_verified()``)."""
    return io.BufferedReader(VerifyingReader(blob, expected, what, on_verified), 1 << 20)
