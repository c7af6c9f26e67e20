"""The ``layerlab`` command line: docker-style commands over the engine.

Commands are listed in ``layerlab.cli.command_table``; only the module of the
command being run is imported, so a start-up pays for what that command uses
(``layerlab --help`` imports neither argparse nor the engine).
Errors the engine raises on purpose print as one line on stderr with a
non-zero exit; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys

from layerlab.cli.command_table import BY_NAME, all_modules, modules_for, top_level_help

# typing costs a few milliseconds of a start-up budget of about fifty; type checkers honour this form.
TYPE_CHECKING = False
if TYPE_CHECKING:
    import argparse
    from collections.abc import Callable, Sequence

HELP_FLAGS = ("-h", "--help")
VERSION_FLAGS = ("-v", "--version")


def _command_words(argv: Sequence[str]) -> tuple[str | None, str | None]:
    """The first word that is not a global option (a command, or -h), and the word after it."""
    index = 0
    while index < len(argv):
        word = argv[index]
        if word == "--root":
            index += 2
        elif word.startswith("--root="):
            index += 1
        elif word == "--":
            index += 1
            break
        elif word.startswith("-") and word not in HELP_FLAGS + VERSION_FLAGS:
            return None, None
        else:
            break
    if index >= len(argv):
        return None, None
    following = argv[index + 1] if index + 1 < len(argv) else None
    return argv[index], following


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser for ``argv``: only its command's module is imported. Without ``argv``, every command's."""
    import argparse
    import importlib

    help_width = _terminal_columns() - 2  # what argparse's HelpFormatter takes by default

    class Parser(argparse.ArgumentParser):
        # argparse makes a formatter on every add_argument, and each one imports shutil and asks the
        # terminal for its width, milliseconds of a quick command's start-up: ask once per parser tree.
        def _get_formatter(self) -> argparse.HelpFormatter:
            return self.formatter_class(prog=self.prog, width=help_width)

    class TopLevelParser(Parser):
        def format_help(self) -> str:
            return top_level_help()

    parser = TopLevelParser(prog="layerlab")
    parser.add_argument("--root", metavar="DIR")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", prog="layerlab", parser_class=Parser)
    modules: list[str] = []
    if argv is None:
        modules = all_modules()
    else:
        name, following = _command_words(argv)
        if name in BY_NAME:
            modules = modules_for(name, following)
        elif name is not None and name not in HELP_FLAGS + VERSION_FLAGS:
            parser.error(f"'{name}' is not a layerlab command (see 'layerlab --help')")
    for module in modules:
        importlib.import_module(f"layerlab.cli.commands.{module}").register(subparsers)
    return parser


def _terminal_columns() -> int:
    """``shutil.get_terminal_size().columns`` without importing shutil (and its compressors)."""
    import os

    try:
        columns = int(os.environ.get("COLUMNS", "0"))
    except ValueError:
        columns = 0
    if columns <= 0:
        try:
            columns = os.get_terminal_size(sys.__stdout__.fileno()).columns
        except (AttributeError, ValueError, OSError):
            columns = 0
    return columns or 80


def main(argv: Sequence[str] | None = None, open_app: Callable[..., int] | None = None) -> int:
    """Run one command. ``open_app`` opens the terminal app for ``tui`` (and for no command);
    the ``layerlab`` launcher passes it, so the command line never imports the app."""
    if argv is None:
        argv = sys.argv[1:]
    first = _command_words(argv)[0]
    if first in HELP_FLAGS:
        sys.stdout.write(top_level_help())
        return 0
    if first in VERSION_FLAGS:
        from layerlab.cli.commands.about import print_version

        print_version()
        return 0
    args = build_parser(argv).parse_args(argv)

    from layerlab.cli.context import CommandContext
    from layerlab.engine.errors import LayerlabError
    from layerlab.engine.paths import resolve_root
    from layerlab.engine.reaper import reap_dead_runs

    ctx = CommandContext(root=resolve_root(args.root), open_app=open_app)
    try:
        # Before anything else: what a killed layerlab left running, mounted or on disk.
        reap_dead_runs(ctx.root / "tmp")
    except LayerlabError as error:
        print(f"layerlab: {error.one_line()}", file=sys.stderr)
        return error.exit_code
    restore_signals = _unwind_on_hangup()
    for stream in (sys.stdout, sys.stderr):
        # Names and values may carry bytes that are not UTF-8 (as docker allows); print them as they came.
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="surrogateescape")
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
    except OSError as error:
        # A path the user gave that the system refuses (missing, a directory, too long…): one line.
        print(f"layerlab: {_os_error_line(error)}", file=sys.stderr)
        return 1
    finally:
        ctx.close()
        restore_signals()


def _os_error_line(error: OSError) -> str:
    name = error.filename if isinstance(error.filename, str) else ""
    if len(name) > 200:
        name = name[:100] + "…" + name[-40:]
    reason = error.strerror or str(error)
    return f"{name}: {reason}" if name else reason


def _unwind_on_hangup() -> Callable[[], None]:
    """SIGHUP and SIGTERM unwind like Ctrl-C, so a run's container, mounts and scratch are
    removed on the way out; returns what puts the previous handlers back."""
    import signal

    previous = {}
    try:
        for number in (signal.SIGHUP, signal.SIGTERM):
            if signal.getsignal(number) is signal.SIG_DFL:
                previous[number] = signal.signal(number, _interrupt)
    except ValueError:  # not the main thread (an embedding caller): leave its signals alone
        pass

    def restore() -> None:
        for number, handler in previous.items():
            signal.signal(number, handler)

    return restore


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt
