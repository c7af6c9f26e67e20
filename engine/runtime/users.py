"""USER strings to numbers, read from the image's own /etc/passwd and /etc/group.

Docker's rules: ``name``, ``uid``, ``name:group``, ``uid:gid`` and mixes; a
name must exist in the image, a bare number need not (its gid is then 0);
without an explicit group the user's supplementary groups from /etc/group
come along (Docker 20.10's daemon adds the primary group to them, BuildKit does not). The files are read through the layer stack (whiteouts and
symlinks as the container would see them), so no mount is needed.
"""

from __future__ import annotations

from pathlib import Path

from layerlab.engine.errors import NotFound, UsageError
from layerlab.engine.layers.stack import LayerStack
from layerlab.engine.record_type import field, record


@record(frozen=True)
class ResolvedUser:
    uid: int
    gid: int
    additional_gids: list[int] = field(default_factory=list)
    # The groups /etc/group lists the user in, in file order, the primary one too when listed; empty when
    # USER names a group. libcontainer's Sgids: what BuildKit gives a RUN, with nothing added.
    member_gids: list[int] = field(default_factory=list)

    @property
    def spec_user(self) -> str:
        """The ``uid:gid`` form ``ProcessSpec.user`` takes."""
        return f"{self.uid}:{self.gid}"

    @property
    def docker_gids(self) -> list[int]:
        """The supplementary groups Docker 20.10 gives a process: always its primary group, plus
        the groups /etc/group lists the user in when USER names no group."""
        return sorted({self.gid, *self.additional_gids})


def resolve_user(user: str, lowers: list[Path] | LayerStack) -> ResolvedUser:
    """Resolve a Dockerfile/``-u`` USER against the stack ``lowers`` (bottom -> top)."""
    user = user.strip() or "0"
    name, _, group = user.partition(":")
    if not name:
        raise UsageError(f"invalid user {user!r}: no user before ':'")
    stack = lowers if isinstance(lowers, LayerStack) else LayerStack.of(lowers)
    passwd = _read_table(stack, "/etc/passwd")
    groups = _read_table(stack, "/etc/group")

    entry = next((row for row in passwd if len(row) >= 4 and (row[0] == name or row[2] == name)), None)
    if name.isdigit():
        uid = int(name)
        gid = int(entry[3]) if entry and entry[3].isdigit() else 0
    elif entry is None:
        raise NotFound(f"unable to find user {name}: no matching entries in passwd file")
    else:
        uid, gid = int(entry[2]), int(entry[3])

    if group:
        if group.isdigit():
            return ResolvedUser(uid, int(group))
        match = next((row for row in groups if len(row) >= 3 and row[0] == group), None)
        if match is None:
            raise NotFound(f"unable to find group {group}: no matching entries in group file")
        return ResolvedUser(uid, int(match[2]))

    login = entry[0] if entry else None
    members = [int(row[2]) for row in groups
               if len(row) >= 4 and login and login in row[3].split(",") and row[2].isdigit()]
    return ResolvedUser(uid, gid, sorted(set(members) - {gid}), members)


def _read_table(stack: LayerStack, path: str) -> list[list[str]]:
    _, host_path, _ = stack.resolve(path)
    if host_path is None or not host_path.is_file():
        return []
    text = host_path.read_text(encoding="utf-8", errors="replace")
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]
