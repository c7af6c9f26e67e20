"""``version``, ``info`` and ``completion``: what this layerlab is, what its store holds, and Tab."""

from __future__ import annotations

import json
import sys

from layerlab.engine.errors import UsageError


def register(subparsers) -> None:
    version = subparsers.add_parser("version", help="show the layerlab version information")
    version.add_argument("-f", "--format", metavar="FORMAT", help="json, or a Go template ({{.Version}})")
    version.set_defaults(func=version_command)
    info = subparsers.add_parser("info", help="display system-wide information")
    info.add_argument("-f", "--format", metavar="FORMAT", help="json, or a Go template ({{.Images}})")
    info.set_defaults(func=info_command)
    completion = subparsers.add_parser("completion", help="print the shell completion script (bash, zsh, fish)")
    completion.add_argument("shell", metavar="SHELL", help="bash, zsh or fish")
    completion.set_defaults(func=completion_command)


def _fields(obj) -> dict[str, object]:
    """A dataclass as Go-style field names (store_root -> StoreRoot), for --format."""
    return {"".join(part.capitalize() for part in name.split("_")): (str(value) if not isinstance(
        value, (bool, int)) else value) for name, value in vars(obj).items()}


def _print(fields: dict[str, object], fmt: str | None, lines: list[str]) -> None:
    if fmt == "json":
        sys.stdout.write(json.dumps(fields) + "\n")
    elif fmt:
        from layerlab.cli.output import render_template

        sys.stdout.write(render_template(fmt, fields) + "\n")
    else:
        sys.stdout.write("\n".join(lines) + "\n")


def version_command(args, ctx) -> int:
    from layerlab.engine.api.about import version_info

    info = version_info()
    _print(_fields(info), args.format, [f"layerlab version {info.version}", f" Python:    {info.python}",
                                        f" OS/Arch:   {info.os}/{info.arch}"])
    return 0


def info_command(args, ctx) -> int:
    from layerlab.engine.api.about import system_info

    info = system_info(ctx.root)
    _print(_fields(info), args.format, [
        f"Version: {info.version}",
        "Store:",
        f" Root Dir: {info.store_root}",
        f" Format Version: {info.store_format}",
        f" Images: {info.images}",
        f" Tags: {info.tags}",
        f" Blobs: {info.blobs}",
        f" Snapshots: {info.snapshots}",
        "Runtime:",
        f" Runtime: {info.runtime}",
        f" Network: {info.network}",
        f" Seccomp: {info.seccomp}",
        f" Rootless: {str(info.rootless).lower()}",
    ])
    return 0


def completion_command(args, ctx) -> int:
    from layerlab.cli.completion import SHELLS, completion_spec, render
    from layerlab.cli.main import build_parser

    if args.shell not in SHELLS:
        raise UsageError(f"completion: unknown shell {args.shell!r} (bash, zsh or fish)")
    sys.stdout.write(render(args.shell, completion_spec(build_parser())))
    return 0


def print_version() -> None:
    """``layerlab --version``: one line, as ``docker --version`` prints it."""
    from layerlab.engine.api.about import layerlab_version

    sys.stdout.write(f"layerlab version {layerlab_version()}\n")
