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


def parse_chmod(text: str, where: str) -> int:
    try:
        mode = int(text, 8)
    except ValueError:
        raise BuildError(f"{where}: invalid --chmod={text}: expected an octal mode") from None
    if mode > 0o7777:
        raise BuildError(f"{where}: invalid --chmod={text}")
    return mode
