"""``save``, ``load`` and ``import`` (also as ``image save|load|import``)."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Iterable

from layerlab.engine.api.importing import CHANGE_INSTRUCTIONS, import_image
from layerlab.engine.api.saving import SAVE_FORMATS, save, save_to_stream
from layerlab.engine.errors import UsageError
from layerlab.engine.image import Image
from layerlab.engine.store import Store
from layerlab.engine.transports.docker_archive import open_docker_archive
from layerlab.engine.transports.oci_layout import read_oci_layout
from layerlab.cli.commands._image_group import add_both


def register(subparsers) -> None:
    for parser in add_both(subparsers, "save", help="save images to a tar archive (streamed to stdout by default)"):
        parser.add_argument("images", nargs="+", metavar="IMAGE")
        parser.add_argument("-o", "--output", metavar="FILE", help="write to a file (a directory for --format oci)")
        parser.add_argument("--format", choices=tuple(SAVE_FORMATS), default="docker",
                            help="docker: docker-archive (pre-25 layout, the default); docker-oci: the 25+ "
                                 "layout with an OCI layout inside; oci: an OCI image layout directory")
        parser.set_defaults(func=save_command)
    for parser in add_both(subparsers, "load", help="load images from a tar archive or OCI layout (stdin by default)"):
        parser.add_argument("-i", "--input", metavar="FILE", help="archive file or OCI layout directory")
        parser.add_argument("-q", "--quiet", action="store_true", help="suppress the load output")
        parser.set_defaults(func=load_command)
    for parser in add_both(subparsers, "import", help="import a root filesystem tarball to create an image"):
        parser.add_argument("file", metavar="file|-", help="tarball (any compression), or - for stdin")
        parser.add_argument("reference", nargs="?", metavar="REPOSITORY[:TAG]")
        parser.add_argument("-c", "--change", action="append", default=[],
                            help=f"apply a Dockerfile instruction ({', '.join(CHANGE_INSTRUCTIONS)})")
        parser.add_argument("-m", "--message", default="", help="commit message for the imported image")
        parser.set_defaults(func=import_command)


def _spool_dir(ctx) -> str | None:
    """Temp files go next to the store (same filesystem, cleaned by gc if we die)."""
    try:
        return str(ctx.store.layout.tmp)
    except AttributeError:
        return None


def save_command(args, ctx) -> int:
    if args.output:
        save(ctx.store, args.images, Path(args.output), args.format)
        return 0
    if args.format == "oci":
        raise UsageError("--format oci writes a directory: give it with -o DIR")
    if sys.stdout.isatty():
        raise UsageError("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    sys.stdout.flush()
    out = sys.stdout.buffer if hasattr(sys.stdout, "buffer") else None
    if out is None:
        raise UsageError("stdout is not a binary stream; use -o FILE")
    save_to_stream(ctx.store, args.images, out, args.format)
    out.flush()
    return 0


def load_command(args, ctx) -> int:
    store = ctx.store
    if args.input and os.path.isdir(args.input):
        loaded = [(image, tags) for image, tags in read_oci_layout(args.input)]
        _put_all(store, loaded, args.quiet)
        return 0
    source = args.input if args.input else _stdin_binary()
    with open_docker_archive(source, spool_dir=_spool_dir(ctx)) as archive:
        _put_all(store, archive.images, args.quiet)
    return 0


def _put_all(store: Store, loaded: Iterable[tuple[Image, list[str]]], quiet: bool) -> None:
    # Everything was verified while opening; only now does the store change.
    for image, tags in loaded:
        previous = {}
        for tag in tags:
            try:
                previous[tag] = store.resolve(tag)
            except Exception:
                pass
        stored = store.put_image(image, tags=tags)
        if quiet:
            continue
        for tag in tags:
            old = previous.get(tag)
            if old is not None and old != stored.id:
                print(f"The image {tag} already exists, renaming the old one with ID {old} to empty string")
            print(f"Loaded image: {tag}")
        if not tags:
            print(f"Loaded image ID: {stored.id}")


def _stdin_binary():
    if sys.stdin is None:
        raise UsageError("no input: give -i FILE or pipe an archive to stdin")
    if sys.stdin.isatty():
        raise UsageError("requested load from stdin, but stdin is empty")
    return sys.stdin.buffer if hasattr(sys.stdin, "buffer") else sys.stdin


def import_command(args, ctx) -> int:
    source = _stdin_binary() if args.file == "-" else args.file
    stored = import_image(ctx.store, source, reference=args.reference, changes=args.change, message=args.message,
                          source_label=args.file, spool_dir=_spool_dir(ctx))
    print(stored.id)
    return 0
