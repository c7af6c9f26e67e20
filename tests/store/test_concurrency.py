"""Several processes using one root at once end with a consistent store."""

from __future__ import annotations

import subprocess
import sys

from layerlab.engine.store import Store
from tests.conftest import REPO

ROUNDS = 8
WORKERS = 3


def test_parallel_writers_and_deleters_leave_a_consistent_store(root):
    Store.open(root).close()
    workers = [subprocess.Popen([sys.executable, "-m", "tests.store.busyworker", str(root), str(w), str(ROUNDS)],
                                cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for w in range(WORKERS)]
    for worker in workers:
        _, err = worker.communicate(timeout=300)
        assert worker.returncode == 0, err.decode()
    with Store.open(root) as store:
        assert [str(p) for p in store.fsck() if p.is_error] == []
        tags = {t for r in store.images() for t in r.familiar_tags}
        for w in range(WORKERS):
            # The last round of each worker is never removed by anyone.
            assert f"w{w}:{ROUNDS - 1}" in tags
            image = store.image(f"w{w}:{ROUNDS - 1}")
            for layer in image.layers():
                assert store.blobs.verify(layer.digest) == layer.digest
        store.gc()
        assert store.fsck() == []


def test_threads_sharing_one_store(store):
    import threading

    from tests.store.images import make_image

    base = make_image({"shared": b"s" * 10_000})
    failures = []

    def work(worker: int) -> None:
        try:
            for round_ in range(6):
                image = make_image({f"t{worker}": str(round_).encode()}, base=base)
                store.put_image(image, tags=[f"t{worker}:{round_}"])
                if round_:
                    store.remove(f"t{worker}:{round_ - 1}")
                store.gc()
        except Exception as error:  # reported below with the thread's name
            failures.append(f"thread {worker}: {error!r}")

    threads = [threading.Thread(target=work, args=(w,)) for w in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert sorted(t for r in store.images() for t in r.familiar_tags) == ["t0:5", "t1:5", "t2:5"]
    assert store.fsck() == []
