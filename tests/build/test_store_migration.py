"""A store made before per-layer snapshots (a whole tree per chain ID) keeps working after one notice."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess

from layerlab.engine.store import Store
from tests.build.conftest import write_context


def _old_tree_digest(root) -> str:
    """The shape digest the old ``snapshot.json`` carried (paths, types, modes, owners, sizes, links)."""
    outer = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = os.path.join(dirpath, name)
            info = os.lstat(path)
            line = (f"{os.path.relpath(path, root)}\0{stat.S_IFMT(info.st_mode)}\0{stat.S_IMODE(info.st_mode):o}"
                    f"\0{info.st_uid}\0{info.st_gid}")
            if stat.S_ISREG(info.st_mode):
                line += f"\0{info.st_size}"
            elif stat.S_ISLNK(info.st_mode):
                line += f"\0{os.readlink(path)}"
            outer.update(line.encode("utf-8", "surrogateescape") + b"\n")
    return "sha256:" + outer.hexdigest()


def make_old_format(root) -> int:
    """Turn every snapshot into the old shape: ``rootfs/`` with the chain's whole tree, then ``snapshot.json``."""
    with Store.open(root) as store:
        images = [store.image(str(record.id)) for record in store.images()]
        chains = {}
        for image in images:
            for index, layer in enumerate(image.layers()):
                chains[layer.chain_id] = (image, index)
        for chain_id, (image, index) in chains.items():
            merged = store.merged_tree(image, index)
            snapshot = store.layout.snapshot(chain_id)
            subprocess.run(["cp", "-a", "--link", str(merged), str(snapshot / "rootfs")], check=True)
            layers = image.layers()
            marker = {"chain_id": str(chain_id), "diff_id": str(layers[index].diff_id),
                      "parent": str(layers[index - 1].chain_id) if index else None,
                      "tree_digest": _old_tree_digest(snapshot / "rootfs"), "created": 1.0}
            (snapshot / "snapshot.json").write_text(json.dumps(marker, sort_keys=True))
        for snapshot in store.layout.snapshots.iterdir():
            for name in ("layer", "merged"):
                shutil.rmtree(snapshot / name, ignore_errors=True)
    (root / "snapshots.format").unlink()
    return len(chains)


def test_an_old_store_is_migrated_on_first_open_with_one_notice(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN echo old > /f && rm -f /bin/true\n")
    built = cli("build", "-q", "-t", "app", str(context))
    assert built.code == 0, built.err
    count = make_old_format(root)

    first = cli("images")
    notices = [line for line in first.err.splitlines() if "migrated" in line]
    assert first.code == 0 and len(notices) == 1, first.err
    assert f"removed {count} whole-image snapshots" in notices[0]
    assert not any((path / "rootfs").exists() for path in (root / "snapshots").iterdir())
    assert "migrated" not in cli("images").err  # once

    run = cli("run", "app", "cat", "/f")
    assert run.code == 0 and run.out == "old\n", run.err
    missing = cli("run", "app", "ls", "/bin/true")
    assert missing.code != 0  # the RUN's whiteout still hides the base layer's file
    again = write_context(tmp_path / "again", "FROM app\nRUN cat /f > /g\n")
    rebuilt = cli("build", "-q", str(again))
    assert rebuilt.code == 0, rebuilt.err
    with Store.open(root) as store:
        assert (store.merged_tree(store.image(rebuilt.out.strip())) / "g").read_text() == "old\n"
        assert [str(p) for p in store.fsck() if p.is_error] == []
