"""The ``layerlab`` command line: docker-style commands over the engine.

Command modules live in ``layerlab.cli.commands``; each registers its own subcommands.
Errors the engine raises on purpose print as one line on stderr with a
non-zero exit; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from typing import Callable, Sequence

import layerlab.cli.commands
from layerlab.engine.errors import LayerlabError
from layerlab.engine.paths import resolve_root
from layerlab.cli.context import CommandContext


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="layerlab",
        description="Build, store, move and explore Docker/OCI images; see the build cache at work.",
    )
    parser.add_argument("--root", metavar="DIR", help="store directory (default: $LAYERLAB_ROOT or the XDG data dir)")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_info in sorted(pkgutil.iter_modules(layerlab.cli.commands.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"layerlab.cli.commands.{module_info.name}")
        register = getattr(module, "register", None)
        if register is not None:
            register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None, open_app: Callable[..., int] | None = None) -> int:
    """Run one command. ``open_app`` opens the terminal app for ``tui`` (and for no command);
    the ``layerlab`` launcher passes it, so the command line never imports the app."""
    parser = build_parser()
    args = parser.parse_args(argv)
    ctx = CommandContext(root=resolve_root(args.root), open_app=open_app)
    func = getattr(args, "func", None)
    if func is None:
        # No command: open the app, as `layerlab tui` does.
        from layerlab.cli.commands.tui import open_app

        func = open_app
    try:
        return int(func(args, ctx) or 0)
    except LayerlabError as error:
        print(f"layerlab: {error.one_line()}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("layerlab: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    finally:
        ctx.close()

