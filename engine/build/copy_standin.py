"""A minimal COPY for builds while ``engine.build.copy_ops`` is not there.

Same interface as ``copy_ops`` (``CopyRequest``, ``stage_copy``), covering
the common cases only: files, directories (their contents), Go wildcards,
trailing-slash and existing-directory destinations, ``--chown`` and
``--chmod``. The executor uses ``copy_ops`` whenever it can be imported.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from engine.build.context import go_match, has_wildcards
from engine.errors import BuildError


@dataclass
class CopyRequest:
    sources: list[str]
    dest: str
    workdir: str = "/"
    chown: tuple[int, int] | None = None
    chmod: int | None = None
    excludes: list[str] = field(default_factory=list)
    parents: bool = False
    link: bool = False
    is_add: bool = False
    checksum: str | None = None
    keep_git_dir: bool = False


@dataclass
class CopyResult:
    files: list[str]
    bytes: int


def _listing(root: Path, excluder: Callable[[str], bool] | None) -> list[str]:
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(dirnames + filenames):
            rel = name if rel_dir == "." else f"{rel_dir}/{name}"
            if excluder is None or not excluder(rel):
                found.append(rel)
    return found


def _is_dir_in_image(image_root: Path | None, path: str) -> bool:
    if image_root is None:
        return False
    candidate = image_root / path.lstrip("/")
    try:
        return stat.S_ISDIR(os.stat(candidate).st_mode) and os.path.realpath(candidate).startswith(
            os.path.realpath(image_root))
    except OSError:
        return False


def stage_copy(req: CopyRequest, *, source_root: Path, source_excluder: Callable[[str], bool] | None,
               image_root: Path | None, out_dir: Path) -> CopyResult:
    word = "ADD" if req.is_add else "COPY"
    joined = req.dest if req.dest.startswith("/") else posixpath.join(req.workdir or "/", req.dest)
    dest = posixpath.normpath(joined)
    if req.dest.endswith(("/", "/.")) or req.dest == ".":
        dest = dest.rstrip("/") + "/"
    matches: list[str] = []
    listing: list[str] | None = None
    for pattern in req.sources:
        rel = posixpath.normpath(pattern.lstrip("/")) if pattern not in ("", "/") else "."
        if has_wildcards(rel):
            if listing is None:
                listing = _listing(source_root, source_excluder)
            matches += [p for p in listing if go_match(rel, p)]
        elif rel == "." or (os.path.lexists(source_root / rel) and not (source_excluder and source_excluder(rel))):
            matches.append(rel)
        else:
            raise BuildError(f"{word} failed: file not found in build context or excluded by .dockerignore: "
                             f"stat {pattern}: file does not exist")
    if not matches:
        raise BuildError(f"{word} failed: no source files were specified")
    into_dir = dest.endswith("/") or len(matches) > 1 or _is_dir_in_image(image_root, dest)
    files: list[str] = []
    total = 0

    def place(source: Path, target_rel: str) -> None:
        nonlocal total
        target = out_dir / target_rel.lstrip("/")
        _make_parents(out_dir, target.parent)
        st = os.lstat(source)
        if stat.S_ISDIR(st.st_mode):
            target.mkdir(exist_ok=True)
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(source), target)
        else:
            shutil.copyfile(source, target)
            total += st.st_size
        if not stat.S_ISLNK(st.st_mode):
            os.chmod(target, req.chmod if req.chmod is not None else stat.S_IMODE(st.st_mode))
        uid, gid = req.chown if req.chown is not None else (0, 0)
        if os.geteuid() == 0:
            os.lchown(target, uid, gid)
        files.append(target_rel.lstrip("/"))

    for rel in matches:
        source = source_root / rel if rel != "." else source_root
        is_dir = source.is_dir() and not source.is_symlink()
        if is_dir:
            base = dest.rstrip("/") or "/"
            if base != "/":
                place_dir = out_dir / base.lstrip("/")
                _make_parents(out_dir, place_dir.parent)
                place_dir.mkdir(exist_ok=True)
                os.chmod(place_dir, 0o755)
            for inner in _listing(source, None):
                child_rel = inner if rel == "." else f"{rel}/{inner}"
                if source_excluder and source_excluder(child_rel):
                    continue
                place(source / inner, posixpath.join(base, inner))
        else:
            target = posixpath.join(dest, posixpath.basename(rel)) if into_dir else dest
            place(source, target)
    return CopyResult(files, total)


def _make_parents(out_dir: Path, directory: Path) -> None:
    """Parents a COPY creates are root-owned 0755, as Docker makes them."""
    missing = []
    current = directory
    while current != out_dir and not current.exists():
        missing.append(current)
        current = current.parent
    for path in reversed(missing):
        path.mkdir()
        os.chmod(path, 0o755)
