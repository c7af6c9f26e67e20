"""What ``RUN --mount=type=bind`` exposes, and the key material that names it.

A bind of the context shows what COPY would see: the context after
``.dockerignore``, never the files it excludes (``.env``, keys…). When the
context has ignore patterns, the source is copied, filtered, into the
step's scratch and that copy is bound. The bytes a bind exposes are part of
the step's cache key, as a COPY's sources are: the context's by the COPY
checksum of the source, a stage's or image's by its image ID (which names
every byte of it).
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from layerlab.engine.builder.context import BuildContext
from layerlab.engine.builder.run_spec import MountRequest
from layerlab.engine.builder.session import BuildSession
from layerlab.engine.builder.source_patterns import normalize_source
from layerlab.engine.dockerfile.instructions import Instruction
from layerlab.engine.errors import BuildError, NotFound


def bind_content_keys(session: BuildSession, mounts: list[MountRequest], instruction: Instruction) -> list[str]:
    """One name per bind mount for the bytes it exposes."""
    where = session.where(instruction)
    keys = []
    for mount in mounts:
        if mount.kind != "bind":
            continue
        if mount.from_:
            keys.append(f"{mount.from_}={session.stage_image(mount.from_, instruction)}:{mount.source or '/'}")
            continue
        try:
            keys.append(session.context().sources([mount.source or "."]).digest)
        except NotFound:
            raise BuildError(f"{where}: mount source {mount.source} is not in the build context "
                             "(or .dockerignore excludes it)") from None
    return keys


def filtered_context_copy(context: BuildContext, relative: str, destination: Path) -> Path:
    """Copy ``relative`` (a file or a tree) from the context into ``destination``, leaving out what
    the context excludes; owners, modes, times and symlinks kept. Returns the copy's path."""
    rel = normalize_source(relative or ".")
    if rel != "." and rel not in context:
        raise NotFound(f"{relative}: not in the build context (or .dockerignore excludes it)")
    destination.parent.mkdir(parents=True, exist_ok=True)
    paths = [path for path in context.paths if rel == "." or path == rel or path.startswith(rel + "/")]
    directories: list[tuple[Path, os.stat_result]] = []
    if rel == ".":
        destination.mkdir()
        directories.append((destination, os.lstat(context.root)))
    for path in paths:  # walk order: a directory before what it holds
        source = context.root / path
        target = destination if path == rel else destination / os.path.relpath(path, rel)
        st = os.lstat(source)
        if stat.S_ISDIR(st.st_mode):
            target.mkdir()
            directories.append((target, st))
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(source), target)
        elif stat.S_ISREG(st.st_mode):
            shutil.copy2(source, target)
        else:
            continue  # fifos and devices: COPY of a context does not carry them either
        _own(target, st)
    # Modes and times of directories last, deepest first: a read-only one would stop its own filling.
    for target, st in reversed(directories):
        _own(target, st)
        os.chmod(target, stat.S_IMODE(st.st_mode))
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
    return destination


def _own(target: Path, st: os.stat_result) -> None:
    if os.geteuid() == 0:
        os.lchown(target, st.st_uid, st.st_gid)
