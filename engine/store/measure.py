"""Measuring a layer in one pass: its diff ID, tar length, and the size Docker shows.

Docker's SIZE (``docker images``, ``docker history``) is not the tar's
length: it is the sum of the sizes of the files the layer holds (regular
files and symlinks; directories and tar padding count nothing), as the
overlay2 driver's ``directory.Size`` measures an unpacked layer.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO

from layerlab.engine.errors import CorruptLayer, UnsafeLayer
from layerlab.engine.layers.compression import open_decompressed
from layerlab.engine.layers.names import bad_whiteout
from layerlab.engine.oci.digest import CHUNK, Digest, HashingReader


@dataclass(frozen=True)
class LayerMeasure:
    diff_id: Digest
    tar_size: int       # bytes of the uncompressed tar
    content_size: int   # what Docker shows as the layer's SIZE


def measure_layer(blob: BinaryIO, *, what: str = "layer") -> LayerMeasure:
    """Read ``blob`` (compressed or not) once; ``CorruptLayer`` naming ``what`` if it is not a tar.

    A whiteout entry no layer may carry (``bad_whiteout``) is ``UnsafeLayer``
    here, as the layer enters the store, not when it is first unpacked.
    """
    import tarfile  # here: `images` and other commands that only read records start without it

    with open_decompressed(blob) as stream:
        reader = HashingReader(stream)
        content = 0
        try:
            with tarfile.open(fileobj=io.BufferedReader(reader, CHUNK), mode="r|") as tar:
                for member in tar:
                    reason = bad_whiteout(member.name.rstrip("/"))
                    if reason is not None:
                        raise UnsafeLayer(f"{what}: entry {member.name!r} is {reason}")
                    if member.isreg():
                        content += member.size
                    elif member.issym():
                        content += len(member.linkname.encode("utf-8", "surrogateescape"))
            while reader.read(CHUNK):  # the end-of-archive blocks and any trailing bytes are in the diff ID too
                pass
        except tarfile.TarError as error:
            raise CorruptLayer(f"{what}: not a valid tar: {error}") from None
    return LayerMeasure(reader.hasher.digest(), reader.hasher.size, content)
