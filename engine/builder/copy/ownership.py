"""COPY/ADD's ``--chown`` and ``--chmod`` as numbers, by Docker's rules."""

from __future__ import annotations

import stat

from layerlab.engine.errors import BuildError
from layerlab.engine.layers.stack import LayerStack


def _table(image: LayerStack | None, name: str) -> list[list[str]]:
    """The rows of the image's /etc/passwd or /etc/group (symlinks followed inside the image); none when missing."""
    if image is None:
        return []
    _, host_path, st = image.resolve(f"/etc/{name}")
    if host_path is None or st is None or not stat.S_ISREG(st.st_mode):
        return []
    try:
        text = host_path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [line.split(":") for line in text.splitlines() if line and not line.startswith("#")]


def resolve_chown(text: str, image: LayerStack | None, where: str) -> tuple[int, int]:
    """``--chown=user[:group]`` with names from the image's /etc/passwd and /etc/group (Docker's rules)."""
    user, _, group = text.partition(":")
    group = group or user
    if user.isdigit():
        uid = int(user)
    else:
        entry = next((row for row in _table(image, "passwd") if len(row) > 2 and row[0] == user), None)
        if entry is None:
            raise BuildError(f"{where}: unable to convert uid/gid chown string to host mapping: can't find uid "
                             f"for user {user}: no such user: {user}")
        uid = int(entry[2])
    if group.isdigit():
        gid = int(group)
    else:
        entry = next((row for row in _table(image, "group") if len(row) > 2 and row[0] == group), None)
        if entry is None:
            raise BuildError(f"{where}: unable to convert uid/gid chown string to host mapping: can't find gid "
                             f"for group {group}: no such group: {group}")
        gid = int(entry[2])
    return uid, gid


def resolve_buildkit_chown(text: str, image: LayerStack | None) -> tuple[int, int]:
    """``--chown=user[:group]`` as BuildKit's file operation reads it (``llb.WithUser``, then the
    solver's ``readUser``): a user name takes its uid *and* primary gid from /etc/passwd, a bare uid
    is also the gid, a group overrides the gid; a name that is not there leaves 0 (or the user's gid)
    instead of failing."""
    user, _, group = text.partition(":")
    uid = gid = 0
    if user == "root" or user.isdigit():
        uid = gid = 0 if user == "root" else int(user)
    else:
        entry = next((row for row in _table(image, "passwd") if len(row) > 3 and row[0] == user), None)
        if entry is not None and entry[2].isdigit() and entry[3].isdigit():
            uid, gid = int(entry[2]), int(entry[3])
    if group == "root" or group.isdigit():
        gid = 0 if group == "root" else int(group)
    elif group:
        match = next((row for row in _table(image, "group") if len(row) > 2 and row[0] == group), None)
        if match is not None and match[2].isdigit():
            gid = int(match[2])
    return uid, gid


def parse_chmod(text: str, where: str) -> int:
    try:
        mode = int(text, 8)
    except ValueError:
        raise BuildError(f"{where}: invalid --chmod={text}: expected an octal mode") from None
    if mode > 0o7777:
        raise BuildError(f"{where}: invalid --chmod={text}")
    return mode
