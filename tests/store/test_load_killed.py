"""``layerlab load`` killed with SIGKILL at many points: fsck stays clean, no half image is listed."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

from layerlab.engine.store import Store
from tests.conftest import REPO
from tests.store.images import make_image


def big_image():
    rng = random.Random(11)
    return make_image(*({f"l{i}/blob": rng.randbytes(1_500_000)} for i in range(4)), label="load")


def load_process(root, archive):
    env = dict(os.environ, LAYERLAB_ROOT=str(root))
    return subprocess.Popen([sys.executable, "-m", "layerlab", "load", "-i", str(archive)], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def test_load_killed_at_any_point(root, tmp_path, cli):
    with Store.open(root) as store:
        image_id = store.put_image(big_image(), tags=["big:1"]).id
    archive = tmp_path / "big.tar"
    assert cli("save", "-o", str(archive), "big:1").code == 0
    assert cli("rmi", "big:1").code == 0

    started = time.monotonic()
    process = load_process(root, archive)
    assert process.wait(timeout=120) == 0, process.stderr.read().decode()
    whole = time.monotonic() - started
    assert cli("rmi", "big:1").code == 0

    outcomes = set()
    for step in range(8):
        process = load_process(root, archive)
        time.sleep(whole * (step + 0.5) / 8)
        process.send_signal(signal.SIGKILL)
        outcomes.add(process.wait(timeout=120))
        process.stderr.close()
        with Store.open(root) as store:
            assert [str(p) for p in store.fsck() if p.is_error] == []
            records = store.images()
            assert [r.id for r in records] in ([], [image_id])
            for record in records:  # a listed image is a whole image
                assert record.layer_count == 4 and record.familiar_tags == ["big:1"]
                for layer in store.image("big:1").layers():
                    assert store.blobs.verify(layer.digest) == layer.digest
            if records:
                store.remove("big:1")
    assert -signal.SIGKILL in outcomes  # at least one load really died mid-way
    result = cli("system", "prune", "-f")
    assert result.code == 0
    assert cli("fsck").out == "no problems found\n"
