"""What one COPY/ADD staged (``CopyResult``), as ``ops.stage_copy`` hands it back."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from layerlab.engine import long_paths
from layerlab.engine.deep_trees import walk_tree


class CopyResult:
    """What a COPY/ADD staged in ``out``.

    ``owners``: owners that could not be set on disk (not running as root), path -> (uid, gid) the layer
    must carry. ``reused``: files linked unchanged from the step's previous layer rather than written.
    ``files`` (every staged path, root-relative, walk order) and ``bytes`` (content bytes of the regular
    files, a hard-linked inode counted once) are read from ``out`` when asked for: a build needs neither,
    and on a 20,000-file COPY that walk is one more lstat per file."""

    def __init__(self, out: Path, owners: dict[str, tuple[int, int]], reused: int = 0) -> None:
        self.out = out
        self.owners = owners
        self.reused = reused
        self._walked: tuple[list[str], int] | None = None

    @property
    def files(self) -> list[str]:
        return self._walk()[0]

    @property
    def bytes(self) -> int:
        return self._walk()[1]

    def _walk(self) -> tuple[list[str], int]:
        """Both, from one walk of ``out`` made on the first question."""
        if self._walked is None:
            self._walked = self._walk_out()
        return self._walked

    def _walk_out(self) -> tuple[list[str], int]:
        files: list[str] = []
        total = 0
        seen: set[tuple[int, int]] = set()
        root = os.fspath(self.out)
        for directory, subdirs, names in walk_tree(root):
            subdirs.sort(key=os.fsencode)
            for name in sorted(subdirs + names, key=os.fsencode):
                full = os.path.join(directory, name)
                files.append(full[len(root) + 1:])  # relpath splits and joins: slow on deep trees
                st = long_paths.lstat(full)
                if stat.S_ISREG(st.st_mode) and (st.st_dev, st.st_ino) not in seen:
                    seen.add((st.st_dev, st.st_ino))
                    total += st.st_size
        return files, total
