"""The content store: immutable blobs named by digest.

Every write goes to a temp file, is fsynced, verified against the digest it
claims, then renamed into ``blobs/sha256/<hex>``; a reader never sees a
partial blob. Partial writes can be resumed by a ref name (``Ingest``).
"""

from __future__ import annotations

import io
import os
import threading
from contextlib import contextmanager
from pathlib import Path

from layerlab.engine.errors import DigestMismatch, NotFound
from layerlab.engine.layers.verify import verify_stream
from layerlab.engine.oci.digest import CHUNK, Digest, Hasher
from layerlab.engine.store.layout import Layout, RootLock, fsync_dir

# typing costs milliseconds of every command's start-up; type checkers honour this form.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import BinaryIO


class ContentStore:
    def __init__(self, layout: Layout, lock: RootLock):
        self.layout = layout
        self._lock = lock
        # Blobs this process hashed in full (written, or read to the end), by the file's identity then.
        self._verified: dict[Digest, tuple[int, int, int, int]] = {}
        # Per thread: directories whose renames await one fsync (see batched_dir_syncs).
        self._local = threading.local()

    # -- reading -------------------------------------------------------------------
    def path(self, digest: Digest) -> Path:
        return self.layout.blob(digest)

    def has(self, digest: Digest) -> bool:
        return self.layout.blob(digest).is_file()

    def size(self, digest: Digest) -> int:
        try:
            return self.layout.blob(digest).stat().st_size
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found in store") from None

    def open(self, digest: Digest) -> BinaryIO:
        try:
            return open(self.layout.blob(digest), "rb")
        except FileNotFoundError:
            raise NotFound(f"blob {digest} not found in store") from None

    def open_verified(self, digest: Digest, *, what: str | None = None) -> BinaryIO:
        """The blob as a stream that raises ``DigestMismatch`` (naming ``what``) at its end if it was damaged.

        Every read that serves a blob's bytes out of the store goes through
        here, so damage on disk is never passed on with success. A command
        that reads one layer twice (``cat`` scans it, then reads the file)
        hashes it once: a blob this process already hashed in full comes back
        unwrapped while its inode, size, mtime and ctime are unchanged (any
        write through the file system moves its ctime).
        """
        stream = self.open(digest)
        stamp = _stamp(os.fstat(stream.fileno()))
        if self._verified.get(digest) == stamp:
            return stream
        return verify_stream(stream, digest, what or f"blob {digest}",
                             on_verified=lambda: self._verified.__setitem__(digest, stamp))

    def read(self, digest: Digest, *, what: str | None = None) -> bytes:
        """The whole blob, checked against its digest (configs and manifests: small, and always checked)."""
        with self.open(digest) as stream:
            data = stream.read()
        actual = Digest.of_bytes(data, digest.algorithm)
        if actual != digest:
            raise DigestMismatch(what or f"blob {digest} in the store", str(digest), str(actual))
        return data

    def digests(self) -> Iterator[Digest]:
        """Every blob present (whatever references it)."""
        for algorithm_dir in sorted(self.layout.blobs.iterdir()) if self.layout.blobs.is_dir() else ():
            for entry in sorted(algorithm_dir.iterdir()):
                if entry.is_file():
                    yield Digest(algorithm_dir.name, entry.name)

    def verify(self, digest: Digest) -> Digest:
        """Rehash a stored blob; returns the digest it really has."""
        with self.open(digest) as stream:
            return Digest.of_stream(stream, digest.algorithm)

    # -- writing -------------------------------------------------------------------
    def ingest(self, stream: BinaryIO, expected: Digest | None = None, size: int | None = None,
               *, what: str = "blob", replace: bool = False) -> Digest:
        """Copy ``stream`` in; returns its digest.

        With ``expected``, a blob already present is not read again (unless
        ``replace``: the present copy is damaged), and content that hashes
        differently raises ``DigestMismatch`` naming ``what`` and the digest,
        leaving nothing behind. ``size`` is checked when given.
        """
        with self._lock.shared():
            if expected is not None and not replace and self.has(expected):
                return expected
            temp = self.layout.new_temp(".blob")
            hasher = Hasher(expected.algorithm if expected else "sha256")
            try:
                with open(temp, "wb") as out:
                    while chunk := stream.read(CHUNK):
                        hasher.update(chunk)
                        out.write(chunk)
                    out.flush()
                    os.fsync(out.fileno())
                return self._commit(temp, hasher, expected, size, what)
            finally:
                temp.unlink(missing_ok=True)

    def ingest_bytes(self, data: bytes, expected: Digest | None = None, *, what: str = "blob") -> Digest:
        return self.ingest(io.BytesIO(data), expected, len(data), what=what)

    def put_together(self, blobs: Sequence[tuple[bytes | Path, Digest | None, str]]) -> list[Digest]:
        """Store each ``(content, expected, what)`` with their fsyncs overlapped, so a step's layer,
        config and manifest wait for the disk once, not once each. ``content`` is bytes (written and
        checked, as ``ingest_bytes``), or a ``Path`` on the store's file system that its writer hashed to
        ``expected`` as it wrote it: that file becomes the blob by a rename (no copy, no second read),
        unless the blob is present already; then the file is left where it is."""
        with self._lock.shared():
            temps: list[Path] = []
            try:
                pending: list[tuple[Path, Hasher | None, Digest | None, int, str] | None] = []
                for content, expected, what in blobs:
                    if expected is not None and self.has(expected):
                        pending.append(None)
                    elif isinstance(content, Path):
                        pending.append((content, None, expected, 0, what))
                    else:
                        temp = self.layout.new_temp(".blob")
                        temps.append(temp)
                        temp.write_bytes(content)
                        hasher = Hasher(expected.algorithm if expected else "sha256")
                        hasher.update(content)
                        pending.append((temp, hasher, expected, len(content), what))
                _fsync_together([entry[0] for entry in pending if entry is not None])
                return [blob[1] if entry is None else self._commit(*entry) for entry, blob in zip(pending, blobs)]
            finally:
                for temp in temps:
                    temp.unlink(missing_ok=True)

    def _commit(self, temp: Path, hasher: Hasher | None, expected: Digest | None, size: int | None,
                what: str) -> Digest:
        """Move a synced file in as its blob; ``hasher`` None: the file's writer hashed it to ``expected``."""
        if hasher is None:
            assert expected is not None
            actual = expected
        else:
            actual = hasher.digest()
            if expected is not None and actual != expected:
                raise DigestMismatch(what, str(expected), str(actual))
            if size is not None and hasher.size != size:
                raise DigestMismatch(f"{what} {actual}: size", str(size), str(hasher.size))
        target = self.layout.blob(actual)
        target.parent.mkdir(parents=True, exist_ok=True)
        os.chmod(temp, 0o444)  # blobs are immutable; a stray writer gets EACCES (unless it is root)
        os.replace(temp, target)  # same content if a peer got there first
        self._sync_dir(target.parent)
        self._verified[actual] = _stamp(os.stat(target))
        return actual

    def adopt(self, path: Path, digest: Digest) -> bool:
        """Move ``path``, a file its writer hashed to ``digest``, in as that blob (see ``put_together``);
        False, with ``path`` left alone, when the blob is present already."""
        self.put_together([(path, digest, str(digest))])
        return not path.exists()

    # -- durable renames -----------------------------------------------------------------
    @contextmanager
    def batched_dir_syncs(self) -> Iterator[None]:
        """Within the block, this thread's blob renames share one fsync per directory (all blobs live in
        one), done by ``flush_dir_syncs`` or at the end of the outermost block. Call ``flush_dir_syncs``
        before recording anything that refers to the blobs."""
        outermost = getattr(self._local, "pending", None) is None
        if outermost:
            self._local.pending = set()
        try:
            yield
        finally:
            if outermost:
                try:
                    self.flush_dir_syncs()
                finally:
                    self._local.pending = None

    def flush_dir_syncs(self) -> None:
        """Make every rename this thread's open batch holds durable."""
        pending = getattr(self._local, "pending", None)
        while pending:
            fsync_dir(pending.pop())

    def _sync_dir(self, directory: Path) -> None:
        pending = getattr(self._local, "pending", None)
        if pending is None:
            fsync_dir(directory)
        else:
            pending.add(directory)

    def delete(self, digest: Digest) -> bool:
        """Remove a blob; callers hold the exclusive lock and know nothing references it."""
        try:
            self.layout.blob(digest).unlink()
            return True
        except FileNotFoundError:
            return False

    # -- resumable ingest --------------------------------------------------------------
    def writer(self, ref: str, expected: Digest | None = None, size: int | None = None) -> "Ingest":
        """A resumable write named ``ref``: write, stop, come back later and ``offset`` says where."""
        return Ingest(self, ref, expected, size)

    def ingests(self) -> list["Ingest"]:
        out = []
        for entry in sorted(self.layout.ingest.iterdir()):
            ref_file = entry / "ref"
            if ref_file.is_file():
                out.append(Ingest(self, ref_file.read_text(), None, None))
        return out


def _fsync_together(paths: Sequence[Path]) -> None:
    """fsync every file, at once: the file system commits concurrent syncs together."""
    errors: list[OSError] = []

    def sync(path: Path) -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as error:
            errors.append(error)

    helpers = [threading.Thread(target=sync, args=(path,)) for path in paths[1:]]
    for helper in helpers:
        helper.start()
    if paths:
        sync(paths[0])
    for helper in helpers:
        helper.join()
    if errors:
        raise errors[0]


def _stamp(info: os.stat_result) -> tuple[int, int, int, int]:
    return info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns


class Ingest:
    """A partial blob under ``ingest/<sha256(ref)>/``: ``data`` grows by ``write``; ``commit`` verifies and renames."""

    def __init__(self, content: ContentStore, ref: str, expected: Digest | None, size: int | None):
        import hashlib  # here, not at the top: opening the store to list images hashes nothing

        self.content = content
        self.ref = ref
        self.expected = expected
        self.size = size
        self.dir = content.layout.ingest / hashlib.sha256(ref.encode()).hexdigest()
        self.dir.mkdir(parents=True, exist_ok=True)
        (self.dir / "ref").write_text(ref)
        self.data_path = self.dir / "data"
        self.data_path.touch(exist_ok=True)

    @property
    def offset(self) -> int:
        """Bytes already written: resume the source from here."""
        return self.data_path.stat().st_size

    def write(self, data: bytes) -> None:
        with open(self.data_path, "ab") as out:
            out.write(data)

    def copy_from(self, stream: BinaryIO) -> None:
        with open(self.data_path, "ab") as out:
            while chunk := stream.read(CHUNK):
                out.write(chunk)

    def commit(self, *, what: str = "blob") -> Digest:
        """Hash what was written, check it, move it into the store; the ingest is gone afterwards."""
        with self.content._lock.shared():
            hasher = Hasher(self.expected.algorithm if self.expected else "sha256")
            with open(self.data_path, "rb+") as data:
                while chunk := data.read(CHUNK):
                    hasher.update(chunk)
                os.fsync(data.fileno())
            try:
                digest = self.content._commit(self.data_path, hasher, self.expected, self.size, what)
            except DigestMismatch:
                self.abort()
                raise
            self.abort()
            return digest

    def abort(self) -> None:
        for name in ("data", "ref"):
            (self.dir / name).unlink(missing_ok=True)
        try:
            self.dir.rmdir()
        except OSError:
            pass

    def __repr__(self) -> str:
        return f"Ingest({self.ref!r}, offset={self.offset if self.data_path.exists() else 0})"

