"""``build --semantics buildkit``: what docker 20.10's BuildKit does differently from the classic builder.

Each difference was checked against the docker.io package's own ``/usr/bin/docker`` with
``DOCKER_BUILDKIT=1`` and is reproduced here:

- History rows read as BuildKit writes them, each with the comment ``buildkit.dockerfile.v0``:
  ``RUN |N K=V /bin/sh -c CMD # buildkit`` (N counts every ARG the stage declared, valued as the
  RUN sees it), ``COPY src dest # buildkit`` (its words expanded, no flags), ``ENV K=V``, ``EXPOSE map[80/tcp:{}]``, the other
  metadata instructions as written; ONBUILD leaves no row.
- No intermediate images and no Parent; ``ArgsEscaped`` is set with CMD and ENTRYPOINT.
- WORKDIR always makes a layer (an empty tar when the directory exists; none for ``/``), and the
  directories it creates belong to the current USER; so does a RUN that changes no file.
- A RUN's layer keeps the mount points BuildKit made when the rootfs lacked them
  (``/dev``, ``/proc``, ``/sys``, ``/etc/hosts``, ``/etc/resolv.conf``), and the directories of
  its ``--mount`` targets: a tmpfs, cache or directory bind target with its parents, only the
  parents of a secret or file bind target (``/run/secrets``).
- RUN mounts nothing at a declared VOLUME: what it writes there stays in its layer, and no
  mount point directories appear (``preparers/run_step.py``).
- RUN's supplementary groups are the /etc/group rows listing the user, nothing added
  (``ResolvedUser.member_gids``).
- ``COPY --chown=NAME`` takes NAME's gid from /etc/passwd; a bare uid is the gid too; unknown
  names fall back instead of failing (``copy/ownership.py``); every directory COPY/ADD creates
  on the way to the destination belongs to the ``--chown`` owner (``CopyRequest.owned_dest_path``).
- One set of variables where the last ENV or ARG (with a value) to set a name wins: expansion,
  RUN's environment, its key and its ``|N`` row read it (``dispatch.buildkit_variables``); a stage
  FROM a stage starts with that stage's set, ARG values included (``base_image.start_stage``).
- An excluded context directory that a ``!`` exception opens is sent itself, even empty
  (``dockerignore.SenderMatcher``).
- Only the stages the target needs are built (``planner``), and the automatic platform ARGs
  (``TARGETPLATFORM``, ``BUILDARCH``...) exist (``build_run.open_session``).

Cache patterns are the classic builder's. One BuildKit bug is deliberately not copied: after a
chmod of a COPY source directory BuildKit reports a stale cache hit (moby/buildkit#7176); this
builder misses there, as the classic builder does, and its reason text says why.
"""

from __future__ import annotations

import os
import posixpath
import stat
from pathlib import Path
from typing import Iterable, Mapping

from layerlab.engine.builder.cache_records import CacheDecision
from layerlab.engine.builder.context import FileEntry
from layerlab.engine.events import Cause
from layerlab.engine.record_type import replace
from layerlab.engine.runtime import MountSpec

from layerlab.engine.dockerfile.instructions import Add, Copy, Expose, Instruction, OnBuild, Run, Workdir
from layerlab.engine.dockerfile.ports import PortError, expose_ports

SEMANTICS = ("classic", "buildkit")
HISTORY_COMMENT = "buildkit.dockerfile.v0"
# In every step's key under these semantics; a new version whenever what they build changes, so
# results made by an older version never answer (2: VOLUME, groups, --chown, variables, empty RUN
# layers, mount directories; 3: COPY/ADD destination directories owned by --chown).
BUILDKIT_KEY = "buildkit/3"
# What a step under the classic builder's semantics has where BuildKit would have its CREATED BY row.
CLASSIC_ROW = "classic"
# What BuildKit's executor mounts over the rootfs, created in it (and so kept in the layer) when missing.
MOUNT_POINT_DIRS = ("dev", "proc", "sys")
MOUNT_POINT_FILES = ("etc/hosts", "etc/resolv.conf")
_NOP = "#(nop) "


def created_by(instruction: Instruction, command: tuple[str, ...], declared_args: Mapping[str, str | None],
               variables: Mapping[str, str]) -> str | None:
    """The history row BuildKit writes for a step whose classic ``Cmd`` is ``command``; None for no row."""
    if isinstance(instruction, OnBuild):
        return None
    if isinstance(instruction, Run):
        shell_and_command = [word for word in command if True]
        if shell_and_command and shell_and_command[0].startswith("|"):
            count = int(shell_and_command[0][1:])
            shell_and_command = shell_and_command[count + 1:]
        return "RUN " + " ".join(run_args_prefix(declared_args, variables) + shell_and_command) + " # buildkit"
    if isinstance(instruction, (Copy, Add)):
        return f"{instruction.name} {' '.join([*instruction.sources, instruction.dest])} # buildkit"
    text = command[-1]
    if text.startswith(_NOP):     # WORKDIR's one-part form
        text = text[len(_NOP):]
    if isinstance(instruction, Expose):
        return "EXPOSE " + expose_map(text.split()[1:])
    return text.rstrip() if isinstance(instruction, Workdir) else text


def run_args_prefix(declared_args: Mapping[str, str | None], variables: Mapping[str, str]) -> list[str]:
    """BuildKit's ``|N K=V…``: every ARG of the stage, valued as the RUN sees it (the last ENV or ARG
    to set the name), else its own value."""
    pairs = [f"{name}={variables.get(name, value or '')}" for name, value in declared_args.items()]
    return [f"|{len(pairs)}", *pairs] if pairs else []


def expose_map(words: list[str]) -> str:
    """Go's ``%v`` of the instruction's port set: ``map[53/udp:{} 80/tcp:{}]``, keys sorted."""
    ports: set[str] = set()
    for word in words:
        try:
            ports.update(expose_ports(word))
        except PortError:
            ports.add(word)
    return "map[" + " ".join(f"{port}:{{}}" for port in sorted(ports)) + "]"


STALE_HIT_NOTE = ("BuildKit would reuse its cache here (moby/buildkit#7176: a chmod of a COPY source "
                  "directory is not seen); this builder misses, as the classic builder does")


def note_stale_hit_bug(decision: CacheDecision, sources: Mapping[str, FileEntry]) -> CacheDecision:
    """A COPY miss caused only by a source directory's mode: say why BuildKit's answer would differ."""
    def dir_mode_change(cause: Cause) -> bool:
        entry = sources.get(cause.subject)
        return entry is not None and entry.kind == "dir" and "mode " in cause.text

    if not decision.causes or not all(dir_mode_change(cause) for cause in decision.causes):
        return decision
    return replace(decision, reason=f"{decision.reason}; {STALE_HIT_NOTE}")


def mount_directories(mounts: Iterable[MountSpec]) -> list[str]:
    """The directories a RUN's ``--mount``s leave in its layer under BuildKit (rootfs-relative)."""
    directories = []
    for mount in mounts:
        is_dir = mount.kind in ("tmpfs", "cache") or (mount.kind == "bind" and Path(mount.source).is_dir())
        target = posixpath.normpath(mount.target).lstrip("/")
        directory = target if is_dir else posixpath.dirname(target)
        if directory and directory != ".":
            directories.append(directory)
    return directories


def add_mount_points(upper: Path, lowers: list[Path], mount_dirs: Iterable[str] = ()) -> None:
    """Create in a RUN's upperdir the mount points BuildKit's rootfs gained, where no lower has them."""
    def in_lowers(rel: str) -> bool:
        return any(os.path.lexists(lower / rel) for lower in lowers)

    def present(rel: str) -> bool:
        return in_lowers(rel) or os.path.lexists(upper / rel)

    for rel in MOUNT_POINT_DIRS:
        if not present(rel):
            (upper / rel).mkdir(mode=0o755)
            os.chmod(upper / rel, 0o755)
    for rel in mount_dirs:
        if not present(rel):
            _make_directory(upper, lowers, rel)
    for rel in MOUNT_POINT_FILES:
        # Under an existing /etc BuildKit removes the empty stub files again; a whole /etc it had to
        # create stays, files and all (seen with docker 20.10's BuildKit on bases without /etc).
        if present(rel) or in_lowers(os.path.dirname(rel)):
            continue
        parent = (upper / rel).parent
        if not parent.exists():
            parent.mkdir(mode=0o755, parents=True)
            os.chmod(parent, 0o755)
        (upper / rel).touch(mode=0o755)
        os.chmod(upper / rel, 0o755)


def _make_directory(upper: Path, lowers: list[Path], rel: str) -> None:
    """``rel`` and its missing parents in the upperdir, root 0755; a parent a lower holds is copied
    up with its own mode and owner, as overlayfs would."""
    parts = rel.split("/")
    for depth in range(1, len(parts) + 1):
        path = upper.joinpath(*parts[:depth])
        if os.path.lexists(path):
            continue
        below = next((lower.joinpath(*parts[:depth]) for lower in reversed(lowers)
                      if os.path.lexists(lower.joinpath(*parts[:depth]))), None)
        path.mkdir()
        if below is not None:
            st = os.lstat(below)
            os.chmod(path, stat.S_IMODE(st.st_mode))
            if os.geteuid() == 0:
                os.chown(path, st.st_uid, st.st_gid)
        else:
            os.chmod(path, 0o755)
