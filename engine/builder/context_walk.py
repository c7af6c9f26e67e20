"""The build context's walk: one lstat per entry, in Go's filepath.Walk order, .dockerignore applied.

A no-op rebuild of a 20,000-file context is mostly this walk, so it does per entry only what it must:
the listing's name, one lstat (by name, relative to the open directory), and the excluder's patterns
asked about the name alone (each pattern's verdict on the directory above is worked out once per
directory, ``Matcher.in_directory``).
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
_Listed = tuple[str, str, bool, "os.stat_result | None"]
"""One listed entry: (context path, name, is it a directory, its lstat; None when excluded)."""
_READ_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
_entry_stat = tuple.__new__  # EntryStat without a Python call per entry


class _Directory:
    """One directory on the walk's stack: its remaining entries, whether it is in the context, and the
    excluder for its entries (None when it excludes nothing)."""

    __slots__ = ("rel", "path", "prefix", "entries", "recorded", "excluded")

    def __init__(self, rel: str, path: str, recorded: bool, excluded: Excluder | None):
        self.rel, self.path, self.prefix, self.recorded = rel, path, rel + "/" if rel else "", recorded
        self.excluded = excluded
        try:
            self.entries: Iterator[_Listed] = iter(self._listed())
        except OSError as error:
            raise BuildError(f"{path}: cannot read build context: {error.strerror}") from error

    def _listed(self) -> list[_Listed]:
        """Every entry, sorted by name, asked about while its directory is open: an entry listed from
        the directory's fd is stat'ed by name relative to it, which spares the kernel a lookup of every
        component above (and works at any depth)."""
        if long_paths.is_long(self.path):
            return self._asked(sorted(long_paths.scandir(self.path), key=_by_name))
        fd = os.open(self.path, _READ_DIR)
        try:
            with os.scandir(fd) as listing:
                return self._asked(sorted(listing, key=_by_name))
        finally:
            os.close(fd)

    def _asked(self, listing: list[os.DirEntry[str]]) -> list[_Listed]:
        prefix, excluded = self.prefix, self.excluded
        return [(rel, entry.name, entry.is_dir(follow_symlinks=False),
                 None if excluded is not None and excluded(rel) else entry.stat(follow_symlinks=False))
                for entry in listing for rel in (prefix + entry.name,)]


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
    kinds, file_kind, symlink_kind = KINDS.get, KINDS[stat.S_IFREG], KINDS[stat.S_IFLNK]
    file_type, permissions = stat.S_IFMT, stat.S_IMODE
    pending = [_Directory("", str(root), True, excluded_in(""))]
    while pending:
        directory = pending[-1]
        for rel, name, is_dir, st in directory.entries:
            below = None
            if is_dir and not prune(rel):
                below = _Directory(rel, os.path.join(directory.path, name), False, excluded_in(rel))
            if st is not None:
                kind = kinds(file_type(st.st_mode))
                if kind is not None:  # sockets cannot travel in a tar; docker skips them too
                    if not directory.recorded:
                        _imply(root, pending, stats, implied)
                    stats[rel] = _entry_stat(EntryStat, (
                        kind[0], kind[1], permissions(st.st_mode), 0 if root_owned else st.st_uid,
                        0 if root_owned else st.st_gid, st.st_size if kind is file_kind else 0,
                        st.st_mtime_ns, st.st_ino, st.st_ctime_ns, st.st_rdev))
                    if kind is symlink_kind:
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
        stats[directory.rel] = EntryStat(dir_kind[0], dir_kind[1], 0o755, 0, 0, 0, st.st_mtime_ns, st.st_ino,
                                         st.st_ctime_ns, 0)
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
