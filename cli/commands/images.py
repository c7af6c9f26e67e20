"""``images`` / ``image ls``, ``tag``, ``rmi`` / ``image rm``, ``image prune``: docker's shapes and rules."""

from __future__ import annotations

import re
import sys
from datetime import datetime

from layerlab.cli.commands._image_group import add_both, image_subparsers
from layerlab.cli.output import created_since, format_rows, go_time
from layerlab.engine.api.image_rows import NONE, image_rows
from layerlab.engine.api.sizes import human_size
from layerlab.engine.errors import UsageError
from layerlab.engine.reference import Reference

# typing costs milliseconds of this command's start-up; type checkers honour this form.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from layerlab.engine.store import Store
    from layerlab.engine.store.records import ImageRecord

DEFAULT_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
DIGESTS_TABLE = "table {{.Repository}}\t{{.Tag}}\t{{.Digest}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}"
HEADERS = {"Repository": "REPOSITORY", "Tag": "TAG", "ID": "IMAGE ID", "CreatedSince": "CREATED",
           "CreatedAt": "CREATED AT", "Size": "SIZE", "Digest": "DIGEST", "VirtualSize": "VIRTUAL SIZE",
           "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE", "Containers": "CONTAINERS"}
FILTERS = ("dangling", "label", "before", "since", "reference")


def register(subparsers) -> None:
    for parser in add_both(subparsers, "images", "ls", help="list images"):
        parser.add_argument("repository", nargs="?", metavar="REPOSITORY[:TAG]")
        parser.add_argument("-a", "--all", action="store_true", help="show all images (default hides intermediate images)")
        parser.add_argument("-q", "--quiet", action="store_true", help="only show image IDs")
        parser.add_argument("--digests", action="store_true", help="show digests")
        parser.add_argument("--no-trunc", action="store_true", help="don't truncate output")
        parser.add_argument("-f", "--filter", action="append", default=[], metavar="FILTER",
                            help="filter output (dangling=, label=, before=, since=, reference=)")
        parser.add_argument("--format", help="table, json, or a Go template")
        parser.set_defaults(func=images_command)
    for parser in add_both(subparsers, "tag", help="create a tag TARGET_IMAGE that refers to SOURCE_IMAGE"):
        parser.add_argument("source", metavar="SOURCE_IMAGE[:TAG]")
        parser.add_argument("target", metavar="TARGET_IMAGE[:TAG]")
        parser.set_defaults(func=tag_command)
    for parser in add_both(subparsers, "rmi", "rm", help="remove one or more images"):
        parser.add_argument("images", nargs="+", metavar="IMAGE")
        parser.add_argument("-f", "--force", action="store_true", help="force removal of the image")
        parser.add_argument("--no-prune", action="store_true", help="do not delete untagged parents")
        parser.set_defaults(func=rmi_command)
    prune = image_subparsers(subparsers).add_parser("prune", help="remove unused images")
    prune.add_argument("-a", "--all", action="store_true", help="remove all unused images, not just dangling ones")
    prune.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    prune.set_defaults(func=prune_command)


# -- images -----------------------------------------------------------------------------------

def _parse_filters(texts: list[str]) -> dict[str, list[str]]:
    filters: dict[str, list[str]] = {}
    for text in texts:
        key, sep, value = text.partition("=")
        if not sep or key not in FILTERS:
            raise UsageError(f"invalid filter {text!r} (expected one of: {', '.join(f + '=…' for f in FILTERS)})")
        filters.setdefault(key, []).append(value)
    return filters


def _path_match(pattern: str, name: str) -> bool:
    """Go's ``path.Match``: ``*`` and ``?`` never cross a ``/``."""
    regex = ""
    for char in pattern:
        regex += "[^/]*" if char == "*" else "[^/]" if char == "?" else re.escape(char)
    return re.fullmatch(regex, name) is not None


def _reference_matches(pattern: str, tags: list[str]) -> bool:
    """Docker's reference filter: the pattern matches the familiar name, or name:tag."""
    for tag in tags:
        ref = Reference.parse(tag)
        if _path_match(pattern, ref.familiar_name) or _path_match(pattern, ref.familiar):
            return True
    return False


def _matches(record: ImageRecord, filters: dict[str, list[str]], store: Store) -> bool:
    if "dangling" in filters:
        wanted = {value.lower() for value in filters["dangling"]}
        if not wanted <= {"true", "false", "1", "0"}:
            raise UsageError(f"invalid filter 'dangling={filters['dangling'][0]}': expected true or false")
        if (not record.tags) != bool(wanted & {"true", "1"}):
            return False
    if "label" in filters:
        for label in filters["label"]:
            key, sep, value = label.partition("=")
            if key not in record.labels or (sep and record.labels[key] != value):
                return False
    for key, newer in (("before", False), ("since", True)):
        for ref in filters.get(key, []):
            other = store.image(ref)
            mine, theirs = record.created_at, other.created_at
            if mine is None or theirs is None or (mine <= theirs if newer else mine >= theirs):
                return False
    if "reference" in filters:
        if not any(_reference_matches(p, list(record.familiar_tags)) for p in filters["reference"]):
            return False
    return True


def table_rows(records: list[ImageRecord], *, no_trunc: bool, now: datetime | None = None) -> list[dict[str, str]]:
    rows = []
    for row in image_rows(records):
        created = row.created_at
        rows.append({"Containers": "N/A", "CreatedAt": go_time(created), "CreatedSince": created_since(created, now),
                     "ID": str(row.image_id) if no_trunc else row.short_id, "SharedSize": "N/A",
                     "Size": human_size(row.size), "UniqueSize": "N/A", "VirtualSize": human_size(row.size),
                     "Repository": row.repository, "Tag": row.tag,
                     "Digest": NONE if row.repo_digest is None else str(row.repo_digest)})
    return rows


def images_command(args, ctx) -> int:
    store = ctx.store
    filters = _parse_filters(args.filter)
    if args.repository:
        filters.setdefault("reference", []).append(args.repository)
    records = store.images()
    if not args.all:
        # Untagged images that others build on are intermediate layers of a build: hidden, as docker does.
        records = [r for r in records if not r.intermediate]
    records = [r for r in records if _matches(r, filters, store)]
    rows = table_rows(records, no_trunc=args.no_trunc)
    if args.quiet:
        fmt = "{{.ID}}"
    else:
        fmt = args.format or (DIGESTS_TABLE if args.digests else DEFAULT_TABLE)
        if fmt == "table":
            fmt = DIGESTS_TABLE if args.digests else DEFAULT_TABLE
    sys.stdout.write(format_rows(fmt, rows, DEFAULT_TABLE, HEADERS))
    return 0


# -- tag / rmi / prune -------------------------------------------------------------------------

def tag_command(args, ctx) -> int:
    ctx.store.tag(args.source, args.target)
    return 0


def rmi_command(args, ctx) -> int:
    status = 0
    from layerlab.engine.errors import LayerlabError

    for name in args.images:
        try:
            lines = ctx.store.remove(name, force=args.force, prune_parents=not args.no_prune)
        except LayerlabError as error:
            # docker rmi carries on with the other images and exits 1 at the end
            print(f"layerlab: {error.one_line()}", file=sys.stderr)
            status = 1
            continue
        for action, text in lines:
            print(f"{action}: {text}")
    return status


def prune_command(args, ctx) -> int:
    if not args.force:
        warning = ("WARNING! This will remove all images without at least one container associated to them."
                   if args.all else "WARNING! This will remove all dangling images.")
        sys.stdout.write(f"{warning}\nAre you sure you want to continue? [y/N] ")
        sys.stdout.flush()
        answer = sys.stdin.readline().strip().lower()
        if answer not in ("y", "yes"):
            return 0
    report = ctx.store.prune(all=args.all)
    if report.lines:
        print("Deleted Images:")
        for action, text in report.lines:
            print(f"{action.lower()}: {text}")
        print()
    print(f"Total reclaimed space: {human_size(report.reclaimed)}")
    return 0
