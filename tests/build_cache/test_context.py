"""Context hashing: tarsum-style checksums, COPY source sets, the stat cache, .dockerignore."""

from __future__ import annotations

import json
import marshal
import os
import socket
import sqlite3
from pathlib import Path

import pytest

from layerlab.engine.builder.context import BuildContext, hash_context
from layerlab.engine.builder.source_patterns import go_match, normalize_source
from layerlab.engine.builder.stat_cache import StatCache, keys_blob
from layerlab.engine.builder.stored_sources import StoredSources, file_count, mtime_changes, mtimes_digest
from layerlab.engine.errors import BuildError, NotFound

# Digests Docker 20.10's classic builder wrote into `docker history` for this
# very context (see make_reference_context): COPY a.txt, COPY a.txt src/one,
# COPY src/o*.
DOCKER_FILE_A = "file:00ec16333078d287782d462baefc8bb9eb0231dc3aefba3ca3e2f7e5cf0cadda"
DOCKER_MULTI = "multi:c4017fd9e55b9bdbe06f01b3e104849fab6c6cd1ea1ca9a9f5789fa395f83375"
DOCKER_FILE_ONE = "file:30b2e907f14329331e537ccdcbb6f4755726b3ca6f0559eb76931ce1c4c8f888"
DOCKER_DIR_SRC = "dir:5e08658e90821ded57cd8e8dccffa92034588c1722e12c6a74121f08b1fa62c9"
DOCKER_DIR_ALL = "dir:79a2e58e89440890f2dc738924e5b55d4af6cf106be59870c9497d3104e5a456"
REFERENCE_DOCKERFILE = """FROM scratch
COPY a.txt /app/
COPY --chown=1:2 a.txt /b
COPY src /src
COPY . /all/
COPY a.txt src/one /m/
COPY src/o* /w/
"""


def make_reference_context(root: Path) -> Path:
    (root / "src" / "sub").mkdir(parents=True)
    (root / "a.txt").write_text("hello\n")
    (root / "Dockerfile").write_text(REFERENCE_DOCKERFILE)
    (root / "Dockerfile").chmod(0o644)
    (root / "src" / "one").write_text("x")
    (root / "src" / "empty").write_text("")
    (root / "src" / "link").symlink_to("one")
    for path in (root / "a.txt", root / "src" / "one", root / "src" / "empty"):
        path.chmod(0o644)
    (root / "src").chmod(0o755)
    (root / "src" / "sub").chmod(0o750)
    for path in root.rglob("*"):
        os.lchown(path, 0, 0) if os.geteuid() == 0 else None
    return root


def test_file_dir_and_multi_digests_match_docker(tmp_path):
    ctx = BuildContext(make_reference_context(tmp_path), owner="root")
    assert ctx.sources(["a.txt"]).digest == DOCKER_FILE_A
    assert ctx.sources(["./a.txt"]).digest == DOCKER_FILE_A
    assert ctx.sources(["/a.txt"]).digest == DOCKER_FILE_A
    assert ctx.sources(["a.txt", "src/one"]).digest == DOCKER_MULTI
    assert ctx.sources(["src/o*"]).digest == DOCKER_FILE_ONE
    # directories (with a symlink, named by the file it points to) and the whole context
    assert ctx.sources(["src"]).digest == DOCKER_DIR_SRC
    assert ctx.sources(["."]).digest == DOCKER_DIR_ALL


def test_symlinks_resolve_inside_the_context(tmp_path):
    (tmp_path / "real").write_text("r")
    (tmp_path / "abs").symlink_to("/real")
    (tmp_path / "up").symlink_to("../../real")
    (tmp_path / "dangling").symlink_to("nowhere")
    ctx = BuildContext(tmp_path)
    real = ctx.sources(["real"]).digest
    assert ctx.sources(["abs"]).digest == real and ctx.sources(["up"]).digest == real
    assert ctx.sources(["dangling"]).digest == "file:dangling"
    assert ctx.sources(["abs"]).files["abs"].link == "/real"
    assert set(ctx.sources(["abs"]).files) == {"abs", "real"}


def test_a_symlink_to_a_directory_is_named_as_that_directory(tmp_path):
    """The classic builder stats a source through its links: ``COPY dlink`` reads ``dir:`` of ``d``."""
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "x").write_text("x")
    (tmp_path / "dlink").symlink_to("d")
    (tmp_path / "rootlink").symlink_to(".")
    ctx = BuildContext(tmp_path)
    linked = ctx.sources(["dlink"])
    assert linked.digest == ctx.sources(["d"]).digest and linked.digest.startswith("dir:")
    assert set(linked.files) == {"dlink", "d", "d/x"}
    assert ctx.sources(["rootlink"]).digest == ctx.sources(["."]).digest
    assert ctx.sources(["dlink/x"]).digest == ctx.sources(["d/x"]).digest    # a path through the link
    with pytest.raises(NotFound):
        ctx.sources(["dlink/missing"])


def test_directory_source_covers_its_tree_including_itself(tmp_path):
    ctx = BuildContext(make_reference_context(tmp_path))
    source = ctx.sources(["src"])
    assert source.digest.startswith("dir:")
    assert list(source.files) == ["src", "src/empty", "src/link", "src/one", "src/sub"]
    assert source.files["src/link"].kind == "symlink" and source.files["src/link"].link == "one"
    assert source.files["src/sub"].mode == 0o750
    whole = ctx.sources(["."])
    assert set(whole.files) == {"Dockerfile", "a.txt", "src", "src/empty", "src/link", "src/one", "src/sub"}
    # a change deep in the tree changes the directory digest
    (tmp_path / "src" / "sub").chmod(0o755)
    assert BuildContext(tmp_path).sources(["src"]).digest != source.digest


def test_a_source_set_reads_as_the_entries_behind_it(tmp_path):
    """Entries are made as they are read: the same ones, in path order (not walk order), and the same
    mtimes digest as entries made at once, so records written before still compare equal."""
    for name in ("a/x", "a/y/z", "a-b"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    (tmp_path / "ln").symlink_to("a/x")
    ctx = BuildContext(tmp_path)
    files = ctx.sources(["."]).files
    made = ctx.entries()
    assert list(files) == sorted(made) == ["a", "a-b", "a/x", "a/y", "a/y/z", "ln"]
    assert files == made and dict(files.items()) == made
    assert "a/x" in files and "nope" not in files and files.get("nope") is None
    assert files["ln"].link == "a/x" and file_count(files) == 3
    stored = StoredSources(json.dumps({path: entry.to_json() for path, entry in made.items()}), "", "record")
    assert mtimes_digest(files) == mtimes_digest(dict(files)) == mtimes_digest(stored)
    os.utime(tmp_path / "a-b", ns=(1, 1))
    assert mtime_changes(BuildContext(tmp_path).sources(["."]).files, stored) == ["a-b"]


def checksum(root: Path, rel: str, **kwargs) -> str:
    return BuildContext(root, **kwargs).entry(rel).checksum


def test_mtime_alone_does_not_change_a_checksum(tmp_path):
    (tmp_path / "f").write_text("data")
    before = checksum(tmp_path, "f")
    os.utime(tmp_path / "f", ns=(1_000_000_000, 1_000_000_000))
    assert checksum(tmp_path, "f") == before


def test_content_mode_owner_and_link_target_change_a_checksum(tmp_path):
    (tmp_path / "f").write_text("data")
    (tmp_path / "l").symlink_to("f")
    base_f, base_l = checksum(tmp_path, "f"), checksum(tmp_path, "l")
    (tmp_path / "f").write_text("datb")
    content = checksum(tmp_path, "f")
    assert content != base_f
    (tmp_path / "f").chmod(0o755)
    mode = checksum(tmp_path, "f")
    assert mode != content
    (tmp_path / "l").unlink()
    (tmp_path / "l").symlink_to("g")
    assert checksum(tmp_path, "l") != base_l
    if os.geteuid() != 0:
        pytest.skip("chown needs root")
    os.chown(tmp_path / "f", 1000, 1000)
    assert checksum(tmp_path, "f") != mode
    # docker's client sends every file as 0:0; owner="root" does the same
    assert checksum(tmp_path, "f", owner="root") == mode


def test_renaming_a_file_changes_its_checksum(tmp_path):
    (tmp_path / "a").write_text("same")
    (tmp_path / "b").write_text("same")
    ctx = BuildContext(tmp_path)
    assert ctx.entry("a").checksum != ctx.entry("b").checksum


def test_excluded_paths_do_not_exist_for_the_build(tmp_path):
    (tmp_path / "app.py").write_text("print(1)")
    (tmp_path / "node_modules" / "x").mkdir(parents=True)
    (tmp_path / "node_modules" / "x" / "index.js").write_text("1")
    (tmp_path / "debug.log").write_text("a")

    def excluder(rel: str) -> bool:
        return rel == "node_modules" or rel.endswith(".log")

    before = BuildContext(tmp_path, excluder=excluder)
    assert set(before.paths) == {"app.py"}
    digest = before.sources(["."]).digest
    (tmp_path / "debug.log").write_text("changed, and ignored")
    (tmp_path / "node_modules" / "x" / "index.js").write_text("2")
    (tmp_path / "more.log").write_text("new")
    assert BuildContext(tmp_path, excluder=excluder).sources(["."]).digest == digest
    with pytest.raises(NotFound, match="excluded by .dockerignore"):
        BuildContext(tmp_path, excluder=excluder).sources(["debug.log"])
    assert BuildContext(tmp_path).sources(["."]).digest != digest


def test_excluded_directory_is_walked_when_the_excluder_has_exceptions(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "keep.md").write_text("k")
    (tmp_path / "docs" / "drop.md").write_text("d")

    class Excluder:
        has_exceptions = True

        def __call__(self, rel: str) -> bool:
            return rel.startswith("docs") and rel != "docs/keep.md"

    context = BuildContext(tmp_path, excluder=Excluder())
    # "docs" itself is excluded, yet there as Docker's daemon makes it to hold keep.md: 0755, root,
    # named by its path (it has no tar header to sum) in a COPY digest.
    assert context.paths == ("docs", "docs/keep.md")
    docs = context.entry("docs")
    assert (docs.mode, docs.uid, docs.gid) == (0o755, 0, 0)
    assert context.entries()["docs"].checksum == "docs"


def test_wildcards_follow_go_rules(tmp_path):
    for name in ("a.txt", "b.txt", "c.md", "dir/d.txt", "dir/sub/e.txt"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    ctx = BuildContext(tmp_path)
    assert ctx.sources(["*.txt"]).matches == ("a.txt", "b.txt")
    assert ctx.sources(["[ab].txt"]).matches == ("a.txt", "b.txt")
    assert ctx.sources(["[^a].txt"]).matches == ("b.txt",)
    assert ctx.sources(["dir/*"]).matches == ("dir/d.txt", "dir/sub")
    assert ctx.sources(["?.md"]).digest.startswith("file:")
    assert ctx.sources(["*.txt"]).digest.startswith("multi:")
    assert set(ctx.sources(["dir/*"]).files) == {"dir/d.txt", "dir/sub", "dir/sub/e.txt"}
    with pytest.raises(BuildError, match="no source files were specified"):
        ctx.sources(["*.rs"])
    with pytest.raises(NotFound, match="missing.txt"):
        ctx.sources(["missing.txt"])
    assert go_match("*", "a") and not go_match("*", "a/b") and go_match(r"\*", "*")
    assert normalize_source("./dir/../a.txt") == "a.txt" and normalize_source("/") == "."


def test_sockets_are_skipped(tmp_path):
    (tmp_path / "f").write_text("x")
    server = socket.socket(socket.AF_UNIX)
    try:
        server.bind(str(tmp_path / "sock"))
        assert BuildContext(tmp_path).paths == ("f",)
    finally:
        server.close()


def test_stat_cache_skips_unchanged_files_and_sees_changes(tmp_path):
    ctx_dir = tmp_path / "ctx"
    ctx_dir.mkdir()
    for i in range(30):
        (ctx_dir / f"f{i:02}").write_text(f"content {i}")
    db = tmp_path / "stat.db"

    def run(**kwargs):
        with StatCache(db) as cache:
            return hash_context(ctx_dir, stat_cache=cache, racy_margin_ns=0, **kwargs)

    cold = run()
    assert cold.files_read == 30
    warm = run()
    assert warm.files_read == 0
    assert warm.hash_all() == cold.hash_all()
    os.utime(ctx_dir / "f03", ns=(5_000_000_000, 5_000_000_000))  # touch: re-read, same checksum
    touched = run()
    assert touched.files_read == 1
    assert touched.entry("f03") == cold.entry("f03")
    (ctx_dir / "f04").write_text("content 9")  # same size, new content
    os.utime(ctx_dir / "f04", ns=(6_000_000_000, 6_000_000_000))
    edited = run()
    assert edited.files_read == 1
    assert edited.entry("f04").checksum != cold.entry("f04").checksum
    (ctx_dir / "f05").unlink()
    assert run().files_read == 0
    with StatCache(db) as cache:
        assert "f05" not in cache.load(f"{ctx_dir.resolve()}\0keep")


def test_two_builds_sharing_the_stat_cache_keep_what_each_learned(tmp_path):
    """Two builds of one context at once: the one that saves last keeps what the other saved."""
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "f").write_text("f")
    with StatCache(tmp_path / "stat.db") as first, StatCache(tmp_path / "stat.db") as second:
        early = BuildContext(tmp_path / "ctx", stat_cache=first, racy_margin_ns=0)
        early.hash_all()
        (tmp_path / "ctx" / "g").write_text("g")
        late = BuildContext(tmp_path / "ctx", stat_cache=second, racy_margin_ns=0)
        late.hash_all()
        late.save()
        early.save()  # it never saw g: its write must not drop g's entry
    with StatCache(tmp_path / "stat.db") as cache:
        assert hash_context(tmp_path / "ctx", stat_cache=cache, racy_margin_ns=0).files_read == 0


def walked_keys(root: Path) -> list[tuple[str, int, int, int, int]]:
    """(path, size, mtime_ns, ino, ctime_ns) of every non-empty file, in the walk's order."""
    stats = [(rel, (root / rel).lstat()) for rel in BuildContext(root).paths]
    return [(rel, st.st_size, st.st_mtime_ns, st.st_ino, st.st_ctime_ns) for rel, st in stats
            if (root / rel).is_file() and not (root / rel).is_symlink() and st.st_size]


def stored_keys(keys: list[tuple[str, int, int, int, int]]) -> bytes:
    return keys_blob([path for path, *_ in keys], [tuple(stat) for _, *stat in keys])


def test_an_unchanged_context_takes_every_checksum_from_one_comparison(tmp_path):
    """The row keeps the files' stats in walk order: an unchanged walk matches it whole; a touched
    file does not, and its entry alone is read again (the others are compared one by one)."""
    ctx = tmp_path / "ctx"
    for name in ("b/x", "a-b", "a/y", "empty"):
        (ctx / name).parent.mkdir(parents=True, exist_ok=True)
        (ctx / name).write_text("" if name == "empty" else name)
    name = f"{ctx.resolve()}\0keep"
    with StatCache(tmp_path / "stat.db") as cache:
        cold = hash_context(ctx, stat_cache=cache, racy_margin_ns=0)
        checksums = cache.snapshot(name).checksums_for(stored_keys(walked_keys(ctx)))
        assert checksums == tuple(cold.entry(rel).checksum for rel, *_ in walked_keys(ctx))
        assert [rel for rel, *_ in walked_keys(ctx)] == ["a/y", "a-b", "b/x"]
        os.utime(ctx / "a-b", ns=(5_000_000_000, 5_000_000_000))
        assert cache.snapshot(name).checksums_for(stored_keys(walked_keys(ctx))) is None
        touched = hash_context(ctx, stat_cache=cache, racy_margin_ns=0)
        assert touched.files_read == 1 and touched.hash_all() == cold.hash_all()
        assert cache.snapshot(name).checksums_for(stored_keys(walked_keys(ctx))) == checksums


def test_a_stat_cache_row_of_the_earlier_form_is_used_and_rewritten(tmp_path):
    """A row holding a dict of entries (before the stats were kept as one text) spares the reads, and
    the build that uses it rewrites it in the current form."""
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "f").write_text("kept")
    name = f"{(tmp_path / 'ctx').resolve()}\0keep"
    with StatCache(None) as memory:
        entry = hash_context(tmp_path / "ctx", stat_cache=memory, racy_margin_ns=0).entry("f")
    (_, size, mtime, ino, ctime), = walked_keys(tmp_path / "ctx")
    with StatCache(tmp_path / "stat.db"):
        pass
    db = sqlite3.connect(tmp_path / "stat.db")
    with db:
        db.execute("INSERT INTO stat_entries VALUES (?, ?)",
                   (name, marshal.dumps({"f": (size, mtime, ino, ctime, entry.checksum)})))
    db.close()
    with StatCache(tmp_path / "stat.db") as cache:
        assert hash_context(tmp_path / "ctx", stat_cache=cache, racy_margin_ns=0).files_read == 0
        assert cache.snapshot(name).checksums_for(stored_keys(walked_keys(tmp_path / "ctx"))) == (entry.checksum,)


def test_a_stat_cache_of_one_row_per_file_is_kept(tmp_path):
    """A stat cache written before one row per context: its entries still spare the reads."""
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "f").write_text("kept")
    with StatCache(None) as memory:
        entry = hash_context(tmp_path / "ctx", stat_cache=memory, racy_margin_ns=0).entry("f")
    stat = (tmp_path / "ctx" / "f").stat()
    db = sqlite3.connect(tmp_path / "stat.db")
    db.execute("CREATE TABLE stat_cache (context TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL,"
               " mtime_ns INTEGER NOT NULL, ino INTEGER NOT NULL, ctime_ns INTEGER NOT NULL, checksum TEXT NOT NULL,"
               " PRIMARY KEY (context, path))")
    db.execute("INSERT INTO stat_cache VALUES (?, 'f', ?, ?, ?, ?, ?)",
               (f"{(tmp_path / 'ctx').resolve()}\0keep", stat.st_size, stat.st_mtime_ns, stat.st_ino,
                stat.st_ctime_ns, entry.checksum))
    db.commit()
    db.close()
    with StatCache(tmp_path / "stat.db") as cache:
        again = hash_context(tmp_path / "ctx", stat_cache=cache, racy_margin_ns=0)
    assert again.files_read == 0 and again.entry("f") == entry


def test_a_damaged_stat_cache_entry_is_read_again(tmp_path):
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "f").write_text("x")
    with StatCache(tmp_path / "stat.db") as cache:
        assert hash_context(tmp_path / "ctx", stat_cache=cache, racy_margin_ns=0).files_read == 1
    db = sqlite3.connect(tmp_path / "stat.db")
    db.execute("UPDATE stat_entries SET entries = x'ff00'")
    db.commit()
    db.close()
    with StatCache(tmp_path / "stat.db") as cache:
        assert hash_context(tmp_path / "ctx", stat_cache=cache, racy_margin_ns=0).files_read == 1


@pytest.mark.parametrize("damaged", [{"f": 5}, {"f": (1, 2)}, {"f": (1, 2, 3, 4, 5)}, {"f": None}, {7: "x"}])
def test_a_stat_cache_entry_of_the_wrong_shape_is_read_again(tmp_path, damaged):
    (tmp_path / "ctx").mkdir()
    (tmp_path / "ctx" / "f").write_text("x")
    with StatCache(tmp_path / "stat.db") as cache:
        first = hash_context(tmp_path / "ctx", stat_cache=cache, racy_margin_ns=0)
    stat = (tmp_path / "ctx" / "f").stat()
    if damaged == {"f": (1, 2, 3, 4, 5)}:  # the file's own stat, with a checksum that is not text
        damaged = {"f": (stat.st_size, stat.st_mtime_ns, stat.st_ino, stat.st_ctime_ns, 5)}
    db = sqlite3.connect(tmp_path / "stat.db")
    db.execute("UPDATE stat_entries SET entries = ?", (marshal.dumps(damaged),))
    db.commit()
    db.close()
    with StatCache(tmp_path / "stat.db") as cache:
        again = hash_context(tmp_path / "ctx", stat_cache=cache, racy_margin_ns=0)
    assert again.files_read == 1 and again.entries() == first.entries()


def test_racy_entries_are_not_trusted(tmp_path):
    (tmp_path / "ctx").mkdir()
    target = tmp_path / "ctx" / "f"
    target.write_text("aaaa")
    with StatCache(tmp_path / "stat.db") as cache:
        first = hash_context(tmp_path / "ctx", stat_cache=cache)  # file is seconds old at most: not cached
        stat = target.stat()
        target.write_text("bbbb")
        os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size and mtime
        second = hash_context(tmp_path / "ctx", stat_cache=cache)
    assert second.entry("f").checksum != first.entry("f").checksum


def test_missing_context_is_reported(tmp_path):
    with pytest.raises(NotFound, match="not a directory"):
        BuildContext(tmp_path / "nope")


def test_dockerignore_matcher_is_accepted_as_is(tmp_path):
    from layerlab.engine.dockerfile.dockerignore import Matcher

    for name in ("app.py", "build/out.o", "build/keep.txt", "logs/a.log", "deep/x/y.log"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    matcher = Matcher(["build", "!build/keep.txt", "logs", "**/*.log"])
    ctx = BuildContext(tmp_path, excluder=matcher)
    assert set(ctx.paths) == {"app.py", "build", "build/keep.txt", "deep", "deep/x"}   # "build" holds an exception


def test_paths_come_in_go_walk_order(tmp_path):
    """Depth first, names in order: "a/x" before "a-b" although "-" sorts before "/" in a whole path."""
    for name in ("a/x", "a/y/z", "a-b", "B", "a.c"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(name)
    assert BuildContext(tmp_path).paths == ("B", "a", "a/x", "a/y", "a/y/z", "a-b", "a.c")
