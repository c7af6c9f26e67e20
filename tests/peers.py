"""Real peers for interop tests: start them when absent, skip only when allowed.

A test that needs a peer skips only when the peer's program is missing AND
``LAYERLAB_REQUIRE_PEERS`` is unset; CI sets it, so there a missing peer fails.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest


def peers_required() -> bool:
    return bool(os.environ.get("LAYERLAB_REQUIRE_PEERS"))


def need_program(name: str) -> str:
    """Path of ``name``; skip (or fail under LAYERLAB_REQUIRE_PEERS) when it is missing."""
    path = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )
    if path:
        return path
    message = f"peer program {name!r} is not installed"
    if peers_required():
        pytest.fail(message + " (LAYERLAB_REQUIRE_PEERS is set)")
    pytest.skip(message)


def _docker_ok(docker: str) -> bool:
    return subprocess.run([docker, "info"], capture_output=True).returncode == 0


class DockerDaemon:
    """A running Docker engine: reuse one that answers, else start dockerd."""

    def __init__(self) -> None:
        self.docker = need_program("docker")
        self.process: subprocess.Popen | None = None

    def start(self) -> "DockerDaemon":
        if _docker_ok(self.docker):
            return self
        dockerd = need_program("dockerd")
        log = open("/tmp/layerlab-test-dockerd.log", "ab")
        self.process = subprocess.Popen(
            [dockerd, "--iptables=false", "--ip6tables=false", "--bridge=none", "--storage-driver=overlay2"],
            stdout=log, stderr=log, start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if _docker_ok(self.docker):
                return self
            if self.process.poll() is not None:
                break
            time.sleep(0.5)
        pytest.fail("dockerd did not come up; see /tmp/layerlab-test-dockerd.log")

    def run(self, *args: str, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
        env = dict(os.environ, DOCKER_BUILDKIT="0")
        result = subprocess.run([self.docker, *args], input=input, capture_output=True, env=env)
        if check and result.returncode != 0:
            raise AssertionError(f"docker {' '.join(args)} failed: {result.stderr.decode(errors='replace')}")
        return result

    def stop(self) -> None:
        """Leave dockerd running, even one this session started: other test runs on the machine may be
        using it right now, and stopping it under them fails their builds half-way."""
