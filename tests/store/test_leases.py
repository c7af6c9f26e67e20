"""rmi, prune and gc never delete what a running build holds; a lease of a dead process holds nothing."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from layerlab.engine.builder import BuildRequest, build
from layerlab.engine.events import StepStarted
from layerlab.engine.store import Store
from tests.build.conftest import write_context
from tests.conftest import REPO
from tests.store.images import make_image


def _layerlab(root: Path, *args: str) -> subprocess.CompletedProcess:
    """Another process, as a user at a second terminal would run it."""
    return subprocess.run([sys.executable, "-m", "layerlab", "--root", str(root), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=120)


def _blob_count(root: Path) -> int:
    return len(list((root / "blobs" / "sha256").iterdir()))


def test_rmi_prune_and_gc_leave_what_a_build_lease_holds(cli, root: Path) -> None:
    base_source = make_image({"base": b"1"})
    with Store.open(root) as store:
        base = store.put_image(base_source, tags=["base:1"])
        with store.leased() as running:
            running.image("base:1")
            made = running.put_image(make_image({"step": b"2"}, base=base_source), parent=base.id,
                                     tags=["made:1"])
            blobs = _blob_count(root)

            for args in (("rmi", "made:1"), ("rmi", str(made.id)), ("rmi", "-f", str(made.id))):
                result = cli(*args)
                assert result.code != 0, args
                assert "being used by a running build" in result.err, result.err
            assert store.resolve("made:1") == made.id   # the refused rmi untagged nothing
            assert cli("image", "prune", "-a", "-f").code == 0
            assert cli("system", "prune", "-a", "-f").code == 0
            assert {str(r.id) for r in store.images()} == {str(base.id), str(made.id)}
            assert _blob_count(root) == blobs
            assert [p for p in store.fsck() if p.is_error] == []

            forced = cli("rmi", "-f", "made:1")   # -f untags; the image stays while the build uses it
            assert forced.code == 0 and "Untagged: made:1" in forced.out and "Deleted" not in forced.out
            assert store.resolve(str(made.id)) == made.id
            assert cli("image", "prune", "-a", "-f").code == 0
            assert {str(r.id) for r in store.images()} == {str(base.id), str(made.id)}

        assert cli("image", "prune", "-a", "-f").code == 0   # the lease is gone: both go
        assert store.images() == []


def test_a_lease_of_a_dead_process_holds_nothing(cli, root: Path) -> None:
    with Store.open(root) as store:
        store.put_image(make_image({"a": b"1"}), tags=["kept:1"])
    script = ("import os, sys\n"
              "from layerlab.engine.store import Store\n"
              "store = Store.open(sys.argv[1])\n"
              "view = store.leased().__enter__()\n"
              "view.image('kept:1')\n"
              "os._exit(0)  # dies holding the lease, as a killed build would\n")
    subprocess.run([sys.executable, "-c", script, str(root)], cwd=REPO, check=True, timeout=120)
    result = cli("rmi", "kept:1")
    assert result.code == 0, result.err
    assert cli("system", "prune", "-a", "-f").code == 0
    assert _blob_count(root) == 0


def test_deleters_in_another_process_leave_a_running_build_alone(root: Path, tmp_path: Path) -> None:
    """As the build's last step starts, another process runs image prune -a and system prune -a.

    Unheld, the step before (an untagged image nothing builds on yet) and then the base would go,
    with their snapshots and the build's scratch directory.
    """
    with Store.open(root) as store:
        store.put_image(make_image({"etc/base": b"base"}), tags=["base:1"])
    context = write_context(tmp_path / "ctx", "FROM base:1\nCOPY one /one\nCOPY two /two\n",
                            {"one": "1", "two": "2"})
    seen: list[tuple[str, subprocess.CompletedProcess]] = []

    def events(event) -> None:
        if isinstance(event, StepStarted) and event.step.index == 3:
            for args in (("image", "prune", "-a", "-f"), ("system", "prune", "-a", "-f")):
                seen.append((" ".join(args), _layerlab(root, *args)))

    with Store.open(root) as store:
        result = build(BuildRequest(context_dir=context, tags=["app:1"]), store, events)
        assert [(name, done.returncode) for name, done in seen] == [("image prune -a -f", 0),
                                                                    ("system prune -a -f", 0)]
        app = store.image("app:1")
        assert str(app.id) == result.image_id
        assert store.resolve("base:1") and app.parent is not None and store.resolve(str(app.parent)) == app.parent
        assert [p for p in store.fsck() if p.is_error] == []
        assert _layerlab(root, "cat", "app:1", "/one").stdout == "1"
