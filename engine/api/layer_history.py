"""An image's history, each entry paired with the layer it made and that layer's size."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from layerlab.engine.errors import LayerlabError
from layerlab.engine.image import Image, Layer, layer_content_size
from layerlab.engine.oci.config import HistoryEntry, ImageConfig, history_by_layer, parse_time
from layerlab.engine.oci.digest import Digest
from layerlab.engine.record_type import record

if TYPE_CHECKING:
    from layerlab.engine.store.facade import Store
    from layerlab.engine.store.records import StoredImage


@record(frozen=True)
class HistoryRow:
    """One history entry, bottom to top; ``layer`` is the layer it made (None for an empty_layer entry).

    ``recorded`` is False for a layer the history does not mention (some importers
    write no history): the app still lists it, ``history`` (as Docker) does not.
    """

    index: int
    entry: HistoryEntry
    layer_index: int | None
    layer: Layer | None
    size: int
    recorded: bool = True

    @property
    def created_by(self) -> str:
        return self.entry.created_by

    @property
    def comment(self) -> str:
        return self.entry.comment

    @property
    def empty_layer(self) -> bool:
        return self.entry.empty_layer

    @property
    def created_at(self) -> datetime | None:
        return parse_time(self.entry.created)


def history_rows(image: Image) -> list[HistoryRow]:
    """History entries bottom to top, each with its layer; layers without an entry follow, unrecorded."""
    layers = list(image.layers())
    config = ImageConfig.parse(image.config_bytes())
    rows: list[HistoryRow] = []
    made = 0
    for entry, layer_index in history_by_layer(config.history):
        if layer_index is not None and layer_index >= len(layers):
            layer_index = None  # the history claims more layers than the image has
        layer = None if layer_index is None else layers[layer_index]
        rows.append(HistoryRow(len(rows), entry, layer_index, layer, 0 if layer is None else layer_content_size(layer)))
        if layer_index is not None:
            made = layer_index + 1
    for extra in range(made, len(layers)):
        rows.append(HistoryRow(len(rows), HistoryEntry(), extra, layers[extra], layer_content_size(layers[extra]),
                               recorded=False))
    return rows


def instruction_of_layer(image: Image, layer_index: int) -> str:
    """The ``created_by`` of the entry that made layer ``layer_index`` ("" when none says)."""
    return next((row.created_by for row in history_rows(image) if row.layer_index == layer_index), "")


def ancestor_ids(store: "Store", image: "StoredImage") -> dict[int, Digest]:
    """History length -> image ID, for the image and its recorded parents (``history`` shows those IDs)."""
    known: dict[int, Digest] = {}
    current = image
    for _ in range(1000):
        known.setdefault(len(current.config.history), current.id)
        if current.parent is None:
            break
        try:
            current = store.image(str(current.parent))
        except LayerlabError:
            break
    return known
