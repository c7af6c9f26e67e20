"""Leases: what a running build (or ``run``) holds, so ``rmi``, ``prune`` and gc leave it alone.

A lease is a file under the store's ``tmp/``, ``<pid>-<random>.lease``: its
first line is the process's start time, then one held image ID per line,
appended as the build looks images up or makes them. Deleters, holding the
root lock exclusively, read the leases of live processes and refuse or skip
those images; an image that stays keeps its blobs and snapshots, which is
all gc needs. A hold is written under the shared root lock after checking
the image still exists, so a hold and a delete never cross.

Nothing here is fsynced or written to ``meta.db``: a lease lives no longer
than its process, so a crash voids it anyway, and a build step must not pay
a database commit for it. A lease whose process is gone (or whose pid now
belongs to another process) holds nothing; the next deleter removes it.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from layerlab.engine.errors import NotFound
from layerlab.engine.store.core import StoreCore
from layerlab.engine.store.layout import pid_alive
from layerlab.engine.store.records import StoredImage

SUFFIX = ".lease"


def process_start(pid: int) -> str:
    """When process ``pid`` started (clock ticks since boot), or "" where /proc cannot say."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            text = stat.read().decode("ascii", "replace")
    except OSError:
        return ""
    # The command name (field 2) may hold spaces and parentheses: count fields after its last ")".
    fields = text[text.rfind(")") + 2:].split()
    return fields[19] if len(fields) > 19 else ""


class Lease:
    """One running operation's hold on images (and, through them, their blobs and snapshots)."""

    def __init__(self, store: StoreCore):
        self.store = store
        self.path = store.layout.new_temp(SUFFIX)
        self._held: set[str] = set()
        self._mutex = threading.Lock()
        with open(self.path, "x") as out:
            out.write(f"{process_start(os.getpid())}\n")

    def hold(self, image: StoredImage) -> None:
        """Keep ``image`` until ``release``; ``NotFound`` if it was deleted since it was looked up."""
        image_id = str(image.id)
        with self._mutex:
            if image_id in self._held:
                return
            with self.store.lock.shared():
                if not self.store.meta.has_image(image.id):
                    raise NotFound(f"no such image: {image_id} (deleted while it was being used)")
                with open(self.path, "a") as out:
                    out.write(image_id + "\n")
            self._held.add(image_id)

    def release(self) -> None:
        with self._mutex:
            self.path.unlink(missing_ok=True)
            self._held.clear()


def _holder(path: Path) -> tuple[int, list[str]] | None:
    """(pid, held image IDs) of a lease whose process still runs; None for a dead one."""
    pid_text = path.name.split("-", 1)[0]
    if not pid_text.isdigit():
        return None
    pid = int(pid_text)
    if pid != os.getpid() and not pid_alive(pid):
        return None
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        lines = []
    if not lines:
        return pid, []  # being created this moment
    started, held = lines[0], lines[1:]
    if started and process_start(pid) not in ("", started):
        return None  # the pid was reused by another process
    return pid, held


def leased_images(store: StoreCore) -> dict[str, int]:
    """Image ID -> pid of the running process that holds it; leases of dead processes are removed here.

    Call holding the store's exclusive lock, as deleters do.
    """
    held: dict[str, int] = {}
    try:
        leases = [p for p in store.layout.tmp.iterdir() if p.name.endswith(SUFFIX)]
    except FileNotFoundError:
        return held
    for path in leases:
        holder = _holder(path)
        if holder is None:
            path.unlink(missing_ok=True)
            continue
        pid, image_ids = holder
        for image_id in image_ids:
            held[image_id] = pid
    return held
