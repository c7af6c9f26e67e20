"""An overlayfs stack of snapshot directories with a fresh upperdir.

The upperdir collects every change the process makes, in overlayfs' own
terms: a deleted lower file becomes a 0/0 character device, a directory
replaced wholesale carries the ``overlay.opaque`` xattr (``trusted.`` as root,
``user.`` when mounted inside a user namespace with ``userxattr``). Turning
that into a layer tar is the layer writer's job.

Lower paths go into the mount options as short relative symlinks
(``l/0``, ``l/1``…) with the mount run from the workspace, as Docker's
overlay2 driver does: a deep stack of long paths would otherwise overflow
the one page the kernel accepts for mount options, and a ``:`` or ``,`` in
a path would break the option syntax.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from layerlab.engine.errors import ContainerError
from layerlab.engine.reaper import unescape_mountinfo


def prepare_overlay_dirs(lowers: list[Path], workspace: Path) -> list[str]:
    """Create upper/work/merged and the ``l/N`` links; return the lower names, topmost first."""
    workspace.mkdir(parents=True, exist_ok=True)
    for name in ("upper", "work", "merged"):
        (workspace / name).mkdir(exist_ok=True)
    if not lowers:
        # overlayfs needs at least one lower; an empty one keeps the upperdir semantics.
        empty = workspace / "empty"
        empty.mkdir(exist_ok=True)
        lowers = [empty]
    links = workspace / "l"
    if links.exists():
        shutil.rmtree(links)
    links.mkdir()
    for index, lower in enumerate(lowers):
        lower = Path(lower).resolve()
        if not lower.is_dir():
            raise ContainerError(f"lower snapshot is not a directory: {lower}")
        os.symlink(lower, links / str(index))
    # The kernel wants the topmost lower first; callers give bottom -> top.
    return [f"l/{index}" for index in reversed(range(len(lowers)))]


def overlay_options(lower_names: list[str], *, userxattr: bool = False) -> str:
    # Renamed directories and metadata-only copy-ups would leave redirect/metacopy xattrs
    # that a layer tar cannot express; with both off the upperdir holds real copies,
    # whatever the kernel's build-time defaults are (Docker's overlay2 does the same).
    # In a user namespace the kernel insists on "nofollow", which creates no redirects either.
    redirect = "nofollow" if userxattr else "off"
    options = f"lowerdir={':'.join(lower_names)},upperdir=upper,workdir=work,redirect_dir={redirect},metacopy=off"
    return ("userxattr," + options) if userxattr else options


def is_mounted(path: Path) -> bool:
    """True when ``path`` is a mount point in this process's mount namespace."""
    target = os.path.realpath(path)
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as mountinfo:
        for line in mountinfo:
            fields = line.split()
            if len(fields) > 4 and unescape_mountinfo(fields[4]) == target:
                return True
    return False


def unmount(path: Path) -> None:
    """Unmount ``path``; fall back to a lazy detach so no mount is ever left behind."""
    if not is_mounted(path):
        return
    result = subprocess.run(["umount", str(path)], capture_output=True)
    if result.returncode != 0 and is_mounted(path):
        lazy = subprocess.run(["umount", "-l", str(path)], capture_output=True)
        if lazy.returncode != 0 and is_mounted(path):
            raise ContainerError(
                f"cannot unmount {path}: {lazy.stderr.decode(errors='replace').strip()}")


# "volatile" (Linux 5.10+) spares the unmount a sync of the whole file system the upperdir is on,
# which costs as much as everyone's unwritten data on it. The upperdir needs none: it becomes a
# layer tar (fsynced as a blob) and a snapshot, which is a cache of that blob. Older kernels refuse
# the option; then mounts go without it from there on.
_volatile_refused = False


def _mount_overlay(workspace: Path, options: str) -> subprocess.CompletedProcess:
    return subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, "merged"], cwd=workspace,
                          capture_output=True)


class OverlayRootfs:
    """``with OverlayRootfs(lowers, workspace) as rootfs:`` mounts ``rootfs.merged``.

    ``lowers`` are snapshot directories, bottom -> top; they are never
    written. Changes land in ``rootfs.upper``. The mount is removed on exit,
    exceptions included. Needs the right to mount (root).
    """

    def __init__(self, lowers: list[Path], workspace: Path):
        self.lowers = [Path(lower) for lower in lowers]
        self.workspace = Path(workspace)
        self.upper = self.workspace / "upper"
        self.work = self.workspace / "work"
        self.merged = self.workspace / "merged"
        self._mounted = False

    def __enter__(self) -> "OverlayRootfs":
        global _volatile_refused
        lower_names = prepare_overlay_dirs(self.lowers, self.workspace)
        options = overlay_options(lower_names)
        result = None
        if not _volatile_refused:
            result = _mount_overlay(self.workspace, options + ",volatile")
            _volatile_refused = result.returncode != 0
        if result is None or _volatile_refused:
            result = _mount_overlay(self.workspace, options)
        if result.returncode != 0:
            raise ContainerError(
                f"cannot mount overlay at {self.merged}: {result.stderr.decode(errors='replace').strip()}")
        self._mounted = True
        return self

    def __exit__(self, *exc_info) -> None:
        if self._mounted:
            unmount(self.merged)
            self._mounted = False
