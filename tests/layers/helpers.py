"""Building tars by hand and describing trees, for the layer tests."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import tarfile
from pathlib import Path


def tar_bytes(*members: tuple[tarfile.TarInfo, bytes | None], fmt: int = tarfile.PAX_FORMAT) -> bytes:
    """A tar of ``(TarInfo, content)`` pairs exactly as given: no cleaning, no checks."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=fmt) as archive:
        for info, content in members:
            if content is not None:
                info.size = len(content)
            archive.addfile(info, io.BytesIO(content) if content is not None else None)
    return buffer.getvalue()


def file_(name: str, content: bytes = b"data", mode: int = 0o644, **extra) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.mode = mode
    info.mtime = extra.pop("mtime", 1_600_000_000)
    for key, value in extra.items():
        setattr(info, key, value)
    return info, content


def dir_(name: str, mode: int = 0o755) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.DIRTYPE
    info.mode = mode
    info.mtime = 1_600_000_000
    return info, None


def link_(name: str, target: str, *, hard: bool = False) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.LNKTYPE if hard else tarfile.SYMTYPE
    info.linkname = target
    info.mode = 0o777
    return info, None


def device_(name: str, major: int = 1, minor: int = 3, kind: bytes = tarfile.CHRTYPE) -> tuple[tarfile.TarInfo, None]:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.devmajor, info.devminor = major, minor
    info.mode = 0o666
    return info, None


def tree(root: Path, *, mtimes: bool = False, owners: bool = True) -> dict[str, tuple]:
    """Everything under ``root`` that a layer carries: type, mode, owner, content, link, xattrs."""
    result: dict[str, tuple] = {}
    inodes: dict[tuple[int, int], str] = {}
    for directory, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            path = os.path.join(directory, name)
            rel = os.path.relpath(path, root)
            st = os.lstat(path)
            kind = stat.S_IFMT(st.st_mode)
            detail: object = None
            if stat.S_ISREG(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and key in inodes:
                    detail = ("hardlink-of", inodes[key])
                else:
                    inodes.setdefault(key, rel)
                    detail = hashlib.sha256(Path(path).read_bytes()).hexdigest()
            elif stat.S_ISLNK(st.st_mode):
                detail = os.readlink(path)
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                detail = (os.major(st.st_rdev), os.minor(st.st_rdev))
            xattrs = {}
            if not stat.S_ISLNK(st.st_mode):
                for attr in os.listxattr(path, follow_symlinks=False):
                    if not attr.startswith(("trusted.overlay.", "user.overlay.", "security.selinux")):
                        xattrs[attr] = os.getxattr(path, attr, follow_symlinks=False)
            row = [kind, stat.S_IMODE(st.st_mode) if not stat.S_ISLNK(st.st_mode) else None, detail,
                   tuple(sorted(xattrs.items()))]
            if owners:
                row.append((st.st_uid, st.st_gid))
            if mtimes and not stat.S_ISLNK(st.st_mode):
                row.append(int(st.st_mtime))
            result[rel] = tuple(row)
    return result


def snapshot(root: Path) -> dict[str, tuple]:
    """A before/after picture of a directory, down to link counts and mtimes."""
    result = {}
    for rel, row in tree(root, mtimes=True).items():
        st = os.lstat(root / rel)
        result[rel] = row + (st.st_nlink, st.st_mtime_ns)
    return result
