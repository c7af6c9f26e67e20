"""Fixtures for build tests: a store with the bootstrapped busybox base, contexts written on the fly."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.peers import need_program


@pytest.fixture
def base(cli) -> str:
    """``busybox:latest`` in the test's store, made from the host's static busybox."""
    busybox = need_program("busybox")
    assert cli("bootstrap", "busybox", "--busybox", busybox).code == 0
    return "busybox"


def write_context(directory: Path, dockerfile: str, files: dict[str, str] | None = None) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "Dockerfile").write_text(dockerfile)
    for name, content in (files or {}).items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return directory


def json_events(output: str) -> list[dict]:
    return [json.loads(line) for line in output.splitlines() if line.startswith("{")]


def cache_pattern(output: str) -> str:
    """One letter per cached-or-not step in a JSON progress stream: H hit, M miss."""
    return "".join("H" if e["cache"] == "hit" else "M" for e in json_events(output) if e["type"] == "step.cache")


def reasons(output: str) -> list[str]:
    return [e["reason"] for e in json_events(output) if e["type"] == "step.cache"]
