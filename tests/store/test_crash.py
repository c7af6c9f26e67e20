"""A writer killed with SIGKILL at any point leaves a store fsck calls clean, with no half image."""

from __future__ import annotations

import signal
import subprocess
import sys

import pytest

from layerlab.engine.store import Store
from tests.conftest import REPO
from tests.store.images import make_image


def run_worker(root, mode: str, n: int) -> int:
    result = subprocess.run([sys.executable, "-m", "tests.store.crashworker", str(root), mode, str(n)],
                            cwd=REPO, capture_output=True)
    assert result.returncode in (0, -signal.SIGKILL), result.stderr.decode()
    return result.returncode


def assert_clean_without_half_image(root, expect_image: bool = False):
    with Store.open(root) as store:
        errors = [str(p) for p in store.fsck() if p.is_error]
        assert errors == []
        names = [t for r in store.images() for t in r.familiar_tags]
        assert ("crash:1" in names) == expect_image
        assert names.count("crash:1") <= 1
        # The kept earlier image is whole.
        assert store.image("kept").layers()
        store.gc()
        assert [str(p) for p in store.fsck() if p.subject.startswith(("tmp/", "sha256:"))] == []


@pytest.fixture
def seeded_root(root):
    with Store.open(root) as store:
        store.put_image(make_image({"kept": b"k"}), tags=["kept"])
    return root


@pytest.mark.parametrize("n", [1, 2, 3, 5])  # config, manifest, first layer, third layer
def test_killed_between_blobs(seeded_root, n):
    assert run_worker(seeded_root, "after-blob", n) == -signal.SIGKILL
    assert_clean_without_half_image(seeded_root)


@pytest.mark.parametrize("n", [0, 3])
def test_killed_in_the_middle_of_a_blob(seeded_root, n):
    assert run_worker(seeded_root, "mid-blob", n) == -signal.SIGKILL
    assert [p.name.endswith(".blob") for p in (seeded_root / "tmp").iterdir()] == [True]  # died mid-write
    assert_clean_without_half_image(seeded_root)


def test_killed_after_the_last_blob_then_retried(seeded_root):
    run_worker(seeded_root, "after-blob", 6)  # all blobs in, killed before the commit
    assert_clean_without_half_image(seeded_root)
    assert run_worker(seeded_root, "after-blob", 99) == 0  # a retry completes
    assert_clean_without_half_image(seeded_root, expect_image=True)


def test_killed_while_unpacking_a_snapshot(seeded_root):
    assert run_worker(seeded_root, "mid-snapshot", 2) == -signal.SIGKILL
    assert len(list((seeded_root / "snapshots").iterdir())) == 2  # layers 0 and 1 finished, 2 did not
    assert_clean_without_half_image(seeded_root, expect_image=True)
    with Store.open(seeded_root) as store:
        image = store.image("crash:1")
        rootfs = store.merged_tree(image)
        assert sorted(p.name for p in rootfs.iterdir()) == ["f0", "f1", "f2", "f3"]
        assert store.fsck() == []
