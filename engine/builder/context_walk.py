"""The build context's walk: one lstat per entry, in Go's filepath.Walk order, .dockerignore applied.

A no-op rebuild of a 20,000-file context is mostly this walk, so it does per entry only what it must:
the listing's name, one lstat, and the excluder's patterns asked about the name alone (each
pattern's verdict on the directory above is worked out once per directory, ``Matcher.in_directory``).
Each directory's names are sorted as it is listed and the walk goes depth first, so the entries come
out in the order a digest wants without a sort of the whole tree.
"""

from __future__ import annotations

import os
import stat
from operator import attrgetter
from pathlib import Path
from typing import Callable, Iterator

from layerlab.engine import long_paths
from layerlab.engine.builder.tarsum import KINDS, EntryStat
from layerlab.engine.errors import BuildError

Excluder = Callable[[str], bool]
"""Takes a context-relative posix path; True means excluded (.dockerignore).

A ``.dockerignore`` ``Matcher`` (with ``matches``, ``in_directory`` and
``excludes_dir_entirely``) is accepted as is. A plain callable with a true
``has_exceptions`` attribute (``!pattern`` lines) has its excluded
directories walked anyway, so that re-included files are found, as the
docker client does when it tars a context.
"""

_by_name = attrgetter("name")


class _Directory:
    """One directory on the walk's stack: its remaining entries, whether it is in the context, and the
    excluder for its entries (None when it excludes nothing)."""

    __slots__ = ("rel", "prefix", "entries", "recorded", "excluded")

    def __init__(self, rel: str, path: str, recorded: bool, excluded: Excluder | None):
        self.rel, self.prefix, self.recorded, self.excluded = rel, rel + "/" if rel else "", recorded, excluded
        try:
            with long_paths.scandir(path) as listing:
                self.entries: Iterator[os.DirEntry[str]] = iter(sorted(listing, key=_by_name))
        except OSError as error:
            raise BuildError(f"{path}: cannot read build context: {error.strerror}") from error


def walk_context(root: Path, excluder: Excluder | None, *, root_owned: bool) -> tuple[dict[str, EntryStat], set[str],
                                                                                   set[str]]:
    """(every entry's stat by context path in walk order, the symlinks, the implied directories).

    ``root_owned`` records every owner as 0:0, as the docker client sends a context. An implied
    directory is an excluded one holding a ``!`` exception: Docker's context tar has the file without
    its directory, and the daemon's untar makes the directory (0755, root) to hold it.
    """
    excluded_in, prune = _exclusion_rules(excluder)
    stats: dict[str, EntryStat] = {}
    symlinks: set[str] = set()
    implied: set[str] = set()
    file_kind = KINDS[stat.S_IFREG]
    pending = [_Directory("", str(root), True, excluded_in(""))]
    while pending:
        directory = pending[-1]
        prefix, excluded = directory.prefix, directory.excluded
        for entry in directory.entries:
            rel = prefix + entry.name
            below = None
            if entry.is_dir(follow_symlinks=False) and not prune(rel):
                below = _Directory(rel, entry.path, False, excluded_in(rel))
            if excluded is None or not excluded(rel):
                st = entry.stat(follow_symlinks=False)
                kind = KINDS.get(stat.S_IFMT(st.st_mode))
                if kind is not None:  # sockets cannot travel in a tar; docker skips them too
                    if not directory.recorded:
                        _imply(root, pending, stats, implied)
                    uid, gid = (0, 0) if root_owned else (st.st_uid, st.st_gid)
                    stats[rel] = EntryStat(kind[0], kind[1], stat.S_IMODE(st.st_mode), uid, gid,
                                           st.st_size if kind is file_kind else 0,
                                           st.st_mtime_ns, st.st_ctime_ns, st.st_ino, st.st_rdev)
                    if kind[0] == "symlink":
                        symlinks.add(rel)
                    elif below is not None:
                        below.recorded = True
            if below is not None:
                pending.append(below)  # this directory's entries go on once that one is done
                break
        else:
            pending.pop()
    return stats, symlinks, implied


def _imply(root: Path, pending: list[_Directory], stats: dict[str, EntryStat], implied: set[str]) -> None:
    """Record the excluded directories above an entry that is in the context, top first (walk order).
    Having no tar header, such a directory has no tarsum either: a digest names it by its path."""
    dir_kind = KINDS[stat.S_IFDIR]
    for directory in pending:
        if directory.recorded:
            continue
        st = long_paths.lstat(root / directory.rel)
        stats[directory.rel] = EntryStat(dir_kind[0], dir_kind[1], 0o755, 0, 0, 0, st.st_mtime_ns, st.st_ctime_ns,
                                         st.st_ino, 0)
        implied.add(directory.rel)
        directory.recorded = True


def _exclusion_rules(excluder) -> tuple[Callable[[str], Excluder | None], Excluder]:
    """(the excluder for one directory's entries, None when it excludes nothing; may the walk skip
    this whole directory?)

    Takes a plain callable or a .dockerignore matcher with ``matches``, ``in_directory`` and
    ``excludes_dir_entirely``. Without the latter, an excluded directory is skipped unless the
    excluder has exception (``!``) patterns.
    """
    if excluder is None or getattr(excluder, "patterns", None) == []:
        return (lambda directory: None), (lambda rel: False)
    excluded = getattr(excluder, "matches", None) or excluder
    in_directory = getattr(excluder, "in_directory", None) or (lambda directory: excluded)
    prune = getattr(excluder, "excludes_dir_entirely", None)
    if prune is None:
        prune = (lambda rel: False) if getattr(excluder, "has_exceptions", False) else excluded
    return in_directory, prune


__all__ = ["Excluder", "walk_context"]
