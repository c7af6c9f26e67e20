"""Small file-system helpers shared by the engine and its front ends."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, Iterator


@contextmanager
def atomic_write(target: Path, *, mode: int = 0o644, prefix: str | None = None) -> Iterator[BinaryIO]:
    """Write ``target`` through a temp file beside it, renamed into place only when the block succeeds.

    A failed or interrupted write never leaves half a file under the target's name.
    """
    import tempfile  # (with shutil, bz2 and random: a few ms that a rebuild of cached steps never spends)

    directory = target.parent if str(target.parent) else Path(".")
    fd, temp = tempfile.mkstemp(prefix=prefix or f".{target.name}.", dir=directory)
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
        os.chmod(temp, mode)
        os.replace(temp, target)
    except BaseException:
        if os.path.exists(temp):
            os.unlink(temp)
        raise


def fresh_directory(parent: str | os.PathLike[str] | None, prefix: str) -> Path:
    """A new, empty directory under ``parent`` (the system's temp directory for None) only this process
    uses: ``tempfile.mkdtemp`` without loading ``tempfile`` (every build makes one; a rebuild of cached
    steps needs nothing else of it)."""
    if parent is None:
        import tempfile

        parent = tempfile.gettempdir()
    while True:
        path = Path(parent, f"{prefix}{os.urandom(6).hex()}")
        try:
            os.mkdir(path, 0o700)
            return path
        except FileExistsError:
            continue
