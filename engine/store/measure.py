"""Measuring a layer in one pass: its diff ID, tar length, and the size Docker shows.

Docker's SIZE (``docker images``, ``docker history``) is not the tar's
length: it is the sum of the sizes of the files the layer holds (regular
files and symlinks; directories and tar padding count nothing), as the
overlay2 driver's ``directory.Size`` measures an unpacked layer.
"""

from __future__ import annotations

import io
import tarfile
from dataclasses import dataclass
from typing import BinaryIO

from engine.errors import CorruptLayer
from engine.layers.compression import open_decompressed
from engine.oci.digest import CHUNK, Digest, Hasher


@dataclass(frozen=True)
class LayerMeasure:
    diff_id: Digest
    tar_size: int       # bytes of the uncompressed tar
    content_size: int   # what Docker shows as the layer's SIZE


class _HashingReader(io.RawIOBase):
    def __init__(self, stream: BinaryIO):
        self.stream = stream
        self.hasher = Hasher()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.stream.read(len(buffer))
        self.hasher.update(data)
        buffer[: len(data)] = data
        return len(data)


def measure_layer(blob: BinaryIO, *, what: str = "layer") -> LayerMeasure:
    """Read ``blob`` (compressed or not) once; ``CorruptLayer`` naming ``what`` if it is not a tar."""
    with open_decompressed(blob) as stream:
        reader = _HashingReader(stream)
        content = 0
        try:
            with tarfile.open(fileobj=io.BufferedReader(reader, CHUNK), mode="r|") as tar:
                for member in tar:
                    if member.isreg():
                        content += member.size
                    elif member.issym():
                        content += len(member.linkname.encode("utf-8", "surrogateescape"))
            while reader.read(CHUNK):  # the end-of-archive blocks and any trailing bytes are in the diff ID too
                pass
        except tarfile.TarError as error:
            raise CorruptLayer(f"{what}: not a valid tar: {error}") from None
    return LayerMeasure(reader.hasher.digest(), reader.hasher.size, content)
