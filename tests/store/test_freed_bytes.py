"""Deleting a tree reports the bytes it frees: a file it shares by hard link with a tree that stays
(a COPY layer linked from the step's previous layer, a merged tree) frees nothing."""

from __future__ import annotations

import os

from layerlab.engine.store.trees import freed_size, tree_size


def _blocks(path) -> int:
    return os.lstat(path).st_blocks * 512


def test_a_file_linked_from_outside_frees_nothing_and_links_inside_count_once(tmp_path):
    tree, kept = tmp_path / "tree", tmp_path / "kept"
    tree.mkdir()
    kept.mkdir()
    (tree / "own").write_bytes(b"o" * 20_000)
    (kept / "shared").write_bytes(b"s" * 40_000)
    os.link(kept / "shared", tree / "shared")
    (tree / "pair-a").write_bytes(b"p" * 60_000)
    os.link(tree / "pair-a", tree / "pair-b")
    own, shared, pair = _blocks(tree / "own"), _blocks(tree / "shared"), _blocks(tree / "pair-a")
    assert freed_size(tree) == own + pair
    assert tree_size(tree) == own + shared + 2 * pair   # what the tree's files occupy, each name counted


def test_a_copy_layer_that_shares_files_with_the_next_build_reports_only_its_own(cli, root, tmp_path):
    from layerlab.engine.store import Store
    from tests.build.conftest import write_context

    context = write_context(tmp_path / "ctx", "FROM scratch\nCOPY src/ /src/\n",
                            {f"src/m{i}.py": f"value_{i} = {i}\n" * 400 for i in range(4)})
    assert cli("build", "-q", "-t", "one", str(context)).code == 0
    (context / "src" / "m0.py").write_text("edited = True\n" * 400)
    assert cli("build", "-q", "-t", "two", str(context)).code == 0
    with Store.open(root) as store:
        image = store.image("one")
        snapshot = store.snapshot_layers(image)[-1]
        files = [path for path in snapshot.parent.rglob("*") if path.is_file()]   # the layer's, its marker's
        own = sum(_blocks(path) for path in files if path.stat().st_nlink == 1)
        assert sorted(path.name for path in files if path.stat().st_nlink > 1) == ["m1.py", "m2.py", "m3.py"]
        before = {path: path.stat().st_size for path in (root / "blobs").rglob("*") if path.is_file()}
        store.untag("one")
        report = store.prune()
    blobs = sum(size for path, size in before.items() if not path.exists())
    assert not snapshot.exists() and blobs > 0
    assert report.reclaimed == own + blobs   # not the three files the next build linked
