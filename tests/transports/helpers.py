"""Small images and archive surgery for transport and command tests."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path
from typing import Callable

from layerlab.engine.oci.config import ImageConfig
from layerlab.engine.transports.memory import BytesLayer, ConfigImage


def layer_tar(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def small_image(*layer_files: dict[str, bytes], created: str = "2024-01-02T03:04:05Z",
                labels: dict[str, str] | None = None) -> ConfigImage:
    layers = tuple(BytesLayer(layer_tar(files)) for files in layer_files)
    config = ImageConfig.from_dict({
        "architecture": "amd64", "os": "linux", "created": created,
        "config": {"Cmd": ["sh"], **({"Labels": labels} if labels else {})},
        "rootfs": {"type": "layers", "diff_ids": [str(layer.diff_id) for layer in layers]},
        "history": [{"created": created, "created_by": f"step {i}"} for i in range(len(layers))],
    })
    return ConfigImage(config.to_bytes(), layers)


def rewrite_tar(source: Path, target: Path, edit: Callable[[tarfile.TarInfo, bytes], tuple[tarfile.TarInfo, bytes] | None]) -> None:
    """Copy a tar, letting ``edit`` change (or drop, by returning None) each member."""
    with tarfile.open(source) as tar_in, tarfile.open(target, "w", format=tarfile.PAX_FORMAT) as tar_out:
        for member in tar_in:
            data = tar_in.extractfile(member).read() if member.isreg() else b""
            result = edit(member, data)
            if result is None:
                continue
            member, data = result
            member.size = len(data) if member.isreg() else 0
            tar_out.addfile(member, io.BytesIO(data) if member.isreg() else None)


def manifest_of(archive: Path) -> list[dict]:
    with tarfile.open(archive) as tar:
        return json.loads(tar.extractfile("manifest.json").read())
