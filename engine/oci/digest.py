"""Content digests (``sha256:<hex>``) as a frozen value type.

A *digest* names bytes exactly as stored (a compressed layer blob, a config,
a manifest); a *diff ID* names a layer's uncompressed tar. Both are ``Digest``
values; code keeps them apart by name (``digest`` vs ``diff_id``).
"""

from __future__ import annotations

import io
import re

from layerlab.engine.errors import InvalidReference
from layerlab.engine.values import Value, set_fields

# typing and hashlib cost milliseconds of a start-up that only compares digests (``images``):
# hashlib is imported where a hash is made, typing only for type checkers.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import BinaryIO

_ALGORITHMS = {"sha256": 64, "sha512": 128}
_HEX = re.compile(r"^[a-f0-9]+$")
CHUNK = 1 << 20
SHORT_LENGTH = 12  # hex digits in the short ID Docker shows (IMAGE ID, container hostname)


class Digest(Value):
    """A frozen value, ordered by (algorithm, hex); a ``Value`` rather than a dataclass (see ``values``)."""

    __slots__ = ("algorithm", "hex")
    algorithm: str
    hex: str

    def __init__(self, algorithm: str, hex: str) -> None:
        set_fields(self, algorithm, hex)

    # Written out rather than derived from the fields: digests are dict keys and sort keys everywhere.
    def __eq__(self, other: object) -> bool:
        if other.__class__ is not Digest:
            return NotImplemented
        return self.hex == other.hex and self.algorithm == other.algorithm  # type: ignore[attr-defined]

    def __hash__(self) -> int:
        return hash((self.algorithm, self.hex))

    def __lt__(self, other: Digest) -> bool:
        if other.__class__ is not Digest:
            return NotImplemented
        return (self.algorithm, self.hex) < (other.algorithm, other.hex)

    def __le__(self, other: Digest) -> bool:
        if other.__class__ is not Digest:
            return NotImplemented
        return (self.algorithm, self.hex) <= (other.algorithm, other.hex)

    def __gt__(self, other: Digest) -> bool:
        if other.__class__ is not Digest:
            return NotImplemented
        return (self.algorithm, self.hex) > (other.algorithm, other.hex)

    def __ge__(self, other: Digest) -> bool:
        if other.__class__ is not Digest:
            return NotImplemented
        return (self.algorithm, self.hex) >= (other.algorithm, other.hex)

    @classmethod
    def parse(cls, text: str) -> "Digest":
        """Parse ``algo:hex``; raise ``InvalidReference`` naming the bad text."""
        algorithm, sep, hexpart = text.partition(":")
        if not sep or algorithm not in _ALGORITHMS:
            raise InvalidReference(f"invalid digest {text!r}: expected sha256:<64 hex digits>")
        if len(hexpart) != _ALGORITHMS[algorithm] or not _HEX.match(hexpart):
            raise InvalidReference(f"invalid digest {text!r}: wrong length or not lowercase hex")
        return cls(algorithm, hexpart)

    @classmethod
    def of_bytes(cls, data: bytes, algorithm: str = "sha256") -> "Digest":
        import hashlib

        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    @classmethod
    def of_stream(cls, stream: BinaryIO, algorithm: str = "sha256") -> "Digest":
        hasher = Hasher(algorithm)
        while chunk := stream.read(CHUNK):
            hasher.update(chunk)
        return hasher.digest()

    @property
    def short(self) -> str:
        """The 12-hex-digit form Docker shows as IMAGE ID."""
        return self.hex[:SHORT_LENGTH]

    def new_hasher(self) -> "Hasher":
        return Hasher(self.algorithm)

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    def __repr__(self) -> str:
        return f"Digest({str(self)!r})"


def short_id(digest: Digest | str) -> str:
    """``Digest.short`` for a digest held as text (``sha256:<hex>``, or bare hex as image IDs are typed)."""
    if isinstance(digest, Digest):
        return digest.short
    return digest.split(":", 1)[-1][:SHORT_LENGTH]


class Hasher:
    """Incremental hashing that also counts bytes."""

    __slots__ = ("algorithm", "_hash", "size")

    def __init__(self, algorithm: str = "sha256"):
        import hashlib

        self.algorithm = algorithm
        self._hash = hashlib.new(algorithm)
        self.size = 0

    def update(self, data: bytes) -> None:
        self._hash.update(data)
        self.size += len(data)

    def digest(self) -> Digest:
        return Digest(self.algorithm, self._hash.hexdigest())


class HashingReader(io.RawIOBase):
    """Passes ``stream`` through unchanged, hashing what is read; ``hasher`` has the digest and size."""

    def __init__(self, stream: BinaryIO, algorithm: str = "sha256"):
        self.stream = stream
        self.hasher = Hasher(algorithm)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.stream.read(len(buffer))
        self.hasher.update(data)
        buffer[: len(data)] = data
        return len(data)
