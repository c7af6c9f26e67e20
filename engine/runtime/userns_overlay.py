"""The overlay of a layer stack inside a user namespace: the kernel's, else fuse-overlayfs.

Since Linux 5.11 an unprivileged user may mount overlayfs in its own user
namespace (with ``userxattr``). Where the kernel refuses (older kernels,
some distribution policies), Debian's ``fuse-overlayfs`` mounts the same
stack from user space; it reads both whiteout forms and both opaque xattrs
our layer directories use.

``MOUNT_SCRIPT`` runs as root of the new namespace with the workspace as its
first argument: it mounts ``merged`` one way or the other, then runs the
rest of its arguments (bwrap). A kernel mount dies with the namespace; the
fuse daemon is unmounted once bwrap exits, so it never outlives the run.

fuse-overlayfs keeps an opaque directory in its own way (a
``user.fuseoverlayfs.opaque`` xattr, plus a ``.wh..wh..opq`` file and a
``.wh..opq`` whiteout inside it); ``normalize_upper`` rewrites that into the
kernel's form, so the upperdir reads the same to the layer writer and can
become a layer directory like any other.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from layerlab.engine import long_paths
from layerlab.engine.deep_trees import walk_tree
from layerlab.engine.layers.names import OPAQUE_MARKER, USER_OPAQUE_XATTR

MODES = ("auto", "kernel", "fuse")
FUSE_MOUNTED = "fuse-mounted"  # left in the workspace when fuse-overlayfs did the mount
_FUSE_OPAQUE_XATTR = "user.fuseoverlayfs.opaque"
_FUSE_OPAQUE_WHITEOUT = ".wh..opq"

# $1 workspace, $2 kernel options, $3 fuse-overlayfs options, $4 mode; the rest is the command.
MOUNT_SCRIPT = r'''
cd "$1" || exit 125
kernel=$2 fuse=$3 mode=$4
shift 4
if [ "$mode" != fuse ] && mount -t overlay overlay -o "$kernel" merged 2>kernel-mount.err; then
  exec "$@"
fi
if [ "$mode" = kernel ] || ! command -v fuse-overlayfs >/dev/null 2>&1; then
  cat kernel-mount.err >&2
  exit 125
fi
# its chatter ("unknown argument ignored") is not the command's output; shown only on failure
fuse-overlayfs -o "$fuse" merged 2>fuse-mount.err || { cat fuse-mount.err >&2; exit 125; }
: > fuse-mounted
"$@"
status=$?
umount merged 2>/dev/null || fusermount3 -u merged 2>/dev/null || fusermount -u merged 2>/dev/null
exit $status
'''


def fuse_options(lower_names: list[str]) -> str:
    """fuse-overlayfs' mount options for the same stack (relative names, from the workspace)."""
    return f"lowerdir={':'.join(lower_names)},upperdir=upper,workdir=work"


def normalize_upper(upper: Path) -> None:
    """Rewrite fuse-overlayfs' opaque directories in ``upper`` into ``user.overlay.opaque``."""
    for dirpath, dirnames, filenames in walk_tree(upper):  # any depth: os.walk recurses per level
        opaque = False
        for name in (OPAQUE_MARKER, _FUSE_OPAQUE_WHITEOUT):
            path = os.path.join(dirpath, name)
            try:
                st = long_paths.lstat(path)
            except FileNotFoundError:
                continue
            if name == OPAQUE_MARKER and stat.S_ISREG(st.st_mode) or stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                long_paths.unlink(path)
                opaque = True
        try:
            os.removexattr(long_paths.xattr_path(dirpath), _FUSE_OPAQUE_XATTR)
            opaque = True
        except OSError:
            pass
        if opaque:
            os.setxattr(long_paths.xattr_path(dirpath), USER_OPAQUE_XATTR, b"y")
