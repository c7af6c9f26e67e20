"""Small test images built in memory: gzip layers of chosen sizes, or uncompressed ones."""

from __future__ import annotations

import gzip
import io
import random
import tarfile
from dataclasses import dataclass

from layerlab.engine.oci import mediatypes as mt
from layerlab.engine.oci.config import ImageConfig
from layerlab.engine.oci.digest import Digest
from layerlab.engine.transports.memory import BytesLayer, ConfigImage
from tests.store.images import MemoryLayer


@dataclass(frozen=True)
class GzipLayer(MemoryLayer):
    """A gzip layer blob held in memory (its ``diff_id`` as given, so a test may make it lie)."""

    media_type: str = mt.DOCKER_LAYER_GZIP


def layer_tar(name: str, size: int, seed: int) -> bytes:
    """A tar of one file ``name`` holding ``size`` pseudo-random (incompressible) bytes."""
    data = random.Random(seed).randbytes(size)
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = size, 0, 0o644
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def test_image(sizes: list[int], *, seed: int = 1, compressed: bool = True, architecture: str = "amd64",
               label: str = "") -> ConfigImage:
    """An image with one layer per size; ``compressed`` picks gzip layers (level 1) or plain tars."""
    layers = []
    for index, size in enumerate(sizes):
        tar = layer_tar(f"file{index}-{seed}", size, seed * 1000 + index)
        layers.append(GzipLayer(gzip.compress(tar, compresslevel=1, mtime=0), Digest.of_bytes(tar))
                      if compressed else BytesLayer(tar))
    config = ImageConfig.from_dict({
        "architecture": architecture, "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"], "Labels": {"test": label or f"seed-{seed}"}},
        "rootfs": {"type": "layers", "diff_ids": [str(layer.diff_id) for layer in layers]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"layer {i}"} for i in range(len(layers))],
    })
    return ConfigImage(config.to_bytes(), tuple(layers))
