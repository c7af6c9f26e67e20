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

import functools
import os
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from layerlab.engine.errors import ContainerError
from layerlab.engine.reaper import unescape_mountinfo

if TYPE_CHECKING:
    import ctypes


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
    if _umount(path, 0) != 0 and is_mounted(path):
        error = _umount(path, MNT_DETACH)
        if error != 0 and is_mounted(path):
            raise ContainerError(f"cannot unmount {path}: {os.strerror(error)}")


# "volatile" (Linux 5.10+) spares the unmount a sync of the whole file system the upperdir is on,
# which costs as much as everyone's unwritten data on it. The upperdir needs none: it becomes a
# layer tar (fsynced as a blob) and a snapshot, which is a cache of that blob. Older kernels refuse
# the option; then mounts go without it from there on.
_volatile_refused = False
MNT_DETACH = 2
# The kernel takes one page of mount options; "l/N" names relative to the workspace fit any stack
# that fits at all, absolute ones only a shorter one.
_OPTIONS_LIMIT = 4095
# Characters the option syntax would misread in a path: option and lowerdir separators, escapes.
_OPTION_SYNTAX = (",", ":", "\\")


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    # ctypes only here: mount(2) and umount2(2) spare a RUN two processes (mount, umount) and their start
    import ctypes

    return ctypes.CDLL(None, use_errno=True)


def _umount(path: Path, flags: int) -> int:
    """umount2(2); 0, or the errno it failed with."""
    import ctypes

    if _libc().umount2(os.fsencode(path), flags) == 0:
        return 0
    return ctypes.get_errno()


def _mount_overlay(workspace: Path, options: str) -> str | None:
    """Mount the overlay at ``workspace/merged``; None, or why it failed.

    mount(2) itself, with the options' relative names made absolute, unless that overflows the page
    or a path holds what the option syntax reads otherwise: then mount(8), run from the workspace.
    """
    import ctypes

    base = os.fspath(workspace.resolve())
    absolute = _absolute_options(options, base)
    if len(absolute) <= _OPTIONS_LIMIT and not any(char in base for char in _OPTION_SYNTAX):
        if _libc().mount(b"overlay", os.fsencode(os.path.join(base, "merged")), b"overlay", 0,
                         os.fsencode(absolute)) == 0:
            return None
        return os.strerror(ctypes.get_errno())
    result = subprocess.run(["mount", "-t", "overlay", "overlay", "-o", options, "merged"], cwd=workspace,
                            capture_output=True)
    return None if result.returncode == 0 else result.stderr.decode(errors="replace").strip()


def _absolute_options(options: str, base: str) -> str:
    out = []
    for option in options.split(","):
        key, eq, value = option.partition("=")
        if key == "lowerdir":
            value = ":".join(f"{base}/{name}" for name in value.split(":"))
        elif key in ("upperdir", "workdir"):
            value = f"{base}/{value}"
        out.append(key + eq + value)
    return ",".join(out)


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
        error = "volatile refused"
        if not _volatile_refused:
            error = _mount_overlay(self.workspace, options + ",volatile")
            _volatile_refused = error is not None
        if error is not None:
            error = _mount_overlay(self.workspace, options)
        if error is not None:
            raise ContainerError(f"cannot mount overlay at {self.merged}: {error}")
        self._mounted = True
        return self

    def __exit__(self, *exc_info) -> None:
        if self._mounted:
            unmount(self.merged)
            self._mounted = False
