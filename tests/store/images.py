"""Small real images built in memory for store tests (real tars, real configs, real digests)."""

from __future__ import annotations

import gzip
import io
import tarfile
from dataclasses import dataclass, field
from typing import BinaryIO, Mapping, Sequence

from layerlab.engine.oci import mediatypes as mt
from layerlab.engine.oci.config import HistoryEntry, ImageConfig
from layerlab.engine.oci.descriptor import Descriptor
from layerlab.engine.oci.digest import Digest
from layerlab.engine.oci.manifest import Manifest


def layer_tar(files: Mapping[str, bytes | None]) -> bytes:
    """A layer tar: ``{"path": b"content"}``; ``None`` content writes a whiteout for that path."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path, content in sorted(files.items()):
            if content is None:
                head, _, name = path.rpartition("/")
                path = f"{head}/.wh.{name}" if head else f".wh.{name}"
                content = b""
            parts = path.split("/")
            for depth in range(1, len(parts)):
                directory = "/".join(parts[:depth])
                if directory not in tar.getnames():
                    info = tarfile.TarInfo(directory)
                    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1
                    tar.addfile(info)
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(content), 0o644, 1
            tar.addfile(info, io.BytesIO(content))
    return out.getvalue()


@dataclass(frozen=True)
class MemoryLayer:
    blob: bytes
    diff_id: Digest
    media_type: str

    @property
    def digest(self) -> Digest:
        return Digest.of_bytes(self.blob)

    @property
    def size(self) -> int:
        return len(self.blob)

    def open_blob(self) -> BinaryIO:
        return io.BytesIO(self.blob)

    def open_uncompressed(self) -> BinaryIO:
        return io.BytesIO(gzip.decompress(self.blob) if self.blob[:2] == b"\x1f\x8b" else self.blob)


@dataclass
class MemoryImage:
    config: ImageConfig
    memory_layers: list[MemoryLayer] = field(default_factory=list)
    manifest_media_type: str = mt.OCI_MANIFEST

    @property
    def config_digest(self) -> Digest:
        return self.config.digest

    def config_bytes(self) -> bytes:
        return self.config.raw

    def manifest_bytes(self) -> bytes:
        config = Descriptor(mt.OCI_CONFIG, self.config.digest, len(self.config.raw))
        layers = [Descriptor(layer.media_type, layer.digest, layer.size) for layer in self.memory_layers]
        return Manifest.build(config, layers, media_type=self.manifest_media_type).to_bytes()

    def layers(self) -> Sequence[MemoryLayer]:
        return self.memory_layers

    @property
    def id(self) -> Digest:
        return self.config.digest


def make_layer(files: Mapping[str, bytes | None], *, compress: bool = True) -> MemoryLayer:
    tar = layer_tar(files)
    if compress:
        return MemoryLayer(gzip.compress(tar, mtime=0), Digest.of_bytes(tar), mt.OCI_LAYER_GZIP)
    return MemoryLayer(tar, Digest.of_bytes(tar), mt.OCI_LAYER_TAR)


def make_image(*layer_files: Mapping[str, bytes | None], base: MemoryImage | None = None, compress: bool = True,
               label: str = "", created: str = "2024-01-01T00:00:00Z") -> MemoryImage:
    """An image: ``base``'s layers (if any) then one layer per mapping in ``layer_files``."""
    config = base.config if base else ImageConfig.new(created=created)
    layers = list(base.memory_layers) if base else []
    for index, files in enumerate(layer_files):
        layer = make_layer(files, compress=compress)
        layers.append(layer)
        config = config.with_layer(layer.diff_id, HistoryEntry(created=created, created_by=f"layer {index} {label}"))
    if label:
        config = config.with_container_config(Labels={"test": label})
    return MemoryImage(config, layers)
