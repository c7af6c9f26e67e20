"""Hand-built layer tars for the analysis tests."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

from layerlab.engine.analysis import LayerSource


def layer_tar(*members: tuple, parents: bool = True) -> bytes:
    """Members are ("f", path, size_or_bytes[, mode, uid, gid]), ("d", path), ("l", path, target),
    ("h", path, target), ("wh", path) for a whiteout of path, ("opq", dir) for an opaque marker.
    With ``parents``, directory entries for missing parents are added first, as docker writes them."""
    out = io.BytesIO()
    seen: set[str] = set()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        def add_dir(path: str, mode: int = 0o755) -> None:
            if path in seen:
                return
            seen.add(path)
            info = tarfile.TarInfo(path + "/")
            info.type, info.mode = tarfile.DIRTYPE, mode
            tar.addfile(info)

        for member in members:
            kind, path = member[0], member[1].strip("/")
            if kind == "wh":
                head, _, name = path.rpartition("/")
                path = f"{head}/.wh.{name}" if head else f".wh.{name}"
            elif kind == "opq":
                path = f"{path}/.wh..wh..opq" if path else ".wh..wh..opq"
            if parents:
                parts = path.split("/")[:-1]
                for depth in range(1, len(parts) + 1):
                    add_dir("/".join(parts[:depth]))
            if kind == "d":
                if path not in seen:
                    seen.add(path)
                    info = tarfile.TarInfo(path + "/")
                    info.type = tarfile.DIRTYPE
                    info.mode = member[2] if len(member) > 2 else 0o755
                    tar.addfile(info)
                continue
            info = tarfile.TarInfo(path)
            data = b""
            if kind == "f":
                data = member[2] if isinstance(member[2], bytes) else b"x" * member[2]
                info.size = len(data)
                info.mode = member[3] if len(member) > 3 else 0o644
                info.uid = member[4] if len(member) > 4 else 0
                info.gid = member[5] if len(member) > 5 else 0
            elif kind == "l":
                info.type, info.linkname = tarfile.SYMTYPE, member[2]
            elif kind == "h":
                info.type, info.linkname = tarfile.LNKTYPE, member[2].strip("/")
            elif kind in ("wh", "opq"):
                pass
            else:
                raise ValueError(kind)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def sources(*layers: bytes, instructions: list[str] | None = None) -> list[LayerSource]:
    instructions = instructions or [f"RUN step {i}" for i in range(len(layers))]
    return [LayerSource(open=(lambda data=data: io.BytesIO(data)), instruction=text, label=f"layer {i}")
            for i, (data, text) in enumerate(zip(layers, instructions))]


def write_layers(directory: Path, *layers: bytes) -> list[Path]:
    paths = []
    for index, data in enumerate(layers):
        path = directory / f"layer{index}.tar"
        path.write_bytes(data)
        paths.append(path)
    return paths


def docker_archive(path: Path, layers: list[bytes], instructions: list[str], tag: str = "test:latest") -> Path:
    """A docker-archive (``docker save`` layout) holding one image made of ``layers``."""
    import hashlib
    import json

    diff_ids = ["sha256:" + hashlib.sha256(data).hexdigest() for data in layers]
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": text} for text in instructions],
    }).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    names = [f"{diff_id[7:]}/layer.tar" for diff_id in diff_ids]
    manifest = json.dumps([{"Config": config_name, "RepoTags": [tag], "Layers": names}]).encode()
    with tarfile.open(path, "w") as tar:
        for name, data in [(config_name, config), *zip(names, layers), ("manifest.json", manifest)]:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path
