"""Trees deeper than Python's recursion limit build, save, check and prune."""

from __future__ import annotations

import os

import pytest

from layerlab.engine.deep_trees import remove_tree, run_nested, walk_tree
from tests.build.conftest import write_context

pytestmark = pytest.mark.peers

COPY_DEPTH = 600     # a COPY of a context tree this deep raised RecursionError
RUN_DEPTH = 1500     # as did a RUN that made one 2,000 deep (here one-letter names stay under PATH_MAX)


def make_chain(top, name: str, depth: int) -> None:
    """``top/name/name/…`` ``depth`` levels deep (os.makedirs itself recurses once per level)."""
    path = str(top)
    for _ in range(depth):
        path = os.path.join(path, name)
        os.mkdir(path)


@pytest.fixture
def deep_tmp_path(tmp_path):
    """``tmp_path``, emptied with our own remove_tree: pytest's clean-up would recurse per level."""
    yield tmp_path
    for entry in tmp_path.iterdir():
        remove_tree(entry)


def test_a_deep_tree_builds_saves_checks_and_prunes(cli, root, base, deep_tmp_path):
    tmp_path = deep_tmp_path
    context = write_context(tmp_path / "ctx", "FROM busybox\nCOPY d /d\n"
                            f"RUN i=0; while [ $i -lt {RUN_DEPTH} ]; do mkdir e; cd e; i=$((i+1)); done; "
                            "echo bottom > f\n")
    deep = context / "/".join(["d"] * COPY_DEPTH)
    make_chain(context, "d", COPY_DEPTH)
    (deep / "f").write_text("bottom\n")
    built = cli("build", "-q", "--network", "none", "-t", "deep", str(context))
    assert built.code == 0, built.err
    for args in (("save", "-o", str(tmp_path / "deep.tar"), "deep"), ("fsck",), ("rmi", "deep"),
                 ("system", "prune", "-a", "-f"), ("load", "-i", str(tmp_path / "deep.tar")), ("fsck",)):
        result = cli(*args)
        assert result.code == 0 and "Traceback" not in result.err, (args, result.err)


def test_remove_tree_and_walk_tree_go_deeper_than_path_max(deep_tmp_path):
    tmp_path = deep_tmp_path
    top = os.open(tmp_path, os.O_RDONLY)
    current = top
    for _ in range(5000):  # 10,000 characters of path: beyond PATH_MAX, so no full path is ever used
        os.mkdir("d", dir_fd=current)
        below = os.open("d", os.O_RDONLY, dir_fd=current)
        os.symlink("/etc", "link", dir_fd=below)
        if current != top:
            os.close(current)
        current = below
    os.close(current)
    os.close(top)
    remove_tree(tmp_path / "d")
    assert list(tmp_path.iterdir()) == []
    make_chain(tmp_path, "w", 1500)
    assert sum(1 for _ in walk_tree(tmp_path)) == 1501


def test_a_nested_walk_returns_and_raises_like_recursion():
    def depth(n: int):
        if n == 0:
            return 0
        below = yield depth(n - 1)
        return below + 1

    assert run_nested(depth(50_000)) == 50_000

    def failing(n: int):
        if n == 0:
            raise ValueError("bottom")
        try:
            yield failing(n - 1)
        except ValueError as error:
            raise ValueError(f"{error}+") from None

    with pytest.raises(ValueError, match=r"bottom\+{3}$"):
        run_nested(failing(3))
