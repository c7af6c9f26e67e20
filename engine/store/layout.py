"""Where things live under a store root, and the root's one lock file.

::

    ROOT/
      meta.db                 SQLite (WAL): images, layers, tags, repo digests, snapshots, refs
      lock                    flock: shared while writing, exclusive while deleting (gc, rmi)
      blobs/sha256/<hex>      content, immutable, named by digest
      ingest/<ref-hash>/      resumable partial writes: ``data`` and ``ref``
      snapshots/<chain-hex>/  one layer unpacked on its own: ``layer/`` then ``snapshot.json`` (written last)
      snapshots.format        the snapshots' form (see ``snapshot_format``)
      tmp/<pid>-<random>      scratch for writes about to be renamed into place
      tmp/<pid>-<random>.partial-output   names the temp file a ``save -o`` writes outside (``outputs``)
      tmp/<pid>-<random>.lease            the images a running build or run holds (``leases``)
      tmp/build-<pid>-…, run-<pid>-…      a build's or a run's workspace

Every ``tmp/`` entry carries its owner's pid: gc and fsck leave those of live processes alone.
A meta.db found empty or missing while blobs or snapshots exist is lost metadata, not a new store.
"""

from __future__ import annotations

import fcntl
import os
import sys
import threading
from contextlib import contextmanager
from pathlib import Path

from layerlab.engine.errors import StoreError
from layerlab.engine.oci.digest import Digest
from layerlab.engine.values import Value, set_fields

# typing costs milliseconds of every command's start-up; type checkers honour this form.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator


class Layout(Value):
    __slots__ = ("root",)
    root: Path

    def __init__(self, root: Path) -> None:
        set_fields(self, root)

    @property
    def db(self) -> Path:
        return self.root / "meta.db"

    @property
    def lock_file(self) -> Path:
        return self.root / "lock"

    @property
    def blobs(self) -> Path:
        return self.root / "blobs"

    @property
    def ingest(self) -> Path:
        return self.root / "ingest"

    @property
    def snapshots(self) -> Path:
        return self.root / "snapshots"

    @property
    def tmp(self) -> Path:
        return self.root / "tmp"

    def blob(self, digest: Digest) -> Path:
        return self.blobs / digest.algorithm / digest.hex

    def snapshot(self, chain_id: Digest) -> Path:
        return self.snapshots / chain_id.hex

    def create(self) -> None:
        try:
            for path in (self.root, self.blobs / "sha256", self.ingest, self.snapshots, self.tmp):
                path.mkdir(parents=True, exist_ok=True)
            # Run bundles with secret copies and RUN upper dirs live here: ours alone.
            if self.tmp.stat().st_mode & 0o777 != 0o700:
                self.tmp.chmod(0o700)
            _spread_subdirectories(self.tmp)   # each build's workspace is a new tree of files
        except OSError as error:
            raise StoreError(f"cannot create store at {self.root}: {error.strerror}") from None

    def metadata_missing(self) -> bool:
        """Whether ``meta.db`` is absent or empty (zero bytes, with no write-ahead log holding its pages)."""
        for path in (self.db, self.db.with_name(self.db.name + "-wal")):
            try:
                if path.stat().st_size > 0:
                    return False
            except FileNotFoundError:
                pass
        return True

    def content_counts(self) -> tuple[int, int]:
        """(blobs, snapshot directories) present on disk, whatever the metadata says."""
        blobs = sum(1 for d in self.blobs.iterdir() if d.is_dir() for _ in d.iterdir()) if self.blobs.is_dir() else 0
        snapshots = sum(1 for _ in self.snapshots.iterdir()) if self.snapshots.is_dir() else 0
        return blobs, snapshots

    def new_temp(self, suffix: str = "") -> Path:
        """A fresh name under tmp/ carrying our pid, so gc can tell live scratch from leftovers."""
        return self.tmp / f"{os.getpid()}-{os.urandom(6).hex()}{suffix}"


# FS_IOC_GETFLAGS / FS_IOC_SETFLAGS are _IOR/_IOW('f', 1/2, long); FS_TOPDIR_FL from linux/fs.h
_LONG = 8 if sys.maxsize > 2**32 else 4
_GETFLAGS = (2 << 30) | (_LONG << 16) | (ord("f") << 8) | 1
_SETFLAGS = (1 << 30) | (_LONG << 16) | (ord("f") << 8) | 2
_TOPDIR_FL = 0x00020000


def _spread_subdirectories(directory: Path) -> None:
    """Ask the file system to place each new subdirectory of ``directory`` where it finds room, not
    beside the ones made before it (``chattr +T``: the flag ext4's Orlov allocator reads).

    Why: without a journal, ext4 will not reuse an inode freed in the last minute (five while its
    inode table block is unwritten); it walks past each such free inode, from the start of the
    group, for every file it creates. A group where thousands of files were just deleted (a build's
    scratch, a removed store, a test suite) then costs up to half a millisecond per file created:
    800 files took 212 ms beside such deletions and 26 ms in a subdirectory placed by this flag.
    Every build workspace is a new subdirectory of ``tmp/``. Elsewhere the flag is unknown, and
    this does nothing."""
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


def temp_owner_alive(name: str) -> bool:
    """Whether the process that made tmp entry ``name`` still runs.

    Store scratch is named ``<pid>-…``; a build's or a run's workspace
    ``<kind>-<pid>-…`` (``build-``, ``run-``): both carry the owner's pid.
    """
    parts = name.split("-", 2)
    if parts[0].isdigit():
        pid_text = parts[0]
    elif len(parts) > 2 and parts[1].isdigit():
        pid_text = parts[1]
    else:
        return False
    pid = int(pid_text)
    return pid == os.getpid() or pid_alive(pid)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (one we may not signal still counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class RootLock:
    """Shared for writers (put, snapshot, ingest), exclusive for deleters (gc, rmi, prune).

    A deleter must not remove a blob that a concurrent writer found present
    and is about to reference; holding the shared lock from the first blob
    check to the metadata commit closes that window. Re-entrant per thread;
    each thread opens its own descriptor, so threads exclude each other just
    as processes do.
    """

    def __init__(self, path: Path):
        self.path = path
        self._local = threading.local()

    @contextmanager
    def shared(self) -> Iterator[None]:
        with self._hold(fcntl.LOCK_SH):
            yield

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._hold(fcntl.LOCK_EX):
            yield

    @contextmanager
    def _hold(self, mode: int) -> Iterator[None]:
        state = self._local
        depth = getattr(state, "depth", 0)
        if depth and (state.mode == fcntl.LOCK_EX or mode == state.mode):
            state.depth += 1
            try:
                yield
            finally:
                state.depth -= 1
            return
        if depth:
            # Upgrading shared -> exclusive would deadlock with a peer doing the same.
            raise StoreError("internal: cannot take the exclusive store lock while holding the shared one")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, mode)
        except BaseException:
            os.close(fd)
            raise
        state.mode, state.depth = mode, 1
        try:
            yield
        finally:
            state.depth = 0
            os.close(fd)  # closing releases the flock


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
