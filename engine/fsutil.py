"""Small file-system helpers shared by the engine and its front ends."""

from __future__ import annotations

import os
import sys
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


def fresh_directory(parent: Path | None, prefix: str) -> Path:
    """A new, empty directory under ``parent`` (the system's temp directory for None) only this process
    uses: ``tempfile.mkdtemp`` without loading ``tempfile`` (every build makes one; a rebuild of cached
    steps needs nothing else of it)."""
    if parent is None:
        import tempfile

        parent = Path(tempfile.gettempdir())
    while True:
        path = parent / f"{prefix}{os.urandom(6).hex()}"
        try:
            os.mkdir(path, 0o700)
            return path
        except FileExistsError:
            continue


# FS_IOC_GETFLAGS / FS_IOC_SETFLAGS are _IOR/_IOW('f', 1/2, long); FS_TOPDIR_FL from linux/fs.h
_LONG = 8 if sys.maxsize > 2**32 else 4
_GETFLAGS = (2 << 30) | (_LONG << 16) | (ord("f") << 8) | 1
_SETFLAGS = (1 << 30) | (_LONG << 16) | (ord("f") << 8) | 2
_TOPDIR_FL = 0x00020000


def spread_subdirectories(directory: Path) -> None:
    """Ask the file system to place each new subdirectory of ``directory`` where it finds room, not
    beside the ones made before it (``chattr +T``: the flag ext4's Orlov allocator reads).

    Why: without a journal, ext4 will not reuse an inode freed in the last minute (five while its
    inode table block is unwritten); it walks past each such free inode, from the start of the
    group, for every file it creates. A group where thousands of files were just deleted (a build's
    scratch, a removed store, a test suite) then costs up to half a millisecond per file created:
    800 files took 212 ms beside such deletions and 26 ms in a subdirectory placed by this flag.
    Every build workspace is a new subdirectory of ``tmp/``. Elsewhere the flag is unknown, and
    this does nothing."""
    import fcntl
    from array import array

    try:
        fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError:
        return
    try:
        flags = array("i", [0])
        fcntl.ioctl(fd, _GETFLAGS, flags, True)
        if not flags[0] & _TOPDIR_FL:
            flags[0] |= _TOPDIR_FL
            fcntl.ioctl(fd, _SETFLAGS, flags, True)
    except OSError:
        pass   # a file system without inode flags, or a directory that is not ours to flag
    finally:
        os.close(fd)
