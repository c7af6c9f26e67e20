"""Trees deeper than Python's recursion limit, and deeper than PATH_MAX, build, save, check and prune."""

from __future__ import annotations

import os

import pytest

from layerlab.engine import long_paths
from layerlab.engine.deep_trees import remove_tree, run_nested, walk_tree
from tests.build.conftest import write_context

pytestmark = pytest.mark.peers

# Both paths run past PATH_MAX (4,096 bytes): the kernel refuses them whole (ENAMETOOLONG),
# so every walk must go one directory at a time; both are deeper than Python's recursion limit.
COPY_DEPTH, COPY_NAME = 70, "d" * 64    # 4,550 bytes of path inside the context
RUN_DEPTH = 2500                        # "e/" 2,500 times: 5,000 bytes, made by a RUN


def make_chain(top, name: str, depth: int, bottom: bytes | None = None) -> None:
    """``top/name/name/…`` ``depth`` levels deep, one ``mkdirat`` at a time (no path grows past one name);
    ``bottom``: the content of a file ``f`` at the bottom."""
    current = os.open(top, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for _ in range(depth):
            os.mkdir(name, dir_fd=current)
            below = os.open(name, os.O_RDONLY | os.O_DIRECTORY, dir_fd=current)
            os.close(current)
            current = below
        if bottom is not None:
            fd = os.open("f", os.O_WRONLY | os.O_CREAT, 0o644, dir_fd=current)
            os.write(fd, bottom)
            os.close(fd)
    finally:
        os.close(current)


@pytest.fixture
def deep_tmp_path(tmp_path):
    """``tmp_path``, emptied with our own remove_tree: pytest's clean-up would recurse per level."""
    yield tmp_path
    for entry in tmp_path.iterdir():
        remove_tree(entry)


def test_a_deep_tree_builds_saves_checks_and_prunes(cli, root, base, deep_tmp_path):
    tmp_path = deep_tmp_path
    context = write_context(tmp_path / "ctx", f"FROM busybox AS deep\nCOPY {COPY_NAME} /{COPY_NAME}\n"
                            # nested from the bottom up: a shell's `cd` stops at PATH_MAX, rename does not
                            "RUN mkdir e && echo bottom > e/f && i=1; "
                            f"while [ $i -lt {RUN_DEPTH} ]; do mkdir t && mv e t/e && mv t e; i=$((i+1)); done\n"
                            # a step over the deep snapshots, and a copy out of them
                            "FROM deep\nRUN touch /top\n"
                            "COPY --from=deep /e /copied\n")
    make_chain(context, COPY_NAME, COPY_DEPTH, bottom=b"bottom\n")
    (context / ".dockerignore").write_text("**/skip.log\n")
    skipped = os.path.join(context, *[COPY_NAME] * COPY_DEPTH, "skip.log")
    with open(skipped, "w", opener=long_paths.opener) as stream:
        stream.write("not in the image\n")
    built = cli("build", "-q", "--network", "none", "-t", "deep", str(context))
    assert built.code == 0, built.err
    deep_files = ("/copied" + "/e" * (RUN_DEPTH - 1) + "/f", f"/{COPY_NAME}" * COPY_DEPTH + "/f")
    for path in deep_files:
        shown = cli("cat", "deep", path)
        assert shown.code == 0 and shown.out == "bottom\n", shown.err
    assert cli("cat", "deep", deep_files[1].replace("/f", "/skip.log")).code != 0   # .dockerignore held
    for args in (("save", "-o", str(tmp_path / "deep.tar"), "deep"), ("fsck",), ("rmi", "deep"),
                 ("system", "prune", "-a", "-f"), ("load", "-i", str(tmp_path / "deep.tar")),
                 ("cat", "deep", deep_files[0]), ("fsck",)):
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


def test_long_paths_resolve_as_the_kernel_does_and_notice_a_removed_directory(deep_tmp_path):
    name = "n" * 200
    (deep_tmp_path / "real").mkdir()
    make_chain(deep_tmp_path / "real", name, 25, bottom=b"one\n")  # 5,025 bytes: one path is refused
    (deep_tmp_path / "real").rename(deep_tmp_path / "moved")
    os.symlink("moved", deep_tmp_path / "link")
    deep = os.path.join(deep_tmp_path, "link", *[name] * 25)
    with pytest.raises(OSError, match="too long"):
        os.lstat(os.path.join(deep, "f"))
    with open(os.path.join(deep, "f"), "rb", opener=long_paths.opener) as stream:  # a symlink on the way is followed
        assert stream.read() == b"one\n"
    assert [entry.name for entry in long_paths.scandir(deep)] == ["f"]
    # the bottom directory removed and made again: the cached one is not used
    remove_tree(os.path.dirname(deep))
    long_paths.mkdir(os.path.dirname(deep))
    long_paths.mkdir(deep)
    assert long_paths.listdir(deep) == []
    # climbing back up goes through "..", checked against the name it came down by
    upper = os.path.dirname(os.path.dirname(os.path.dirname(deep)))
    assert long_paths.listdir(upper) == [name]
    assert long_paths.is_dir(upper) and not long_paths.is_dir(os.path.join(upper, "missing"))


def test_an_opaque_directory_over_a_deep_tree_of_its_own_layer_applies(deep_tmp_path):
    import io
    import tarfile

    from layerlab.engine.layers.apply import apply_layer

    target = deep_tmp_path / "target"
    (target / "d").mkdir(parents=True)
    (target / "old").write_text("lower")
    (target / "d" / "old").write_text("lower")
    depth = 1500   # deeper than Python's recursion limit: clearing the lower tree walked it by recursion
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for level in range(1, depth + 1):
            entry = tarfile.TarInfo("/".join(["d"] * level))
            entry.type, entry.mode = tarfile.DIRTYPE, 0o755
            archive.addfile(entry)
        archive.addfile(tarfile.TarInfo(".wh..wh..opq"))   # last: it must keep every entry above
    buffer.seek(0)
    apply_layer(buffer, target)
    assert sorted(p.name for p in target.iterdir()) == ["d"]
    assert os.listdir(target / "d") == ["d"]
    assert sum(1 for _ in walk_tree(target)) == depth + 1
