"""``layerlab tui [CONTEXT] [--watch] [--theme NAME] [-f FILE] [--build-arg K=V] [--target STAGE] [--no-cache]``:
open the app (also what bare ``layerlab`` does); the build options are ``build``'s, changeable in the app."""

from __future__ import annotations

import argparse
from pathlib import Path

from layerlab.engine.errors import UsageError


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "tui", help="open the terminal app (images, layer history, files, build)",
        description="Open the terminal app. With CONTEXT, the Build panel shows its Dockerfile; "
                    "--watch re-reads it whenever a file in the context changes.")
    parser.add_argument("context", nargs="?", metavar="CONTEXT", help="a build context directory")
    parser.add_argument("--watch", action="store_true", help="follow changes in CONTEXT")
    parser.add_argument("-f", "--file", metavar="FILE",
                        help="the Dockerfile to build (default CONTEXT/Dockerfile, or the context's only one)")
    parser.add_argument("--build-arg", action="append", default=[], metavar="K=V", help="set a build arg")
    parser.add_argument("--target", default="", metavar="STAGE", help="build up to this stage")
    parser.add_argument("--no-cache", action="store_true", help="rebuild every step")
    parser.add_argument("--theme", metavar="NAME",
                        help="layerlab-dark (dark), layerlab-light (light), layerlab-high-contrast "
                             "(high-contrast), or a user theme")
    parser.set_defaults(func=open_app)


def open_app(args: argparse.Namespace, ctx) -> int:
    context_arg = getattr(args, "context", None)
    watch = bool(getattr(args, "watch", False))
    context = Path(context_arg).resolve() if context_arg else None
    if context is not None and not context.is_dir():
        raise UsageError(f"{context_arg}: not a directory (CONTEXT is a build context folder)")
    if watch and context is None:
        raise UsageError("--watch needs a CONTEXT to watch")
    dockerfile = getattr(args, "file", None)
    build_args, target = list(getattr(args, "build_arg", []) or []), getattr(args, "target", "") or ""
    no_cache = bool(getattr(args, "no_cache", False))
    if context is None and (dockerfile or build_args or target or no_cache):
        raise UsageError("-f, --build-arg, --target and --no-cache need a CONTEXT to build")
    if ctx.open_app is None:
        raise UsageError("the terminal app is not available here; run it as `layerlab tui`")
    return ctx.open_app(store=ctx.store, root=ctx.root, context=context, watch=watch,
                        theme=getattr(args, "theme", None), dockerfile=dockerfile, build_args=build_args,
                        target=target, no_cache=no_cache)
