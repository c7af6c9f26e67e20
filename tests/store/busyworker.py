"""Run in child processes by the concurrency test: put, tag, remove, prune and gc on one shared root.

usage: python -m tests.store.busyworker ROOT WORKER_ID ROUNDS
Every worker shares a base layer with every other, so deletes race with puts of the same blobs.
"""

from __future__ import annotations

import sys
from pathlib import Path

from layerlab.engine.errors import Conflict, NotFound
from layerlab.engine.store import Store
from tests.store.images import make_image

SHARED = {"shared/base": b"b" * 50_000}


def main(root: str, worker: int, rounds: int) -> None:
    base = make_image(SHARED)
    with Store.open(Path(root)) as store:
        for round_ in range(rounds):
            mine = make_image({f"w{worker}/r{round_}": str(round_).encode() * 1000}, base=base)
            store.put_image(mine, tags=[f"w{worker}:{round_}", "contended:latest"])
            store.tag(f"w{worker}:{round_}", f"w{worker}:copy")
            if round_ % 2:
                for name in (f"w{worker}:{round_ - 1}", "contended:latest"):
                    try:
                        store.remove(name)
                    except (NotFound, Conflict):
                        pass  # another worker moved or removed it first
            if round_ % 3 == 2:
                store.prune()
                store.gc()
    sys.exit(0)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
