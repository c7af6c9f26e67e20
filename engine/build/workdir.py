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

from engine.build.copy_tree import Staging
from engine.errors import BuildError

WORKDIR_MODE = 0o755
ROOT = (0, 0)


def stage_workdir(out_dir: Path, image_root: Path | None, workdir: str, where: str) -> dict[str, tuple[int, int]]:
    """Stage in ``out_dir`` what creating ``workdir`` over ``image_root`` adds.

    Returns the owners the staged entries should have but could not be given
    (only when not running as root), keyed by root-relative path.
    """
    if workdir in ("", "/"):
        return {}
    staging = Staging(out_dir, image_root, "WORKDIR")
    rel = staging.resolve(workdir)
    found = staging.lookup(rel) if rel else None
    if found is not None:
        if not stat.S_ISDIR(found.st_mode):
            raise BuildError(f"{where}: Cannot mkdir: {workdir} is not a directory")
        return {}
    try:
        staging.ensure_dirs(rel, mode=WORKDIR_MODE, owner=ROOT)
    except BuildError as error:
        raise BuildError(f"{where}: {error.one_line()}") from None
    return dict(staging.owners)


def single_owner(owners: dict[str, tuple[int, int]], where: str) -> tuple[int, int] | None:
    """The one owner a layer writer can give every staged entry, when ownership could not be set."""
    distinct = set(owners.values())
    if len(distinct) > 1:
        raise BuildError(f"{where}: as an unprivileged user the new directories cannot be given several owners")
    return distinct.pop() if distinct else None


__all__ = ["WORKDIR_MODE", "single_owner", "stage_workdir"]
