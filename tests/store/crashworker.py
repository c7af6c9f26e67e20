"""Run in a child process by the crash tests: write to a store and die by SIGKILL at a chosen point.

usage: python -m tests.store.crashworker ROOT MODE N
  MODE "after-blob":  SIGKILL after the N-th blob of put_image is safely stored
  MODE "mid-blob":    SIGKILL halfway through reading layer N's blob
  MODE "mid-snapshot": SIGKILL halfway through unpacking layer N into a snapshot
"""

from __future__ import annotations

import io
import os
import signal
import sys
from pathlib import Path

from layerlab.engine.store import Store
from tests.store.images import MemoryImage, MemoryLayer, make_image


def die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


class DyingStream(io.BytesIO):
    def read(self, size=-1):
        if self.tell() > len(self.getvalue()) // 2:
            die()
        return super().read(min(size, 4096) if size and size > 0 else 4096)


class DyingLayer(MemoryLayer):
    def open_blob(self):
        return DyingStream(self.blob)


def big_image() -> MemoryImage:
    rng = __import__("random").Random(7)
    files = [{f"f{i}/data": rng.randbytes(300_000), f"f{i}/small": b"s" * i} for i in range(4)]
    return make_image(*files, label="crash")


def main(root: str, mode: str, n: int) -> None:
    image = big_image()
    with Store.open(Path(root)) as store:
        if mode == "after-blob":
            count = 0

            def progress(event):
                nonlocal count
                count += 1
                if count == n:
                    die()

            store.put_image(image, tags=["crash:1"], progress=progress)
        elif mode == "mid-blob":
            layers = list(image.memory_layers)
            layers[n] = DyingLayer(layers[n].blob, layers[n].diff_id, layers[n].media_type)
            store.put_image(MemoryImage(image.config, layers), tags=["crash:1"])
        elif mode == "mid-snapshot":
            stored = store.put_image(image, tags=["crash:1"])
            layer = stored.layers()[n]
            original = type(layer).open_blob

            def dying_open(self):
                if self.digest == layer.digest:
                    return DyingStream(original(self).read())
                return original(self)

            type(layer).open_blob = dying_open
            store.merged_tree(stored)
    sys.exit(0)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
