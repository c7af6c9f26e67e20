"""Finding COPY/ADD sources in a source root, the way Docker's classic builder does.

A source is looked up inside its root (the build context, or a stage's
rootfs for ``--from``) with every symlink followed *inside* that root, the
last component included: a symlink named as a source is copied as the file
or directory it points to, under its own name. A wildcard source matches
root-relative paths with Go's ``filepath.Match`` (``*`` never crosses
``/``), visiting the tree in lexical order, and each match is then looked
up like a plain source. Paths the excluder rejects (``.dockerignore``) do not
exist as far as COPY is concerned, as they never reach Docker's daemon.
"""

from __future__ import annotations

import os
import posixpath
import stat
from pathlib import Path
from typing import Callable, Iterator

from layerlab.engine.builder.source_patterns import go_match, has_wildcards
from layerlab.engine.builder.copy.tree import lstat_in, resolve_in_scope
from layerlab.engine.errors import BuildError
from layerlab.engine import long_paths
from layerlab.engine.deep_trees import walk_tree
from layerlab.engine.record_type import record

Excluder = Callable[[str], bool]


@record(frozen=True)
class Source:
    """One source after lookup."""

    name: str           # the path as matched, root-relative ("." for the root): its base names the copy
    rel: str            # the physical root-relative path after following symlinks ("" for the root)
    st: os.stat_result  # of ``rel`` (never a symlink)
    kept: str           # for --parents: the path kept under the destination ("" without --parents)


class ExclusionRules:
    """``.dockerignore`` as a lookup and a walk see it: excluded paths, and whole subtrees to skip."""

    def __init__(self, excluder: Excluder | None):
        if excluder is None:
            self.excluded: Excluder = lambda rel: False
            self.prune: Excluder = lambda rel: False
            return
        self.excluded = getattr(excluder, "matches", None) or excluder
        prune = getattr(excluder, "excludes_dir_entirely", None)
        if prune is None:
            prune = (lambda rel: False) if getattr(excluder, "has_exceptions", False) else self.excluded
        self.prune = prune

    def hides(self, rel: str, root: Path | None = None) -> bool:
        """True when ``rel`` or a directory above it is not in the context.

        With ``root``, an excluded directory holding an included ``!`` exception is not hidden:
        the daemon's untar makes it to hold that file."""
        if not rel:
            return False
        parts = rel.split("/")
        if any(self.prune("/".join(parts[:depth])) for depth in range(1, len(parts))):
            return True
        if self.excluded(rel):
            return root is None or self.prune(rel) or not self.includes_below(root, rel)
        return False

    def includes_below(self, root: Path, rel: str) -> bool:
        """Whether some path under the directory ``rel`` is in the context."""
        top = os.path.join(root, rel)
        try:
            if not stat.S_ISDIR(long_paths.lstat(top).st_mode):  # a symlink to a directory is not one
                return False
        except OSError:
            return False
        for directory, subdirs, names in walk_tree(top):
            rel_dir = rel + directory[len(top):]
            subdirs[:] = [d for d in subdirs if not self.prune(f"{rel_dir}/{d}")]
            if any(not self.excluded(f"{rel_dir}/{name}") for name in names + subdirs):
                return True
        return False


def clean_source(source: str) -> str:
    """As moby does: leading "/" and one "./" dropped; then cleaned ("." for the root)."""
    trimmed = source.lstrip("/")
    if trimmed.startswith("./"):
        trimmed = trimmed[2:]
    return posixpath.normpath(trimmed) if trimmed else "."


def split_pivot(source: str) -> tuple[str, str]:
    """For ``--parents``: ``a/./b/c`` keeps ``b/c`` under the destination; without "/./" all is kept."""
    trimmed = source.lstrip("/")
    while trimmed.startswith("./"):
        trimmed = trimmed[2:]
    if "/./" in trimmed:
        base, _, rest = trimmed.partition("/./")
        return clean_source(base), rest
    return ".", trimmed


class SourceFinder:
    def __init__(self, root: Path, excluder: Excluder | None, command: str, *, from_image: bool,
                 extra_excludes: Callable[[str], bool] | None = None):
        self.root = Path(root)
        self.rules = ExclusionRules(excluder)
        self.command = command
        self.from_image = from_image
        self.extra_excludes = extra_excludes or (lambda rel: False)

    def _lookup(self, rel: str) -> os.stat_result | None:
        if self.rules.hides(rel, self.root):
            return None
        return lstat_in(self.root, rel)

    def _readlink(self, rel: str) -> str:
        return long_paths.readlink(os.path.join(self.root, rel))

    def find(self, pattern: str, *, parents: bool) -> list[Source]:
        cleaned = clean_source(pattern)
        if cleaned == ".." or cleaned.startswith("../"):
            raise BuildError(f"{self.command} failed: forbidden path outside the build context: {pattern}")
        pivot = split_pivot(pattern)[0] if parents else "."
        if has_wildcards(cleaned):
            matches = [rel for rel in self.walk() if go_match(cleaned, rel) and not self.extra_excludes(rel)]
        else:
            matches = [cleaned]
        return [self._one(name, pivot) for name in matches]

    def _one(self, name: str, pivot: str) -> Source:
        rel = resolve_in_scope(name, self._lookup, self._readlink) if name != "." else ""
        st = self._lookup(rel) if rel else long_paths.lstat(self.root)
        if st is None or (rel and self.extra_excludes(name)):
            missing = f"stat {name}: file does not exist"
            if self.from_image:
                raise BuildError(f"{self.command} failed: {missing}")
            raise BuildError(f"{self.command} failed: file not found in build context or excluded by "
                             f".dockerignore: {missing}")
        kept = ""
        if pivot != "." or name != ".":
            kept = name if pivot == "." else posixpath.relpath(name, pivot)
            kept = "" if kept == "." else kept
        return Source(name=name, rel=rel, st=st, kept=kept)

    def walk(self) -> Iterator[str]:
        """Root-relative paths in Go's ``filepath.Walk`` order (lexical, depth first), no symlink followed."""
        stack = [iter(self._children(""))]
        while stack:
            rel = next(stack[-1], None)
            if rel is None:
                stack.pop()
                continue
            st = long_paths.lstat(os.path.join(self.root, rel))
            if stat.S_ISDIR(st.st_mode):
                if self.rules.prune(rel):
                    continue
                stack.append(iter(self._children(rel)))
            if not self.rules.excluded(rel):
                yield rel

    def _children(self, rel: str) -> list[str]:
        directory = os.path.join(self.root, rel) if rel else os.fspath(self.root)
        try:
            names = sorted(long_paths.listdir(directory), key=os.fsencode)
        except OSError as error:
            raise BuildError(f"{self.command} failed: cannot read {rel or '.'}: {error.strerror}") from None
        return [f"{rel}/{name}" if rel else name for name in names]
