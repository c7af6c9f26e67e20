"""A lazy tree over a layer's files: children are added only when a directory opens.

The index (directory -> children) is built off the UI thread; expanding a
node then adds at most ``PAGE`` children, with a "more" node for the rest,
so a layer with 100,000 files in one directory opens as fast as a small one.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rich.text import Text
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from layerlab.tui.catalog import FileEntry, human_size

PAGE = 500


@dataclass
class FileIndex:
    children: dict[str, list[FileEntry]] = field(default_factory=dict)
    dir_sizes: dict[str, int] = field(default_factory=dict)
    file_count: int = 0

    @classmethod
    def build(cls, entries: list[FileEntry], by_size: bool = False) -> "FileIndex":
        index = cls()
        known: dict[str, FileEntry] = {}
        for entry in entries:
            known[entry.path] = entry
        # Directories implied by deeper paths (a layer may not list them).
        for path in list(known):
            parent = path.rpartition("/")[0]
            while parent and parent not in known:
                known[parent] = FileEntry(parent, "dir", 0, 0o755)
                parent = parent.rpartition("/")[0]
        for entry in known.values():
            parent = entry.path.rpartition("/")[0]
            index.children.setdefault(parent, []).append(entry)
            if entry.kind != "dir":
                index.file_count += 1
                ancestor = parent
                while True:
                    index.dir_sizes[ancestor] = index.dir_sizes.get(ancestor, 0) + entry.size
                    if not ancestor:
                        break
                    ancestor = ancestor.rpartition("/")[0]
        for parent, kids in index.children.items():
            if by_size:
                kids.sort(key=lambda e: (-index.size_of(e), e.name))
            else:
                kids.sort(key=lambda e: (e.kind != "dir", e.name))
        return index

    def size_of(self, entry: FileEntry) -> int:
        return self.dir_sizes.get(entry.path, 0) if entry.kind == "dir" else entry.size


@dataclass(frozen=True)
class MoreNode:
    """Placeholder for the children of ``parent`` from ``start`` on."""

    parent: str
    start: int


class LayerTree(Tree[FileEntry | MoreNode | None]):
    """Nodes carry a ``FileEntry``; directories fill in when expanded."""

    def __init__(self, **kwargs) -> None:
        super().__init__("/", **kwargs)
        self.index = FileIndex()
        self.colours: dict[str, str] = {}
        self.loaded: set[str] = set()
        self.show_root = True
        self.guide_depth = 3

    def show_index(self, index: FileIndex, colours: dict[str, str]) -> None:
        self.index = index
        self.colours = colours
        self.loaded = set()
        self.clear()
        self.root.data = FileEntry("", "dir", index.dir_sizes.get("", 0), 0o755)
        self.root.set_label(Text(f"/  ({index.file_count} files, {human_size(index.dir_sizes.get('', 0))})"))
        self.fill(self.root, "", 0)
        self.root.expand()

    def label_for(self, entry: FileEntry) -> Text:
        name = entry.name + ("/" if entry.kind == "dir" else "")
        if entry.kind == "symlink":
            name += f" -> {entry.link_target}"
        style = self.colours.get(entry.change, "")
        label = Text(name, style=style)
        size = self.index.size_of(entry)
        if size:
            label.append(f"  {human_size(size)}", style="dim")
        if entry.change:
            label.append(f"  {entry.change}", style=f"{style} italic")
        return label

    def fill(self, node: TreeNode, parent: str, start: int) -> None:
        kids = self.index.children.get(parent, [])
        for entry in kids[start : start + PAGE]:
            if entry.kind == "dir" and self.index.children.get(entry.path):
                node.add(self.label_for(entry), data=entry, allow_expand=True)
            else:
                node.add_leaf(self.label_for(entry), data=entry)
        rest = len(kids) - (start + PAGE)
        if rest > 0:
            node.add_leaf(Text(f"… {rest} more (enter)", style="dim italic"), data=MoreNode(parent, start + PAGE))
        self.loaded.add(parent)

    def on_tree_node_expanded(self, event: Tree.NodeExpanded) -> None:
        entry = event.node.data
        if isinstance(entry, FileEntry) and entry.kind == "dir" and entry.path not in self.loaded:
            self.fill(event.node, entry.path, 0)

    def on_tree_node_selected(self, event: Tree.NodeSelected) -> None:
        more = event.node.data
        if isinstance(more, MoreNode):
            event.stop()
            parent = event.node.parent
            event.node.remove()
            if parent is not None:
                self.fill(parent, more.parent, more.start)

    def node_count(self) -> int:
        """Nodes actually created (what laziness keeps small)."""
        count = 0
        stack = [self.root]
        while stack:
            node = stack.pop()
            count += 1
            stack.extend(node.children)
        return count
