"""Compact tables for every path and every layer entry of an image.

Memory is the point: a path is stored once (interned, with its parent and
children), and a layer entry is one slot in a few typed arrays, so memory
grows with the number of files in the image, never with layers x files.
"""

from __future__ import annotations

from array import array

from layerlab.engine.layers import tarscan
from layerlab.engine.layers.names import split_whiteout
from layerlab.engine.record_type import record

# Entry kinds besides tar's own type letters (see tarscan): a whiteout that
# deletes one path, and an opaque marker that hides a directory's lower contents.
WHITEOUT = "W"
OPAQUE = "O"

TYPE_NAMES = {
    tarscan.REGULAR: "file",
    tarscan.HARDLINK: "hardlink",
    tarscan.SYMLINK: "symlink",
    tarscan.CHARDEV: "char-device",
    tarscan.BLOCKDEV: "block-device",
    tarscan.DIRECTORY: "dir",
    tarscan.FIFO: "fifo",
    WHITEOUT: "whiteout",
    OPAQUE: "opaque",
}


class PathTable:
    """Every path seen in any layer, interned to a small integer id (0 is the root)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {"": 0}
        self.paths: list[str] = [""]
        self.parent = array("i", [-1])
        self.children: list[list[int] | None] = [None]

    def __len__(self) -> int:
        return len(self.paths)

    def intern(self, path: str) -> int:
        found = self.ids.get(path)
        if found is not None:
            return found
        head, _, _ = path.rpartition("/")
        parent = self.intern(head)
        new_id = len(self.paths)
        self.ids[path] = new_id
        self.paths.append(path)
        self.parent.append(parent)
        self.children.append(None)
        siblings = self.children[parent]
        if siblings is None:
            self.children[parent] = [new_id]
        else:
            siblings.append(new_id)
        return new_id

    def lookup(self, path: str) -> int | None:
        return self.ids.get(tarscan.clean_path(path))

    def ancestors(self, path_id: int):
        """Strict ancestors, nearest first, excluding the root."""
        parent = self.parent[path_id]
        while parent > 0:
            yield parent
            parent = self.parent[parent]

    def display(self, path_id: int) -> str:
        return "/" + self.paths[path_id]


def live_subtree(live, children, path_id: int):
    """Path ``path_id`` and every path under it that ``live`` marks present, parents before children."""
    pending = [path_id]
    while pending:
        node = pending.pop()
        if not live[node]:
            continue
        yield node
        kids = children[node]
        if kids:
            pending.extend(kids)


@record(frozen=True, slots=True)
class EntryInfo:
    """One entry of one layer, as a plain value for callers."""

    index: int
    path: str
    layer: int
    type: str
    mode: int
    uid: int
    gid: int
    size: int
    linkname: str

    @property
    def type_name(self) -> str:
        return TYPE_NAMES.get(self.type, self.type)

    @property
    def is_dir(self) -> bool:
        return self.type == tarscan.DIRECTORY


class EntryTable:
    """All entries of all layers in typed arrays, in layer order then tar order."""

    def __init__(self) -> None:
        self.path = array("i")
        self.layer = array("h")
        self.type = bytearray()
        self.mode = array("H")
        self.uid = array("q")
        self.gid = array("q")
        self.size = array("q")
        self.offset = array("q")  # data offset in the uncompressed layer tar
        self.ordinal = array("i")  # position among the layer's tar members
        self.linkname: dict[int, str] = {}

    def __len__(self) -> int:
        return len(self.path)

    def add(self, path_id: int, layer: int, kind: str, mode: int, uid: int, gid: int,
            size: int, offset: int, ordinal: int, linkname: str = "") -> int:
        index = len(self.path)
        self.path.append(path_id)
        self.layer.append(layer)
        self.type.append(ord(kind))
        self.mode.append(mode)
        self.uid.append(uid)
        self.gid.append(gid)
        self.size.append(size)
        self.offset.append(offset)
        self.ordinal.append(ordinal)
        if linkname:
            self.linkname[index] = linkname
        return index

    def kind(self, index: int) -> str:
        return chr(self.type[index])

    def info(self, index: int, paths: PathTable) -> EntryInfo:
        return EntryInfo(index, paths.display(self.path[index]), self.layer[index], chr(self.type[index]),
                         self.mode[index], self.uid[index], self.gid[index], self.size[index],
                         self.linkname.get(index, ""))


def classify(raw: tarscan.RawEntry) -> tuple[str, str]:
    """(kind, path the entry acts on): whiteouts act on the path they delete,
    opaque markers on their directory; AUFS metadata returns kind ''."""
    whiteout = split_whiteout(raw.path)
    if whiteout is None:
        return raw.type, raw.path
    kind, path = whiteout
    if kind == "meta":
        return "", raw.path
    return (OPAQUE if kind == "opaque" else WHITEOUT), path
