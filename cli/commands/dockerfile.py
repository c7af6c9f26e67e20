"""``layerlab dockerfile dump|lint FILE``: look at a Dockerfile the way the build will read it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Callable, TypeVar

from layerlab.cli.context import CommandContext
from layerlab.engine.dockerfile import format_error, load_dockerfile, parse_dockerfile
from layerlab.engine.dockerfile.lint import lint
from layerlab.engine.errors import DockerfileError, NotFound

T = TypeVar("T")


def register(subparsers) -> None:
    parser = subparsers.add_parser("dockerfile", help="parse, dump and lint Dockerfiles")
    commands = parser.add_subparsers(dest="dockerfile_command", metavar="SUBCOMMAND", required=True)
    _file_command(commands, "dump", "print the parse tree in BuildKit's dump format", dump_command)
    lint_parser = _file_command(commands, "lint", "warn about patterns that waste the build cache or image size",
                                lint_command)
    lint_parser.add_argument("--strict", action="store_true", help="exit 1 when there are warnings")


def _file_command(commands, name: str, help: str, func: Callable) -> argparse.ArgumentParser:
    parser = commands.add_parser(name, help=help)
    parser.add_argument("file", metavar="FILE", help="the Dockerfile ('-' reads stdin)")
    parser.set_defaults(func=func)
    return parser


def _read(file: str) -> tuple[bytes, str]:
    if file == "-":
        return sys.stdin.buffer.read(), "Dockerfile"
    path = Path(file)
    try:
        return path.read_bytes(), file
    except FileNotFoundError:
        raise NotFound(f"{file}: no such file") from None
    except IsADirectoryError:
        raise NotFound(f"{file}: is a directory, not a Dockerfile") from None


def _parsed(file: str, ctx: CommandContext, parse: Callable[[bytes, str], T]) -> tuple[T, str] | None:
    """FILE parsed, and the name it is reported by; None once the error is shown with its line and a caret."""
    data, name = _read(file)
    try:
        return parse(data, name), name
    except DockerfileError as error:
        print(format_error(error), file=ctx.stderr)
        return None


def dump_command(args, ctx: CommandContext) -> int:
    if (parsed := _parsed(args.file, ctx, parse_dockerfile)) is None:
        return 1
    ast, name = parsed
    print(ast.dump(), file=ctx.stdout)
    for warning in ast.warnings:
        print(f"{name}: warning: {warning}", file=ctx.stderr)
    return 0


def lint_command(args, ctx: CommandContext) -> int:
    if (parsed := _parsed(args.file, ctx, load_dockerfile)) is None:
        return 1
    dockerfile, name = parsed
    warnings = lint(dockerfile)
    for warning in warnings:
        print(warning.format(name), file=ctx.stdout)
    return 1 if warnings and args.strict else 0
