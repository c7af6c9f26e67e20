"""``history`` / ``image history``: one row per history entry, newest first, ``<missing>`` for unknown IDs."""

from __future__ import annotations

import sys
from datetime import datetime

from layerlab.cli.commands._image_group import add_both
from layerlab.cli.output import created_since, format_rows
from layerlab.engine.api.layer_history import ancestor_ids, history_rows
from layerlab.engine.api.sizes import human_size
from layerlab.engine.store.facade import Store
from layerlab.engine.store.records import StoredImage

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


def history_table_rows(store: Store, image: StoredImage, *, no_trunc: bool, human: bool,
                       now: datetime | None = None) -> list[dict[str, str]]:
    ids = ancestor_ids(store, image)
    rows = []
    for position, row in enumerate(row for row in history_rows(image) if row.recorded):
        image_id = ids.get(position + 1)
        entry = row.entry
        rows.append({
            "ID": "<missing>" if image_id is None else str(image_id) if no_trunc else image_id.short,
            "CreatedSince": created_since(row.created_at, now) if human else entry.created,
            "CreatedAt": entry.created,
            "CreatedBy": entry.created_by if no_trunc else _ellipsis(entry.created_by, CREATED_BY_WIDTH),
            "Size": human_size(row.size) if human else str(row.size),
            "Comment": entry.comment,
        })
    rows.reverse()
    return rows


def history_command(args, ctx) -> int:
    image = ctx.store.image(args.image)
    human = str(args.human).lower() not in ("false", "0", "no")
    rows = history_table_rows(ctx.store, image, no_trunc=args.no_trunc, human=human)
    fmt = "{{.ID}}" if args.quiet else args.format
    sys.stdout.write(format_rows(fmt, rows, DEFAULT_TABLE, HEADERS))
    return 0
