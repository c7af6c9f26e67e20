"""Leases: what a running build holds, so ``rmi``, ``prune`` and gc leave it alone.

A lease is a set of ``refs`` rows under one owner name,
``lease:<pid>:<process start time>:<random>``. Holding an image records its
ID (the config blob), its manifest, its layer blobs and its layer chain IDs
(the snapshots), in the same transaction that checks the image still exists.
gc keeps whatever ``refs`` names; ``rmi`` and ``prune`` also refuse or skip
a leased image. A lease whose process is gone (or whose pid now belongs to
another process) holds nothing: deleters drop it as they go, so a killed
build never blocks anyone for long.
"""

from __future__ import annotations

import os
import secrets
import threading

from layerlab.engine.errors import NotFound
from layerlab.engine.store.core import StoreCore
from layerlab.engine.store.layout import pid_alive
from layerlab.engine.store.records import StoredImage

PREFIX = "lease:"


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


def _owner_alive(owner: str) -> bool:
    try:
        _, pid_text, started, _ = owner.split(":", 3)
        pid = int(pid_text)
    except ValueError:
        return False
    if not pid_alive(pid):
        return False
    return not started or process_start(pid) in ("", started)


def _owner_pid(owner: str) -> int:
    return int(owner.split(":", 2)[1])


class Lease:
    """One running operation's hold on images (and, through them, their blobs and snapshots)."""

    def __init__(self, store: StoreCore):
        self.store = store
        pid = os.getpid()
        self.owner = f"{PREFIX}{pid}:{process_start(pid)}:{secrets.token_hex(4)}"
        self._held: set[str] = set()
        self._mutex = threading.Lock()

    def hold(self, image: StoredImage) -> None:
        """Keep ``image`` until ``release``; ``NotFound`` if it was deleted since it was looked up."""
        with self._mutex:
            if str(image.id) in self._held:
                return
            meta = self.store.meta
            with meta.transaction():
                if not meta.has_image(image.id):
                    raise NotFound(f"no such image: {image.id} (deleted while this build was using it)")
                for digest in (image.id, image.manifest_digest,
                               *(layer.digest for layer in image.layers()),
                               *(layer.chain_id for layer in image.layers())):
                    meta.add_ref(self.owner, digest)
            self._held.add(str(image.id))

    def release(self) -> None:
        with self._mutex:
            with self.store.meta.transaction():
                self.store.meta.drop_refs(self.owner)
            self._held.clear()


def leased_images(store: StoreCore) -> dict[str, int]:
    """Image ID -> pid of the running process that holds it; leases of dead processes are dropped here.

    Call inside a transaction, holding the store's exclusive lock (as deleters do).
    """
    meta = store.meta
    held: dict[str, int] = {}
    image_ids = meta.image_ids()
    for owner, digests in meta.refs_by_owner(PREFIX).items():
        if not _owner_alive(owner):
            meta.drop_refs(owner)
            continue
        for digest in digests:
            if digest in image_ids:
                held[digest] = _owner_pid(owner)
    return held
