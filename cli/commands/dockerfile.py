"""``layerlab dockerfile dump|lint FILE``: look at a Dockerfile the way the build will read it."""

from __future__ import annotations

import sys
from pathlib import Path

from layerlab.engine.dockerfile import format_error, load_dockerfile, parse_dockerfile
from layerlab.engine.dockerfile.lint import lint
from layerlab.engine.errors import DockerfileError, NotFound


def register(subparsers) -> None:
    parser = subparsers.add_parser("dockerfile", help="parse, dump and lint Dockerfiles")
    commands = parser.add_subparsers(dest="dockerfile_command", metavar="SUBCOMMAND", required=True)

    dump = commands.add_parser("dump", help="print the parse tree in BuildKit's dump format")
    dump.add_argument("file", metavar="FILE", help="the Dockerfile ('-' reads stdin)")
    dump.set_defaults(func=dump_command)

    lint_parser = commands.add_parser("lint", help="warn about patterns that waste the build cache or image size")
    lint_parser.add_argument("file", metavar="FILE", help="the Dockerfile ('-' reads stdin)")
    lint_parser.add_argument("--strict", action="store_true", help="exit 1 when there are warnings")
    lint_parser.set_defaults(func=lint_command)


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


def dump_command(args, ctx) -> int:
    data, name = _read(args.file)
    try:
        ast = parse_dockerfile(data, filename=name)
    except DockerfileError as error:
        print(format_error(error), file=ctx.stderr)
        return 1
    print(ast.dump(), file=ctx.stdout)
    for warning in ast.warnings:
        print(f"{name}: warning: {warning}", file=ctx.stderr)
    return 0


def lint_command(args, ctx) -> int:
    data, name = _read(args.file)
    try:
        dockerfile = load_dockerfile(data, filename=name)
    except DockerfileError as error:
        print(format_error(error), file=ctx.stderr)
        return 1
    warnings = lint(dockerfile)
    for warning in warnings:
        print(warning.format(name), file=ctx.stdout)
    return 1 if warnings and args.strict else 0
