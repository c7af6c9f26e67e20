"""VOLUME as the classic builder lives with it in later RUN steps.

Every RUN container gets a fresh volume at each path the config's
``Volumes`` names, filled with a copy of what the image has there. The
mount point itself is made in the container's layer (root-owned 0755, with
its parents copied up), so a volume directory the image lacked appears in
that RUN's layer; whatever the RUN writes under a volume goes to the volume
and never reaches the image.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable

from layerlab.engine.builder.workdir import stage_directory
from layerlab.engine.errors import BuildError
from layerlab.engine.layers.stack import LayerStack, flatten
from layerlab.engine.runtime import MountSpec


def volume_mounts(volumes: Iterable[str], *, upper: Path, image: LayerStack | None, scratch: Path,
                  where: str) -> list[MountSpec]:
    """Stage each volume's mount point in ``upper`` and a copy of its content under ``scratch``."""
    mounts: list[MountSpec] = []
    for number, volume in enumerate(sorted(volumes)):
        rel, existed, _ = stage_directory(
            upper, image, volume, where,
            not_a_dir=f"cannot mount volume over existing file, file exists {volume}")
        if not rel:
            continue  # a volume at / cannot take the rootfs' place; Docker refuses it at create
        source = scratch / f"volume-{number}"
        if existed and image is not None:
            _copy_tree(image, rel, source, scratch, where)
        else:
            source.mkdir(mode=0o755, parents=True)
        mounts.append(MountSpec("bind", "/" + rel, source=source))
    return mounts


def _copy_tree(image: LayerStack, rel: str, destination: Path, scratch: Path, where: str) -> None:
    """A real copy of what the image holds at ``rel``: the RUN writes into it, never into a layer."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    merged = Path(tempfile.mkdtemp(prefix="volume-view-", dir=scratch))
    try:
        flatten(image.sub_layers(rel), merged / "tree")
        # cp -a keeps owners, modes, times, links and xattrs, as Docker's copy into a new volume does.
        result = subprocess.run(["cp", "-a", "--", str(merged / "tree"), str(destination)], capture_output=True,
                                text=True)
    finally:
        shutil.rmtree(merged, ignore_errors=True)
    if result.returncode != 0:
        raise BuildError(f"{where}: cannot fill volume /{rel}: {result.stderr.strip()}")


__all__ = ["volume_mounts"]
