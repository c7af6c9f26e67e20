"""Measuring a layer in one pass: its diff ID, tar length, and the size Docker shows.

Docker's SIZE (``docker images``, ``docker history``) is not the tar's
length: it is the sum of the sizes of the files the layer holds (regular
files and symlinks; directories and tar padding count nothing), as the
overlay2 driver's ``directory.Size`` measures an unpacked layer.
"""

from __future__ import annotations

from typing import BinaryIO

from layerlab.engine.errors import CorruptLayer, UnsafeLayer
from layerlab.engine.layers.compression import open_decompressed
from layerlab.engine.layers.names import bad_whiteout
from layerlab.engine.layers.tarscan import REGULAR, SYMLINK, scan
from layerlab.engine.oci.digest import CHUNK, Digest, HashingReader
from layerlab.engine.record_type import record


@record(frozen=True)
class LayerMeasure:
    diff_id: Digest
    tar_size: int       # bytes of the uncompressed tar
    content_size: int   # what Docker shows as the layer's SIZE


def measure_layer(blob: BinaryIO, *, what: str = "layer") -> LayerMeasure:
    """Read ``blob`` (compressed or not) once; ``CorruptLayer`` naming ``what`` if it is not a tar.

    A whiteout entry no layer may carry (``bad_whiteout``) is ``UnsafeLayer``
    here, as the layer enters the store, not when it is first unpacked.
    """
    with open_decompressed(blob) as stream:
        reader = HashingReader(stream)
        content = 0
        # Headers only: the one entry reader skips file contents (which still flow through the hash).
        for entry in scan(reader, where=what):
            reason = bad_whiteout(entry.path)
            if reason is not None:
                raise UnsafeLayer(f"{what}: entry {entry.path!r} is {reason}")
            if entry.type == REGULAR:
                content += entry.size
            elif entry.type == SYMLINK:
                content += len(entry.linkname.encode("utf-8", "surrogateescape"))
        while reader.read(CHUNK):  # the end-of-archive blocks and any trailing bytes are in the diff ID too
            pass
    if reader.hasher.size == 0:
        raise CorruptLayer(f"{what}: not a valid tar: empty file")
    return LayerMeasure(reader.hasher.digest(), reader.hasher.size, content)
