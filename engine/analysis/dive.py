"""dive's efficiency score, reproduced exactly so the numbers compare.

dive (``filetree/efficiency.go``) builds one tree per layer from the tar
entries, visits only the *leaves* of each layer tree, and for every path
keeps the sum of the sizes seen (``CumulativeSize``) and the smallest one:

    score = sum(smallest per path) / sum(cumulative per path)   (1.0 when nothing)

A whiteout leaf is sized from dive's stacked tree of all lower layers: when
the deleted node is a directory, the sum of the sizes of every node under it
(the directory's own header size included); when it is a file, zero. dive's
stacked tree differs from the real one: it ignores opaque markers, it keeps a
directory's children when a file replaces it, and a directory that a layer
only implies (a child without its parent's header) overwrites the lower
header with an empty one, so it stops counting as a directory.
``wasted_bytes`` is dive's: the cumulative size of every path seen twice or
more, kept copy included; ``user_wasted_percent`` divides it by the size of
every layer but the first.
"""

from __future__ import annotations

from array import array

from layerlab.engine.layers import tarscan
from layerlab.engine.analysis.model import OPAQUE, WHITEOUT, EntryTable, PathTable, live_subtree
from layerlab.engine.record_type import record


@record(frozen=True)
class DiveInefficiency:
    path: str
    cumulative_size: int
    count: int


@record(frozen=True)
class DiveScore:
    efficiency: float
    wasted_bytes: int
    user_wasted_percent: float
    size_bytes: int
    user_size_bytes: int
    inefficiencies: list[DiveInefficiency]


class DiveEfficiency:
    """Feed layers bottom to top with ``add_layer``; read ``result`` at the end."""

    def __init__(self, paths: PathTable, entries: EntryTable):
        self.paths = paths
        self.entries = entries
        # dive's stacked tree of the layers fed so far
        self.live = bytearray()
        self.is_dir = bytearray()
        self.size = array("q")
        # per path accumulators
        self.cumulative = array("q")
        self.smallest = array("q")
        self.count = array("i")
        self.layer_sizes: list[int] = []

    def _grow(self) -> None:
        missing = len(self.paths) - len(self.live)
        if missing > 0:
            self.live.extend(bytes(missing))
            self.is_dir.extend(bytes(missing))
            self.size.extend([0] * missing)
            self.cumulative.extend([0] * missing)
            self.smallest.extend([-1] * missing)
            self.count.extend([0] * missing)

    def _record(self, path_id: int, size: int) -> None:
        self.cumulative[path_id] += size
        if self.smallest[path_id] < 0 or size < self.smallest[path_id]:
            self.smallest[path_id] = size
        self.count[path_id] += 1

    def _stacked_subtree(self, path_id: int):
        return live_subtree(self.live, self.paths.children, path_id)

    def add_layer(self, start: int, stop: int) -> None:
        self._grow()
        entries, parent_of = self.entries, self.paths.parent
        kinds, path_of, sizes = entries.type, entries.path, entries.size
        whiteout, opaque, directory = ord(WHITEOUT), ord(OPAQUE), ord(tarscan.DIRECTORY)
        explicit: dict[int, int] = {}  # real node -> its (last) entry in this layer
        implied: set[int] = set()  # nodes created only as someone's parent
        has_child: set[int] = set()
        whiteouts: list[int] = []
        layer_size = 0
        for index in range(start, stop):
            kind = kinds[index]
            node = path_of[index]
            layer_size += sizes[index]
            if kind == whiteout:
                whiteouts.append(node)
                first_parent = parent_of[node]  # the whiteout node is a child of this directory
            elif kind == opaque:
                # dive drops the marker but creates its directory on the way
                if node > 0 and node not in explicit:
                    implied.add(node)
                first_parent = parent_of[node]
                node = -1
            else:
                explicit[node] = index
                first_parent = parent_of[node]
            parent = first_parent
            while parent > 0 and parent not in has_child:
                has_child.add(parent)
                if parent not in explicit:
                    implied.add(parent)
                parent = parent_of[parent]
            if kind == whiteout and first_parent > 0:
                has_child.add(first_parent)
        self.layer_sizes.append(layer_size)
        implied.difference_update(explicit)

        # Leaves of this layer's tree, sized as dive sizes them.
        for node, index in explicit.items():
            if node not in has_child:
                self._record(node, sizes[index])
        for node in implied:
            if node not in has_child:
                self._record(node, 0)
        for node in whiteouts:
            size = 0
            if node < len(self.live) and self.live[node] and self.is_dir[node]:
                size = sum(self.size[n] for n in self._stacked_subtree(node))
            self._record(node, size)

        # Stack this layer onto dive's tree: removals first (".wh." sorts first), then every node.
        for node in whiteouts:
            for gone in list(self._stacked_subtree(node)):
                self.live[gone] = 0
        for node, index in explicit.items():
            self.live[node] = 1
            self.is_dir[node] = kinds[index] == directory
            self.size[node] = sizes[index]
        for node in implied:
            self.live[node] = 1
            self.is_dir[node] = 0
            self.size[node] = 0

    def result(self) -> DiveScore:
        smallest_total = cumulative_total = wasted = 0
        inefficient: list[DiveInefficiency] = []
        paths = self.paths
        for path_id, count in enumerate(self.count):
            if not count:
                continue
            smallest_total += self.smallest[path_id]
            cumulative_total += self.cumulative[path_id]
            if count >= 2:
                wasted += self.cumulative[path_id]
                inefficient.append(DiveInefficiency(paths.display(path_id), self.cumulative[path_id], count))
        inefficient.sort(key=lambda item: item.cumulative_size, reverse=True)
        score = 1.0 if cumulative_total == 0 else smallest_total / cumulative_total
        size_bytes = sum(self.layer_sizes)
        user_size = sum(self.layer_sizes[1:])
        user_percent = wasted / user_size if user_size else (0.0 if not wasted else float("inf"))
        return DiveScore(score, wasted, user_percent, size_bytes, user_size, inefficient)
