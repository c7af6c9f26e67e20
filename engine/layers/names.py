"""Tar entry names: cleaning, escape checks and the whiteout conventions.

A name is cleaned the way Docker cleans it: leading "/" dropped (an absolute
name lands inside the target, as under a chroot), "." and inner ".."
collapsed; a name that still climbs out of the target is refused.
"""

from __future__ import annotations

import posixpath

from layerlab.engine.errors import UnsafeLayer

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
# aufs kept its own bookkeeping under ".wh..wh."; such entries are never content
AUFS_META_PREFIX = ".wh..wh."


def clean_name(name: str, *, what: str = "entry") -> str:
    """``name`` relative to the layer root, without trailing "/"; "" means the root.

    Raises ``UnsafeLayer`` when the name escapes the root through "..".
    """
    if "\x00" in name:
        raise UnsafeLayer(f"{what} {name!r}: name contains a NUL byte")
    cleaned = posixpath.normpath(name) if name else "."
    if cleaned == ".." or cleaned.startswith("../"):
        raise UnsafeLayer(f"{what} {name!r}: path escapes the layer root")
    cleaned = cleaned.lstrip("/")
    return "" if cleaned == "." else cleaned


def split_whiteout(path: str) -> tuple[str, str] | None:
    """For a whiteout path, ``(kind, hidden)``: ("opaque", dir) or ("file", path it hides)."""
    parent, base = posixpath.split(path)
    if not base.startswith(WHITEOUT_PREFIX):
        return None
    if base == OPAQUE_MARKER:
        return ("opaque", parent)
    if base.startswith(AUFS_META_PREFIX) or base == WHITEOUT_PREFIX:
        return ("meta", parent)
    return ("file", posixpath.join(parent, base[len(WHITEOUT_PREFIX):]))


def bad_whiteout(path: str) -> str | None:
    """Why ``path`` is a whiteout name no layer may carry, or None.

    Only the opaque marker may start with ".wh..wh."; the aufs bookkeeping
    names and whiteouts of "", "." or ".." hide nothing a tar can hold. A
    dotfile's whiteout (".wh..bashrc") is fine.
    """
    base = posixpath.basename(path)
    if base.startswith(AUFS_META_PREFIX) and base != OPAQUE_MARKER:
        return "aufs metadata, not content"
    if base in (WHITEOUT_PREFIX, WHITEOUT_PREFIX + ".", WHITEOUT_PREFIX + ".."):
        return "a whiteout of no name"
    return None


# overlayfs' own form of the same two facts, inside a directory tree: a deleted name is a 0/0
# character device, and a directory that hides everything below it carries an "opaque" xattr,
# in the trusted. namespace when mounted by root, in user. when mounted in a user namespace
# (option "userxattr"); fuse-overlayfs also reads its own name for it.
TRUSTED_OPAQUE_XATTR = "trusted.overlay.opaque"
USER_OPAQUE_XATTR = "user.overlay.opaque"
OPAQUE_XATTRS = (TRUSTED_OPAQUE_XATTR, USER_OPAQUE_XATTR, "user.fuseoverlayfs.opaque")
# a deletion may also be a regular file carrying this xattr (what a nested overlay writes)
XATTR_WHITEOUTS = ("trusted.overlay.whiteout", "user.overlay.whiteout")
# overlayfs keeps its bookkeeping in these namespaces; it is never image content
OVERLAY_XATTR_PREFIXES = ("trusted.overlay.", "user.overlay.", "user.fuseoverlayfs.")


def opaque_xattr_for(euid: int) -> str:
    """The opaque xattr this process can write and its overlay mounts read: trusted.* needs root."""
    return TRUSTED_OPAQUE_XATTR if euid == 0 else USER_OPAQUE_XATTR
