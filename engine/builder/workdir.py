"""The working directory a container starts in, made as Docker makes it.

Docker creates the WORKDIR when it creates a container: WORKDIR itself
commits that container (a layer holding the new directories, empty when the
directory was already there), and every RUN container does it again in case
a step removed it. Missing directories are created root-owned 0755; an
existing parent is copied up with its own mode and owner, as overlayfs does
when a child is added under it. The path is resolved through the image's
symlinks inside the rootfs.
"""

from __future__ import annotations

import stat
from pathlib import Path

from layerlab.engine.builder.copy.tree import Staging
from layerlab.engine.errors import BuildError
from layerlab.engine.layers.stack import LayerStack

WORKDIR_MODE = 0o755
ROOT = (0, 0)


def stage_directory(out_dir: Path, image: LayerStack | None, path: str, where: str, *,
                    not_a_dir: str, owner: tuple[int, int] = ROOT) -> tuple[str, bool, dict[str, tuple[int, int]]]:
    """Make sure directory ``path`` exists in ``out_dir`` over ``image``'s layers.

    Returns its physical root-relative path (symlinks followed in the rootfs),
    whether it was there already, and the owners staged entries should have
    but could not be given (only when not running as root). ``not_a_dir`` is
    the error when something else is in the way.
    """
    staging = Staging(out_dir, image, "WORKDIR")
    rel = staging.resolve(path)
    if not rel:
        return rel, True, {}
    found = staging.lookup(rel)
    if found is not None:
        if not stat.S_ISDIR(found.st_mode):
            raise BuildError(f"{where}: {not_a_dir}")
        return rel, True, {}
    try:
        staging.ensure_dirs(rel, mode=WORKDIR_MODE, owner=owner)
    except BuildError as error:
        raise BuildError(f"{where}: {error.one_line()}") from None
    return rel, False, dict(staging.owners)


def stage_workdir(out_dir: Path, image: LayerStack | None, workdir: str, where: str, *,
                  owner: tuple[int, int] = ROOT) -> dict[str, tuple[int, int]]:
    """Stage in ``out_dir`` what creating ``workdir`` over ``image`` adds; returns owners not set."""
    if workdir in ("", "/"):
        return {}
    _, _, owners = stage_directory(out_dir, image, workdir, where, owner=owner,
                                   not_a_dir=f"Cannot mkdir: {workdir} is not a directory")
    return owners


def single_owner(owners: dict[str, tuple[int, int]], where: str) -> tuple[int, int] | None:
    """The one owner a layer writer can give every staged entry, when ownership could not be set."""
    distinct = set(owners.values())
    if len(distinct) > 1:
        raise BuildError(f"{where}: as an unprivileged user the new directories cannot be given several owners")
    return distinct.pop() if distinct else None


__all__ = ["WORKDIR_MODE", "single_owner", "stage_directory", "stage_workdir"]
