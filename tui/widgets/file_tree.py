"""A lazy tree over a layer's files: children are added only when a directory opens.

The index (directory -> children) is built off the UI thread; expanding a
node then adds at most ``PAGE`` children, with a "more" node for the rest,
so a layer with 100,000 files in one directory opens as fast as a small one.
"Expand all" stops at ``EXPAND_ALL_LIMIT`` nodes for the same reason.

Each row ends in dive's columns, aligned at the right edge whatever the
depth: the change (A/M/D), the mode, the owner and the size.
"""

from __future__ import annotations

from rich.style import Style
from rich.text import Text
from textual import events
from textual.widgets import Tree
from textual.widgets.tree import TreeNode

from layerlab.engine.record_type import field, record
from layerlab.tui.catalog import FileEntry, human_size

PAGE = 500
EXPAND_ALL_LIMIT = 5000
SCROLLBAR_ROOM = 2
CHANGE_MARKS = {"added": "A", "modified": "M", "removed": "D"}


@record
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
            if entry.kind != "dir" and entry.change != "removed":
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


@record(frozen=True)
class MoreNode:
    """Placeholder for the children of ``parent`` from ``start`` on."""

    parent: str
    start: int


@record(frozen=True)
class TreeState:
    """What a person had open and where the cursor was, kept across a toggle, a search or a layer change."""

    expanded: frozenset[str]
    cursor: str | None


def columns_text(entry: FileEntry, size: int) -> str:
    """The right-hand columns: change mark, mode, owner, size (``A 0755     0:0   1.98MB``)."""
    if entry.change == "removed":
        return f"{'D':1} {'':4} {'':>7} {'':>7}"
    return (f"{CHANGE_MARKS.get(entry.change, ' ')} {entry.mode & 0o7777:04o} {f'{entry.uid}:{entry.gid}':>7} "
            f"{human_size(size) if size or entry.kind != 'dir' else '':>7}")


COLUMNS_WIDTH = len(columns_text(FileEntry("", "file", 0, 0), 0))
COLUMNS_HEADER = f"{'':1} {'mode':4} {'owner':>7} {'size':>7}"


class LayerTree(Tree[FileEntry | MoreNode | None]):
    """Nodes carry a ``FileEntry``; directories fill in when expanded."""

    def __init__(self, **kwargs) -> None:
        super().__init__("/", **kwargs)
        self.index = FileIndex()
        self.colours: dict[str, str] = {}
        self.loaded: set[str] = set()
        self.show_root = True
        self.guide_depth = 3

    def show_index(self, index: FileIndex, colours: dict[str, str], state: TreeState | None = None,
                   expand_all: bool = False) -> None:
        self.index = index
        self.colours = colours
        self.loaded = set()
        self.clear()
        self.root.data = FileEntry("", "dir", index.dir_sizes.get("", 0), 0o755)
        self.root.set_label(Text(f"/  ({index.file_count} files, {human_size(index.dir_sizes.get('', 0))})"))
        self.fill(self.root, "", 0)
        self.root.expand()
        if expand_all:
            self.expand_all_nodes()
        elif state is not None:
            self.restore(state)

    # -- labels with columns -------------------------------------------------------

    def label_for(self, entry: FileEntry) -> Text:
        name = entry.name + ("/" if entry.kind == "dir" else "")
        if entry.kind == "symlink":
            name += f" -> {entry.link_target}"
        return Text(name, style=self.colours.get(entry.change, ""))

    def render_label(self, node: TreeNode, base_style: Style, style: Style) -> Text:
        label = super().render_label(node, base_style, style)
        entry = node.data
        if not isinstance(entry, FileEntry) or node is self.root:
            return label
        depth, parent = 0, node.parent
        while parent is not None:
            depth, parent = depth + 1, parent.parent
        # The columns end at the right edge (less a scrollbar's room) whatever the depth, as dive's do.
        room = self.size.width - SCROLLBAR_ROOM - depth * self.guide_depth - COLUMNS_WIDTH - 1
        if label.cell_len > room:
            label.truncate(max(room - 1, 1))
            label.append("…")
        label.pad_right(max(room - label.cell_len, 0))
        columns = columns_text(entry, self.index.size_of(entry))
        label.append(" " + columns, style=Style.combine([Style(dim=not entry.change),
                                                         Style.parse(self.colours.get(entry.change, "") or "none")]))
        return label

    def on_resize(self, event: events.Resize) -> None:
        self._invalidate()  # the columns move with the width

    # -- lazy filling ----------------------------------------------------------------

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

    def open_node(self, node: TreeNode) -> None:
        entry = node.data
        if isinstance(entry, FileEntry) and entry.kind == "dir" and entry.path not in self.loaded:
            self.fill(node, entry.path, 0)
        node.expand()

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

    # -- expand, collapse, keep ---------------------------------------------------------

    def expand_all_nodes(self) -> bool:
        """Open every directory, breadth first, until ``EXPAND_ALL_LIMIT`` nodes exist; False when it stopped short."""
        queue, count = [self.root], 1
        while queue:
            node = queue.pop(0)
            for child in node.children:
                count += 1
                if child.allow_expand:
                    if count >= EXPAND_ALL_LIMIT:
                        return False
                    self.open_node(child)
                    queue.append(child)
        return True

    def collapse_all_nodes(self) -> None:
        for child in self.root.children:
            child.collapse_all()
        self.move_cursor(self.root)

    def state(self) -> TreeState:
        expanded, stack = set(), list(self.root.children)
        while stack:
            node = stack.pop()
            if node.is_expanded and isinstance(node.data, FileEntry):
                expanded.add(node.data.path)
                stack.extend(node.children)
        cursor = self.cursor_node.data if self.cursor_node is not None else None
        return TreeState(frozenset(expanded), cursor.path if isinstance(cursor, FileEntry) else None)

    def restore(self, state: TreeState) -> None:
        """Reopen what was open (where it still exists) and put the cursor back on its path."""
        cursor_node = None
        stack = list(self.root.children)
        while stack:
            node = stack.pop()
            entry = node.data
            if not isinstance(entry, FileEntry):
                continue
            if entry.path == state.cursor:
                cursor_node = node
            if entry.path in state.expanded and node.allow_expand:
                self.open_node(node)
                stack.extend(node.children)
        if cursor_node is not None:
            self.call_after_refresh(self.move_cursor, cursor_node)  # once the opened rows have line numbers

    def node_count(self) -> int:
        """Nodes actually created (what laziness keeps small)."""
        count = 0
        stack = [self.root]
        while stack:
            node = stack.pop()
            count += 1
            stack.extend(node.children)
        return count
