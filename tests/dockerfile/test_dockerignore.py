""".dockerignore reading and matching, checked against Docker's documented and tested examples."""

from __future__ import annotations

import pytest

from layerlab.engine.dockerfile.dockerignore import (
    Matcher, SenderMatcher, go_clean, is_valid_pattern, read_ignore_file, read_patterns,
)
from layerlab.engine.errors import DockerfileError


def test_reading_comments_bom_trim_and_cleaning():
    text = "\ufeff# comment\n  # not a comment\n\n  /abs/path  \n./rel/../x\n! /neg\r\n!./a/./b\n"
    assert read_ignore_file(text.encode()) == ["# not a comment", "abs/path", "x", "!neg", "!a/b"]


def test_go_clean():
    assert [go_clean(p) for p in ("", "a//b/", "./a/../../b", "/../a", "//x", "a/.")] == [
        ".", "a/b", "../b", "/a", "/x", "a"]


@pytest.mark.parametrize("patterns,path,excluded", [
    # The reference's examples.
    (["*/temp*"], "somedir/temporary.txt", True),
    (["*/temp*"], "somedir/temp", True),
    (["*/temp*"], "temp.txt", False),
    (["*/*/temp*"], "somedir/subdir/temporary.txt", True),
    (["temp?"], "tempa", True),
    (["temp?"], "tempab", False),
    (["**/*.go"], "a/b/c.go", True),
    (["**/*.go"], "c.go", True),
    (["*.md", "!README*.md", "README-secret.md"], "README.md", False),
    (["*.md", "!README*.md", "README-secret.md"], "README-secret.md", True),
    (["*.md", "!README*.md", "README-secret.md"], "other.md", True),
    (["*.md", "README-secret.md", "!README*.md"], "README-secret.md", False),
    # Parents: a match on a directory covers everything below, anchored at the root.
    (["foo"], "foo/bar/baz", True),
    (["foo"], "a/foo", False),
    (["foo/**"], "foo/x/y", True),
    (["**"], "anything/at/all", True),
    (["a/b"], "a/b/c", True),
    (["a"], "a/.git/x", True),
    # Classes and escapes as Go's filepath.Match has them.
    (["file[0-9].txt"], "file5.txt", True),
    (["file[^0-9].txt"], "file5.txt", False),
    (["\\*.txt"], "*.txt", True),
    (["\\*.txt"], "a.txt", False),
    (["a.b"], "axb", False),  # the dot is literal
    # The context root itself is never excluded.
    (["*"], ".", False),
    (["node_modules", "!node_modules/keep"], "node_modules/keep/x.js", False),
    (["node_modules", "!node_modules/keep"], "node_modules/other.js", True),
])
def test_matches(patterns, path, excluded):
    assert Matcher(patterns).matches(path) is excluded


def test_leading_slash_and_dot_in_queried_paths():
    matcher = Matcher(read_ignore_file("/build\n"))
    assert matcher.matches("build/out") and matcher.matches("/build/out") and matcher.matches("./build")


def test_bad_patterns_fail_with_a_message():
    assert not is_valid_pattern("[a") and not is_valid_pattern("a\\") and not is_valid_pattern("a[]]")
    assert is_valid_pattern("a[\\]]") and is_valid_pattern("[!a]x")
    with pytest.raises(DockerfileError, match="syntax error in pattern"):
        Matcher(["[a"])
    with pytest.raises(DockerfileError, match="illegal exclusion pattern"):
        Matcher(["!"])


def test_excludes_dir_entirely_unless_an_exception_names_a_path_below_it():
    assert Matcher(["node_modules"]).excludes_dir_entirely("node_modules")
    with_exception = Matcher(["node_modules", "!node_modules/keep"])
    assert not with_exception.excludes_dir_entirely("node_modules")
    assert with_exception.excludes_dir_entirely("node_modules/other")
    # Docker's senders test the exception's text as a prefix, not as a pattern: these open nothing.
    assert Matcher(["docs", "!**/*.md"]).excludes_dir_entirely("docs")
    assert Matcher(["logs", "!*/keep.log"]).excludes_dir_entirely("logs")
    assert not Matcher(["docs"]).excludes_dir_entirely("src")


def test_buildkit_sender_sends_an_opened_directory_itself(tmp_path):
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "blob").write_text("c")
    (tmp_path / "logs").write_text("a file, not a directory")
    base = Matcher(["cache", "!cache/none", "logs", "!logs/keep"])
    sender = SenderMatcher(base, tmp_path)
    assert base.matches("cache") and not sender.matches("cache")
    assert sender.matches("cache/blob") and not sender.excludes_dir_entirely("cache")
    assert sender.matches("logs")          # a file named like an opened directory stays excluded


def test_dockerfile_specific_ignore_file_takes_precedence(tmp_path):
    (tmp_path / ".dockerignore").write_text("general\n")
    (tmp_path / "build").mkdir()
    dockerfile = tmp_path / "build" / "app.Dockerfile"
    dockerfile.write_text("FROM scratch\n")
    assert read_patterns(tmp_path, dockerfile) == ["general"]
    (tmp_path / "build" / "app.Dockerfile.dockerignore").write_text("specific\n")
    assert read_patterns(tmp_path, dockerfile) == ["specific"]
    assert read_patterns(tmp_path) == ["general"]
    assert read_patterns(tmp_path / "build") == []
    matcher = Matcher.for_context(tmp_path, dockerfile)
    assert matcher.matches("specific/x") and not matcher.matches("general")


def test_a_walk_down_a_deep_tree_matches_each_path_as_its_ancestors_decide():
    """Each directory is matched once, then remembered (past the remembered limit too), with
    the same verdicts as matching every ancestor of every path."""
    matcher = Matcher(["d/d/x", "**/skip", "!d/d/x/d/keep"])
    path = "d/d/x"
    verdicts = []
    for depth in range(1500):   # more directories than the matcher remembers
        path += "/d"
        verdicts.append((matcher.matches(path), matcher.matches(path + "/skip"), matcher.matches(path + "/keep")))
    assert verdicts[0] == (True, True, False)         # d/d/x/d/keep: the exception, exactly
    assert set(verdicts[1:]) == {(True, True, True)}  # deeper: excluded by d/d/x above, whatever the file
    assert matcher.matches("d/e/f/skip") and not matcher.matches("d/e/f/g")


@pytest.mark.parametrize("patterns", [
    [".generated"], ["*.log", "build"], ["d1", "!d1/keep"], ["**/*.tmp", "!a/b/x.tmp"], ["a/b"],
    ["*/c*", "d1/keep"], ["a/**/z", "!a/b/z"], ["file[0-9]"],
])
def test_a_directorys_matcher_agrees_with_matches_on_every_entry(patterns):
    """The context walk asks ``in_directory`` once per directory; its answers are ``matches``'s."""
    paths = [".generated", "x.log", "build", "build/out", "d1", "d1/keep", "d1/keep/x", "d1/other", "a", "a/b",
             "a/b/x.tmp", "a/b/y.tmp", "a/b/z", "a/c/z", "a/b/c/z", "file5", "sub/file5", "cat", "sub/cat"]
    matcher = Matcher(patterns)
    for path in paths:
        directory = path.rpartition("/")[0]
        assert matcher.in_directory(directory)(path) is matcher.matches(path), (patterns, path)


def test_the_senders_directory_matcher_sends_an_opened_directory(tmp_path):
    (tmp_path / "cache" / "keep").mkdir(parents=True)
    sender = SenderMatcher(Matcher(["cache", "!cache/keep"]), tmp_path)
    assert sender.in_directory("")("cache") is sender.matches("cache") is False
    assert sender.in_directory("cache")("cache/other") is sender.matches("cache/other") is True
