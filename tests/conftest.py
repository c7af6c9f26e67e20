"""Shared fixtures: a fresh store root per test, the CLI in-process, real peers."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.peers import DockerDaemon

REPO = Path(__file__).resolve().parent.parent

# No test may reach Docker Hub: `search` without --registry asks the index named here,
# a closed port on this machine, unless a test points it at its own server.
os.environ["LAYERLAB_INDEX_URL"] = "http://127.0.0.1:9"


@pytest.fixture
def root(tmp_path: Path) -> Path:
    """An empty store root for one test."""
    path = tmp_path / "root"
    path.mkdir()
    return path


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def cli(root: Path):
    """Run ``layerlab --root ROOT ARGS…`` in-process; returns code, stdout, stderr."""
    from layerlab.__main__ import main

    def run(*args: str, stdin: bytes | None = None) -> CliResult:
        out, err = io.StringIO(), io.StringIO()
        old = sys.stdout, sys.stderr, sys.stdin
        sys.stdout, sys.stderr = out, err
        if stdin is not None:
            sys.stdin = io.TextIOWrapper(io.BytesIO(stdin))
        try:
            try:
                code = main(["--root", str(root), *args])
            except SystemExit as exit_:
                code = exit_.code if isinstance(exit_.code, int) else 2
        finally:
            sys.stdout, sys.stderr, sys.stdin = old
        return CliResult(code, out.getvalue(), err.getvalue())

    return run


@pytest.fixture
def cli_process(root: Path):
    """Run the real ``layerlab`` program as a separate process."""

    def run(*args: str, input: bytes | None = None, check: bool = False, **kwargs) -> subprocess.CompletedProcess:
        env = dict(os.environ, LAYERLAB_ROOT=str(root))
        return subprocess.run([sys.executable, "-m", "layerlab", *args], input=input, capture_output=True,
                              env=env, cwd=REPO, check=check, **kwargs)

    return run


@pytest.fixture(scope="session")
def docker() -> DockerDaemon:
    daemon = DockerDaemon().start()
    yield daemon
    daemon.stop()
