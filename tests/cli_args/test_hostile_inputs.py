"""Every subcommand and every argument, from the real parser, fed hostile values.

Missing paths, directories, bytes that are not UTF-8, huge and empty strings:
each must end in one line and an exit code, never a traceback; a path or an
image that is not there must give a non-zero exit. Registries are reached
only through a proxy on a closed local port, so nothing leaves this machine.
"""

from __future__ import annotations

import argparse
import io
import os
import signal
import sys
import tarfile
from pathlib import Path

import pytest

from layerlab.cli.main import build_parser, main
from tests.peers import need_program

pytestmark = pytest.mark.peers

DEAD_REGISTRY = "127.0.0.1:9"   # the discard port: nothing listens there
# (-w DIR is a path inside the container, made when missing, as docker does)
PATH_METAVARS = {"FILE", "PATH", "CONTEXT", "file|-", "DEST"}
IMAGE_METAVARS = {"IMAGE", "SOURCE_IMAGE[:TAG]", "IMAGE:PATH"}
CASE_SECONDS = 60


def leaf_commands() -> dict[str, argparse.ArgumentParser]:
    found: dict[str, argparse.ArgumentParser] = {}

    def walk(parser: argparse.ArgumentParser, words: list[str]) -> None:
        subcommands = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
        if not subcommands:
            found[" ".join(words)] = parser
            return
        seen: set[int] = set()
        for name, child in subcommands[0].choices.items():
            if id(child) not in seen:
                seen.add(id(child))
                walk(child, [*words, name])

    walk(build_parser(), [])
    return found


COMMANDS = leaf_commands()


def hostile_values(tmp: Path) -> dict[str, str]:
    return {"missing path": str(tmp / "missing" / "nothing-here"), "directory": str(tmp),
            "not UTF-8": os.fsdecode(b"bad-\xff\xfe-name"), "huge": "x" * 100_000, "empty": ""}


@pytest.fixture
def fillers(tmp_path, root):
    """Sensible values for the arguments not under test, so the one under test is reached."""
    busybox = need_program("busybox")
    assert run_cli(root, ["bootstrap", "busybox", "--busybox", busybox])[0] == 0
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nLABEL a=b\n")
    archive = tmp_path / "layer.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo("hello.txt")
        info.size = 2
        tar.addfile(info, io.BytesIO(b"hi"))
    return {"IMAGE": "busybox", "SOURCE_IMAGE[:TAG]": "busybox", "IMAGE:PATH": "busybox:/bin/sh",
            "TARGET_IMAGE[:TAG]": "hostile-target", "CONTEXT": str(context), "FILE": str(context / "Dockerfile"),
            "PATH": "/bin/sh", "DEST": str(tmp_path / "copied"), "file|-": str(archive), "SHELL": "bash",
            "REF": "bootstrapped", "NAME[:TAG|@DIGEST]": f"{DEAD_REGISTRY}/x", "NAME[:TAG]": f"{DEAD_REGISTRY}/x",
            "REPOSITORY": f"{DEAD_REGISTRY}/x", "REPOSITORY[:TAG]": "busybox", "SERVER": DEAD_REGISTRY,
            "TERM": "x", "CMD": "true"}


class _Timeout(Exception):
    pass


def run_cli(root: Path, argv: list[str]) -> tuple[int, str]:
    """Run in-process like the real program; returns (exit code, stderr). An exception escapes."""
    stdout, stderr = io.TextIOWrapper(io.BytesIO(), errors="surrogateescape"), io.TextIOWrapper(io.BytesIO())
    old = sys.stdout, sys.stderr, sys.stdin
    sys.stdout, sys.stderr, sys.stdin = stdout, stderr, io.TextIOWrapper(io.BytesIO(b""))

    def expire(signum, frame):
        raise _Timeout(f"no answer within {CASE_SECONDS}s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(CASE_SECONDS)
    try:
        try:
            code = main(["--root", str(root), *argv], open_app=lambda **options: 0)
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 2
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
        sys.stdout, sys.stderr, sys.stdin = old
    stderr.seek(0)
    return code, stderr.buffer.getvalue().decode(errors="replace")


def arguments(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [action for action in parser._actions
            if not isinstance(action, argparse._HelpAction) and action.nargs != 0]


def argv_for(words: str, parser, under_test: argparse.Action, value: str, fillers: dict[str, str]) -> list[str]:
    argv = words.split()
    if words == "run" and under_test.dest != "network":
        argv += ["--network", "none"]
    if under_test.option_strings:
        argv += [under_test.option_strings[-1], value]
    remainder: list[str] = []
    for action in parser._actions:
        if action.option_strings or isinstance(action, argparse._HelpAction):
            continue
        filler = value if action is under_test else fillers.get(action.metavar or "", "x")
        if action.nargs == argparse.REMAINDER:
            remainder = [filler]
        elif action.nargs != "?" or action is under_test:
            argv.append(filler)
    return [*argv, "--", *remainder] if remainder and remainder[0].startswith("-") else [*argv, *remainder]


@pytest.mark.parametrize("words", sorted(COMMANDS))
def test_hostile_values_never_give_a_traceback(words, root, tmp_path, fillers, monkeypatch):
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "https_proxy", "http_proxy"):
        monkeypatch.setenv(name, f"http://{DEAD_REGISTRY}")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    parser = COMMANDS[words]
    failures = []
    for action in arguments(parser):
        for label, value in hostile_values(tmp_path).items():
            argv = argv_for(words, parser, action, value, fillers)
            shown = f"layerlab {words} {action.option_strings or action.metavar} = {label}"
            try:
                code, err = run_cli(root, argv)
            except BaseException as error:  # noqa: BLE001 - the point is to see every one
                failures.append(f"{shown}: {type(error).__name__}: {str(error)[:200]}")
                continue
            if "Traceback" in err:
                failures.append(f"{shown}: a traceback on stderr")
            metavar = action.metavar or ""
            bad_path = label == "missing path" and metavar in PATH_METAVARS
            bad_image = metavar in IMAGE_METAVARS
            if (bad_path or bad_image) and code == 0:
                failures.append(f"{shown}: exit 0 for input that names nothing")
            if code != 0 and len(err.strip().splitlines()) > 3 and "usage:" not in err:
                failures.append(f"{shown}: {len(err.splitlines())} lines of error: {err[:300]!r}")
    assert failures == []
