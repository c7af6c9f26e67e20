""".dockerignore exactly as Docker reads and matches it (moby/patternmatcher).

Reading: a BOM is dropped; a line is a comment only when ``#`` is its very
first character; each line is trimmed; ``!`` marks an exception; the rest is
cleaned like Go's ``filepath.Clean`` and one leading ``/`` dropped.

Matching: patterns are anchored at the context root and use Go's
``filepath.Match`` syntax (``*`` and ``?`` stop at ``/``, ``[...]`` classes,
``\\`` escapes) plus ``**`` for any number of directories. A pattern that
matches a parent directory matches everything below it. The last matching
line wins: an exclusion applies only while a path is included, and an
exception only while it is excluded.

``<Dockerfile>.dockerignore`` beside the Dockerfile takes precedence over the
context's ``.dockerignore``.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Callable

from layerlab.engine.errors import DockerfileError
from layerlab.engine.record_type import field, record

_ESCAPE_IN_REGEX = frozenset(".+()|{}$")
_REMEMBERED_DIRS = 1024


def go_clean(path: str) -> str:
    """Go's filepath.Clean for '/'-separated paths."""
    if path == "":
        return "."
    framed = f"/{path}/"
    if "//" not in framed and "/./" not in framed and "/../" not in framed:
        return path  # already clean: a deep path is not split and joined again
    rooted = path.startswith("/")
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts and parts[-1] != "..":
                parts.pop()
            elif not rooted:
                parts.append("..")
            continue
        parts.append(part)
    cleaned = "/".join(parts)
    if rooted:
        return "/" + cleaned
    return cleaned or "."


def read_ignore_file(text: str | bytes) -> list[str]:
    """The patterns of a .dockerignore (ignorefile.ReadAll)."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="surrogateescape")
    patterns: list[str] = []
    for number, line in enumerate(text.split("\n")):
        if number == 0 and line.startswith("\ufeff"):
            line = line[1:]
        line = line.rstrip("\r") if line.endswith("\r") else line
        if line.startswith("#"):
            continue
        pattern = line.strip()
        if not pattern:
            continue
        invert = pattern.startswith("!")
        if invert:
            pattern = pattern[1:].strip()
        if pattern:
            pattern = go_clean(pattern)
            if len(pattern) > 1 and pattern.startswith("/"):
                pattern = pattern[1:]
        patterns.append("!" + pattern if invert else pattern)
    return patterns


def ignore_file_for(context_dir: str | Path, dockerfile_path: str | Path | None = None) -> Path | None:
    """Which ignore file applies: ``<Dockerfile>.dockerignore`` beside the Dockerfile, else the context's."""
    if dockerfile_path is not None:
        specific = Path(str(dockerfile_path) + ".dockerignore")
        if specific.is_file():
            return specific
    general = Path(context_dir) / ".dockerignore"
    return general if general.is_file() else None


def read_patterns(context_dir: str | Path, dockerfile_path: str | Path | None = None) -> list[str]:
    """The ignore patterns that apply to a build of ``context_dir``; none when no file exists."""
    path = ignore_file_for(context_dir, dockerfile_path)
    if path is None:
        return []
    return read_ignore_file(path.read_bytes())


# --- Go's filepath.Match syntax check ------------------------------------------------------

def _scan_chunk(pattern: str) -> tuple[str, str]:
    """(chunk, rest) after leading stars, as filepath.Match's scanChunk."""
    pattern = pattern.lstrip("*")
    in_range = False
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            if i + 1 < len(pattern):
                i += 1
        elif ch == "[":
            in_range = True
        elif ch == "]":
            in_range = False
        elif ch == "*" and not in_range:
            break
        i += 1
    return pattern[:i], pattern[i:]


def _class_char(chunk: str) -> tuple[str, bool]:
    """getEsc: one character of a class; ok False on a malformed class."""
    if not chunk or chunk[0] in "-]":
        return chunk, False
    if chunk[0] == "\\":
        chunk = chunk[1:]
        if not chunk:
            return chunk, False
    rest = chunk[1:]
    return rest, bool(rest)


def _chunk_is_valid(chunk: str) -> bool:
    while chunk:
        ch = chunk[0]
        if ch == "[":
            chunk = chunk[1:]
            if chunk.startswith("^"):
                chunk = chunk[1:]
            ranges = 0
            while True:
                if chunk.startswith("]") and ranges > 0:
                    chunk = chunk[1:]
                    break
                chunk, ok = _class_char(chunk)
                if not ok:
                    return False
                if chunk.startswith("-"):
                    chunk, ok = _class_char(chunk[1:])
                    if not ok:
                        return False
                ranges += 1
        elif ch == "\\":
            chunk = chunk[1:]
            if not chunk:
                return False
            chunk = chunk[1:]
        else:
            chunk = chunk[1:]
    return True


def is_valid_pattern(pattern: str) -> bool:
    """Whether Go's filepath.Match accepts the pattern's syntax."""
    rest = pattern
    while rest:
        chunk, rest = _scan_chunk(rest)
        if not _chunk_is_valid(chunk):
            return False
    return True


# --- matching ---------------------------------------------------------------------------------

@record
class _Pattern:
    cleaned: str
    exclusion: bool
    dirs: list[str]
    kind: str = ""  # exact, prefix, suffix, regexp
    regex: re.Pattern[str] | None = None
    # directory -> whether it or a directory above it matches; a walk asks about neighbours
    dir_hits: dict[str, bool] = field(default_factory=dict)

    def matches_dir_or_above(self, directory: str) -> bool:
        """Whether ``directory`` or any directory above it matches, remembered per directory so a deep
        walk costs one match per directory instead of one per ancestor of every path."""
        pending = []
        above = directory
        while above and above not in self.dir_hits:
            pending.append(above)
            above = above.rpartition("/")[0]
        hit = self.dir_hits[above] if above else False
        for below in reversed(pending):
            hit = hit or self.match(below)
            self.dir_hits[below] = hit
        while len(self.dir_hits) > _REMEMBERED_DIRS:   # the oldest first: a walk goes on below the newest
            del self.dir_hits[next(iter(self.dir_hits))]
        return hit

    def compile(self) -> None:
        regex = "^"
        kind = "exact"
        pattern = self.cleaned
        i = 0
        first = True
        while i < len(pattern):
            ch = pattern[i]
            i += 1
            if ch == "*":
                if i < len(pattern) and pattern[i] == "*":
                    i += 1
                    if i < len(pattern) and pattern[i] == "/":
                        i += 1  # treat **/ as **
                    if i >= len(pattern):
                        if kind == "exact":
                            kind = "prefix"
                        else:
                            regex += ".*"
                            kind = "regexp"
                    else:
                        regex += "(.*/)?"
                        kind = "regexp"
                    if first:
                        kind = "suffix"
                else:
                    regex += "[^/]*"
                    kind = "regexp"
            elif ch == "?":
                regex += "[^/]"
                kind = "regexp"
            elif ch in _ESCAPE_IN_REGEX:
                regex += "\\" + ch
            elif ch == "\\":
                if i < len(pattern):
                    regex += "\\" + pattern[i]
                    i += 1
                    kind = "regexp"
                else:
                    regex += "\\\\"
            elif ch in "[]":
                regex += ch
                kind = "regexp"
            else:
                regex += ch  # Go passes anything else through, even "^"
            first = False
        if kind == "regexp":
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.regex = re.compile(regex + r"\Z")
        self.kind = kind

    def match(self, path: str) -> bool:
        if self.kind == "exact":
            return path == self.cleaned
        if self.kind == "prefix":
            return path.startswith(self.cleaned[:-2])
        if self.kind == "suffix":
            suffix = self.cleaned[2:]
            if path.endswith(suffix):
                return True
            return suffix.startswith("/") and path == suffix[1:]
        assert self.regex is not None
        return self.regex.match(path) is not None


class Matcher:
    """Decides which context paths a set of .dockerignore patterns excludes."""

    def __init__(self, patterns: list[str], source: str = ".dockerignore"):
        self.patterns: list[_Pattern] = []
        for number, raw in enumerate(patterns, 1):
            text = raw.strip()
            if not text:
                continue
            text = go_clean(text)
            exclusion = text.startswith("!")
            if exclusion:
                if len(text) == 1:
                    raise DockerfileError('illegal exclusion pattern: "!"', filename=source)
                text = text[1:]
            if not is_valid_pattern(text):
                raise DockerfileError(f"syntax error in pattern: {raw}", filename=source)
            pattern = _Pattern(text, exclusion, text.split("/"))
            try:
                pattern.compile()
            except re.error:
                raise DockerfileError(f"syntax error in pattern: {raw}", filename=source) from None
            self.patterns.append(pattern)
        self.has_exceptions = any(p.exclusion for p in self.patterns)

    @classmethod
    def for_context(cls, context_dir: str | Path, dockerfile_path: str | Path | None = None) -> Matcher:
        path = ignore_file_for(context_dir, dockerfile_path)
        if path is None:
            return cls([])
        return cls(read_ignore_file(path.read_bytes()), source=path.name)

    def matches(self, relpath: str) -> bool:
        """True when the context path (relative, '/'-separated) is excluded."""
        if not self.patterns:
            return False
        path = go_clean(relpath.lstrip("/"))
        if path == ".":
            return False
        parent = path.rsplit("/", 1)[0] if "/" in path else "."
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue  # only an exception can change an excluded path, only an exclusion an included one
            hit = pattern.match(path) or (parent != "." and pattern.matches_dir_or_above(parent))
            if hit:
                matched = not pattern.exclusion
        return matched

    def in_directory(self, directory: str) -> Callable[[str], bool]:
        """``matches`` for the entries of one directory ("" for the context root), each given as its
        clean context path: every pattern's verdict on the directory and those above it is worked out
        here once, so a walk pays one match per pattern and entry."""
        checks = [(pattern.exclusion, bool(directory) and pattern.matches_dir_or_above(directory), pattern.match)
                  for pattern in self.patterns]
        if not self.has_exceptions:  # then any pattern that matches excludes: the usual .dockerignore
            if any(above for _, above, _ in checks):
                return _always
            exact = frozenset(pattern.cleaned for pattern in self.patterns if pattern.kind == "exact")
            others = [pattern.match for pattern in self.patterns if pattern.kind != "exact"]
            if not others:
                return exact.__contains__
            return lambda path: path in exact or any(match(path) for match in others)

        def matches(path: str) -> bool:
            matched = False
            for exclusion, above, match in checks:
                if exclusion != matched:
                    continue  # as in ``matches``: only an exception can change an excluded path
                if above or match(path):
                    matched = not exclusion
            return matched

        return matches

    def excludes_dir_entirely(self, reldir: str) -> bool:
        """True when the directory and everything below it is excluded, so a walk skips it.

        Docker's context senders (the CLI's tar for the classic builder, fsutil's walker for
        BuildKit) enter an excluded directory only when the text of some ``!`` exception starts with
        its path and a ``/``: ``!logs/keep.log`` opens ``logs``, while ``!*/keep.log`` or
        ``!**/*.md`` re-include nothing under an excluded directory."""
        return self.matches(reldir) and not self.exceptions_name_below(reldir)

    def exceptions_name_below(self, reldir: str) -> bool:
        prefix = go_clean(reldir.lstrip("/")) + "/"
        return any(p.exclusion and (p.cleaned + "/").startswith(prefix) for p in self.patterns)


def _always(path: str) -> bool:
    return True


class SenderMatcher(Matcher):
    """The same patterns as BuildKit's context sender applies them (fsutil's walker in docker 20.10).

    An excluded directory that the walk enters (``excludes_dir_entirely``) is sent itself, with its
    own metadata, so ``!cache/none`` sends ``cache`` even when empty; the classic builder's context
    has only what is re-included under it. Files are matched as by ``Matcher``.
    """

    def __init__(self, matcher: Matcher, root: Path | str):
        self.patterns = matcher.patterns
        self.has_exceptions = matcher.has_exceptions
        self.root = Path(root)

    def matches(self, relpath: str) -> bool:
        return super().matches(relpath) and self._sent_as_excluded(relpath)

    def in_directory(self, directory: str) -> Callable[[str], bool]:
        matches = super().in_directory(directory)
        return lambda path: matches(path) and self._sent_as_excluded(path)

    def _sent_as_excluded(self, relpath: str) -> bool:
        """An excluded path stays out unless it is a directory the walk enters for an exception."""
        if not self.exceptions_name_below(relpath):
            return True
        path = self.root / relpath.lstrip("/")
        return not path.is_dir() or path.is_symlink()
