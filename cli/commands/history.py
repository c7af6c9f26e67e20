"""``history`` / ``image history``: one row per history entry, newest first, ``<missing>`` for unknown IDs."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any

from layerlab.cli.commands._image_group import add_both
from layerlab.engine.image import layer_content_size
from layerlab.engine.oci.config import parse_time
from layerlab.cli.output import created_since, format_rows, human_size

DEFAULT_TABLE = "table {{.ID}}\t{{.CreatedSince}}\t{{.CreatedBy}}\t{{.Size}}\t{{.Comment}}"
HEADERS = {"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
           "Size": "SIZE", "Comment": "COMMENT"}
CREATED_BY_WIDTH = 45


def register(subparsers) -> None:
    for parser in add_both(subparsers, "history", help="show the history of an image"):
        parser.add_argument("image", metavar="IMAGE")
        parser.add_argument("--no-trunc", action="store_true", help="don't truncate output")
        parser.add_argument("-H", "--human", default="true", nargs="?", const="true",
                            help="print sizes and dates in human readable format (default true)")
        parser.add_argument("-q", "--quiet", action="store_true", help="only show image IDs")
        parser.add_argument("--format", help="table, json, or a Go template")
        parser.set_defaults(func=history_command)


def _ellipsis(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _ancestor_ids(store, image) -> dict[int, str]:
    """History length -> image ID for the image and its recorded parents (docker shows those IDs)."""
    known: dict[int, str] = {}
    current = image
    for _ in range(1000):
        known.setdefault(len(current.config.history), str(current.id))
        if current.parent is None:
            break
        try:
            current = store.image(str(current.parent))
        except Exception:
            break
    return known


def history_rows(store, image, *, no_trunc: bool, human: bool, now: datetime | None = None) -> list[dict[str, Any]]:
    ids = _ancestor_ids(store, image)
    layers = list(image.layers())
    rows = []
    for position, (entry, layer_index) in enumerate(image.config.history_by_layer()):
        image_id = ids.get(position + 1, "<missing>")
        if image_id != "<missing>" and not no_trunc:
            image_id = image_id.split(":")[-1][:12]
        size = 0
        if layer_index is not None and layer_index < len(layers):
            size = layer_content_size(layers[layer_index])
        created = parse_time(entry.created)
        created_by = entry.created_by if no_trunc else _ellipsis(entry.created_by, CREATED_BY_WIDTH)
        rows.append({
            "ID": image_id,
            "CreatedSince": created_since(created, now) if human else (entry.created or ""),
            "CreatedAt": entry.created or "",
            "CreatedBy": created_by,
            "Size": human_size(size) if human else str(size),
            "Comment": entry.comment,
        })
    rows.reverse()
    return rows


def history_command(args, ctx) -> int:
    image = ctx.store.image(args.image)
    human = str(args.human).lower() not in ("false", "0", "no")
    rows = history_rows(ctx.store, image, no_trunc=args.no_trunc, human=human)
    fmt = "{{.ID}}" if args.quiet else args.format
    sys.stdout.write(format_rows(fmt, rows, DEFAULT_TABLE, HEADERS))
    return 0
