"""The ``image`` command group (``image ls``, ``image rm`` …), shared by the modules that add to it."""

from __future__ import annotations

import argparse


def image_subparsers(subparsers) -> argparse._SubParsersAction:
    """The sub-command set of ``layerlab image``, created by whichever module asks first."""
    parser = subparsers.choices.get("image")
    if parser is None:
        parser = subparsers.add_parser("image", help="manage images (ls, rm, tag, history, inspect, prune, save, load, import)")
        parser.set_defaults(func=lambda args, ctx: (parser.print_help(), 0)[1])
        parser._image_actions = parser.add_subparsers(dest="image_command", metavar="COMMAND")
    return parser._image_actions


def add_both(subparsers, name: str, image_name: str | None = None, **kwargs) -> list[argparse.ArgumentParser]:
    """Add ``name`` at top level and ``image IMAGE_NAME`` (default ``name``); returns both parsers."""
    top = subparsers.add_parser(name, **kwargs)
    grouped = image_subparsers(subparsers).add_parser(image_name or name, **kwargs)
    return [top, grouped]
