"""Image and Layer values backed by byte ranges of files, plus manifest building.

Archive readers hand these to the store: a layer is a (file, offset, size)
window, so nothing is copied until a sink reads it.
"""

from __future__ import annotations

import io
import json
import os
from typing import BinaryIO, Sequence

from layerlab.engine.oci import mediatypes as mt
from layerlab.engine.oci.descriptor import Descriptor
from layerlab.engine.errors import CorruptLayer
from layerlab.engine.layers.compression import open_decompressed
from layerlab.engine.oci.digest import Digest
from layerlab.engine.oci.manifest import Manifest
from layerlab.engine.record_type import field, record

_TO_OCI = {mt.DOCKER_LAYER_TAR: mt.OCI_LAYER_TAR, mt.DOCKER_LAYER_GZIP: mt.OCI_LAYER_GZIP,
           mt.DOCKER_LAYER_ZSTD: mt.OCI_LAYER_ZSTD, mt.DOCKER_CONFIG: mt.OCI_CONFIG,
           mt.DOCKER_MANIFEST: mt.OCI_MANIFEST}
_TO_DOCKER = {v: k for k, v in _TO_OCI.items()}


def oci_media_type(media_type: str) -> str:
    return _TO_OCI.get(media_type, media_type)


def docker_media_type(media_type: str) -> str:
    return _TO_DOCKER.get(media_type, media_type)


def is_uncompressed(media_type: str) -> bool:
    return mt.layer_compression(media_type) == "none"


class FileRange(io.RawIOBase):
    """A read-only window [offset, offset+size) of a file, with its own handle."""

    def __init__(self, path: str | os.PathLike, offset: int, size: int):
        self._file = open(path, "rb", buffering=0)
        self._file.seek(offset)
        self._remaining = size

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._remaining <= 0:
            return 0
        view = memoryview(buffer)[: min(len(buffer), self._remaining)]
        count = self._file.readinto(view)
        if not count:
            raise CorruptLayer(f"{self._file.name}: unexpected end of file")
        self._remaining -= count
        return count

    def close(self) -> None:
        self._file.close()
        super().close()


def open_range(path: str | os.PathLike, offset: int, size: int) -> BinaryIO:
    return io.BufferedReader(FileRange(path, offset, size), buffer_size=1 << 20)


@record(frozen=True)
class RangeLayer:
    """A layer whose blob is ``size`` bytes at ``offset`` in ``path`` (an archive or a blob file)."""

    path: str
    offset: int
    size: int
    digest: Digest
    diff_id: Digest
    media_type: str

    def open_blob(self) -> BinaryIO:
        return open_range(self.path, self.offset, self.size)

    def open_uncompressed(self) -> BinaryIO:
        stream = self.open_blob()
        if is_uncompressed(self.media_type):
            return stream
        return open_decompressed(stream)


@record(frozen=True)
class ConfigImage:
    """An image given by its config bytes and layers; the manifest is derived (or given)."""

    config: bytes
    image_layers: tuple
    manifest: bytes | None = None
    oci: bool = False
    annotations: dict = field(default_factory=dict)

    @property
    def config_digest(self) -> Digest:
        return Digest.of_bytes(self.config)

    def config_bytes(self) -> bytes:
        return self.config

    def manifest_bytes(self) -> bytes:
        if self.manifest is not None:
            return self.manifest
        return build_manifest(self.config, self.image_layers, oci=self.oci)

    def layers(self) -> Sequence:
        return self.image_layers


def build_manifest(config: bytes, layers: Sequence, *, oci: bool) -> bytes:
    """A schema-2 manifest (Docker or OCI media types) for the config and layers."""
    convert = oci_media_type if oci else docker_media_type
    config_descriptor = Descriptor(mt.OCI_CONFIG if oci else mt.DOCKER_CONFIG, Digest.of_bytes(config), len(config))
    layer_descriptors = [Descriptor(convert(layer.media_type), layer.digest, layer.size) for layer in layers]
    return Manifest.build(config_descriptor, layer_descriptors,
                          media_type=mt.OCI_MANIFEST if oci else mt.DOCKER_MANIFEST).to_bytes()


def diff_ids_of(config: bytes, where: str) -> list[Digest]:
    """The ``rootfs.diff_ids`` of a config, as Digests; ``where`` names the source in errors."""
    from layerlab.engine.errors import ArchiveError, InvalidReference

    try:
        parsed = json.loads(config)
        return [Digest.parse(text) for text in parsed["rootfs"]["diff_ids"]]
    except (ValueError, KeyError, TypeError, InvalidReference) as error:
        raise ArchiveError(f"{where}: not an image config (no rootfs.diff_ids): {error}") from None


@record(frozen=True)
class BytesLayer:
    """A small layer held in memory (a bootstrap rootfs)."""

    data: bytes
    media_type: str = mt.DOCKER_LAYER_TAR

    @property
    def digest(self) -> Digest:
        return Digest.of_bytes(self.data)

    @property
    def diff_id(self) -> Digest:
        return self.digest

    @property
    def size(self) -> int:
        return len(self.data)

    def open_blob(self) -> BinaryIO:
        return io.BytesIO(self.data)

    def open_uncompressed(self) -> BinaryIO:
        return io.BytesIO(self.data)
