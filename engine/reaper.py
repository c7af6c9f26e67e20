"""Reap what a killed run left behind: its container, its mounts, its scratch (and secrets).

A run normally undoes all of this itself, and the watchdog
(``runtime/watchdog.py``) does it when layerlab is killed. If the watchdog
went too, every layerlab command calls ``reap_dead_runs`` before anything
else. Everything a run makes carries its owner's pid in its name
(``layerlab-<pid>-…`` containers in runc's state dir, ``build-<pid>-…`` and
``run-<pid>-…`` directories in the store's ``tmp/``), so only what belongs to
a process that is gone is touched.

This module is imported on every start-up: it costs a directory listing or
two and a read of /proc/self/mountinfo, and imports the rest only when it
finds something to reap.
"""

from __future__ import annotations

import os
from pathlib import Path

RUNC_STATE_DIR = Path("/run/layerlab/runc")
CONTAINER_PREFIX = "layerlab-"
SCRATCH_PREFIXES = ("build-", "run-")


def owner_pid(name: str, prefixes: tuple[str, ...]) -> int | None:
    """The pid in ``<prefix><pid>-…``, None for a name that is not one of ours."""
    for prefix in prefixes:
        if name.startswith(prefix):
            pid_text = name[len(prefix):].split("-", 1)[0]
            return int(pid_text) if pid_text.isdigit() else None
    return None


def _dead(pid: int | None) -> bool:
    if pid is None or pid == os.getpid():
        return False
    from layerlab.engine.store.layout import pid_alive

    return not pid_alive(pid)


def reap_dead_runs(tmp_dir: Path, state_dir: Path = RUNC_STATE_DIR) -> None:
    """Delete dead owners' containers, then unmount and remove their scratch under ``tmp_dir``."""
    try:
        containers = [name for name in os.listdir(state_dir)
                      if _dead(owner_pid(name, (CONTAINER_PREFIX,)))]
    except OSError:
        containers = []
    if containers:
        import subprocess

        for name in containers:
            subprocess.run(["runc", "--root", str(state_dir), "delete", "--force", name],
                           stdin=subprocess.DEVNULL, capture_output=True)
    try:
        entries = [tmp_dir / name for name in os.listdir(tmp_dir) if _dead(owner_pid(name, SCRATCH_PREFIXES))]
    except OSError:
        entries = []
    for entry in entries:
        remove_scratch(entry)


def mounts_under(path: Path) -> list[Path]:
    """Mount points at or below ``path``, deepest first."""
    prefix = os.path.realpath(path)
    points = []
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="surrogateescape") as mountinfo:
            for line in mountinfo:
                point = unescape_mountinfo(line.split()[4])
                if point == prefix or point.startswith(prefix + "/"):
                    points.append(Path(point))
    except OSError:
        return []
    return sorted(points, key=lambda point: len(point.parts), reverse=True)


def unescape_mountinfo(field: str) -> str:
    # mountinfo escapes space, tab, newline and backslash as octal.
    for code, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
        field = field.replace(code, char)
    return field


def remove_scratch(path: Path) -> None:
    """Unmount whatever is mounted below ``path``, then remove it."""
    if not os.path.lexists(path):
        return
    from layerlab.engine.deep_trees import remove_tree

    points = mounts_under(path)
    if points:
        from layerlab.engine.runtime.rootfs import unmount

        for point in points:
            unmount(point)
    try:
        remove_tree(path)
    except OSError:
        pass  # what stays is retried by the next reap; gc and fsck see it under tmp/
