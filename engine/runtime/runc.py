"""Run one process with runc: a generated OCI bundle, a private state dir, always cleaned up.

runc keeps its container state under ``--root``; ours is layerlab's own
(never the system default /run/runc), so ``runc list`` there shows only
our containers and a crash cannot collide with anyone else's. Each run gets
a fresh container id (carrying our pid) and a bundle directory in the
caller's scratch space (the store's ``tmp/``) that also holds the /etc files
and secret copies; both go away when the run ends, however it ends: the
watchdog removes them if layerlab itself is killed. runc's own errors are read from its JSON log, so a runtime failure
(a missing executable, a bad mount) is told apart from a command that
exited non-zero.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Callable

from layerlab.engine.errors import ContainerError
from layerlab.engine.fsutil import fresh_directory
from layerlab.engine.reaper import CONTAINER_PREFIX, RUNC_STATE_DIR
from layerlab.engine.runtime import live, watchdog
from layerlab.engine.runtime.container_files import prepare_mounts, write_etc_files
from layerlab.engine.runtime.network import PrivateNetwork
from layerlab.engine.runtime.oci_config import runc_config
from layerlab.engine.runtime.output import OutputCallback, pump_output
from layerlab.engine.runtime.spec import ProcessSpec, RunResult



class RuncRuntime:
    """Runs as root with runc. ``state_dir`` is runc's private ``--root``."""

    name = "runc"

    def __init__(self, state_dir: Path | None = None, *, runc: str | None = None,
                 scratch_parent: Path | None = None):
        self.runc = runc or shutil.which("runc") or "runc"
        self.state_dir = Path(state_dir) if state_dir else RUNC_STATE_DIR
        self.scratch_parent = scratch_parent

    def _runc(self, *args: str) -> list[str]:
        return [self.runc, "--root", str(self.state_dir), *args]

    def run(self, rootfs: Path, spec: ProcessSpec, *, on_output: OutputCallback | None = None,
            scratch_dir: Path | None = None, on_start: Callable[[], None] | None = None) -> RunResult:
        """Run ``spec`` with ``rootfs`` as /; the bundle (and any secret copies) goes under ``scratch_dir``."""
        self.state_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # The owner's pid in the id lets the next command reap a container whose layerlab was killed.
        container_id = f"{CONTAINER_PREFIX}{os.getpid()}-{os.urandom(6).hex()}"
        bundle = fresh_directory(scratch_dir or self.scratch_parent, "bundle-")
        undo_bundle = watchdog.undo_on_death(["rm", "-rf", "--", str(bundle)])
        undo_container = watchdog.undo_on_death(self._runc("delete", "--force", container_id))
        process: subprocess.Popen | None = None
        try:
            with contextlib.ExitStack() as scope:
                network = scope.enter_context(PrivateNetwork()) if spec.network == "private" else None
                process = self._start(rootfs, spec, bundle, container_id,
                                      network.netns_path if network is not None else None)
                scope.enter_context(live.running(
                    lambda: subprocess.run(self._runc("kill", container_id, "KILL"), capture_output=True)))
                if on_start is not None:
                    on_start()
                if spec.terminal:
                    process.wait()
                    tail: list[str] = []
                else:
                    tail = pump_output(process, on_output)
                    process.wait()
            errors = _runc_errors(bundle / "runc.log")
            if errors:
                raise ContainerError(f"runc could not run {spec.args[0]!r}: {errors[-1]}")
            return RunResult(_exit_code(process.returncode), tail)
        finally:
            self._cleanup(process, container_id)
            shutil.rmtree(bundle, ignore_errors=True)
            watchdog.done(undo_container)
            watchdog.done(undo_bundle)

    def _start(self, rootfs: Path, spec: ProcessSpec, bundle: Path, container_id: str,
               netns_path: str | None) -> subprocess.Popen:
        os.chmod(bundle, 0o711)  # the container user must reach the bound /etc files
        etc_files = write_etc_files(bundle, spec)
        mounts = prepare_mounts(bundle, spec.mounts)
        config = runc_config(rootfs, spec, etc_files, mounts, container_id, netns_path=netns_path)
        (bundle / "config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
        command = self._runc("--log", str(bundle / "runc.log"), "--log-format", "json",
                             "run", "--bundle", str(bundle), container_id)
        try:
            if spec.terminal:
                # runc owns the pseudo-terminal in foreground mode; our own stdio is the user's.
                return subprocess.Popen(command)
            return subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE)
        except OSError as error:
            raise ContainerError(f"runc does not start: {error}") from None

    def _cleanup(self, process: subprocess.Popen | None, container_id: str) -> None:
        if process is not None and process.poll() is None:
            subprocess.run(self._runc("kill", container_id, "KILL"), capture_output=True)
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for pipe in (process.stdout, process.stderr) if process is not None else ():
            if pipe is not None:
                pipe.close()
        # "runc run" deletes its container as it exits; only one it could not see to the end (killed,
        # or never started) still has its state directory, and a second runc for nothing costs a RUN ms.
        if (self.state_dir / container_id).exists():
            subprocess.run(self._runc("delete", "--force", container_id), capture_output=True)

    def list_containers(self) -> list[str]:
        """Ids of the containers runc knows in our state dir (empty after every run)."""
        if not self.state_dir.exists():
            return []
        result = subprocess.run(self._runc("list", "--quiet"), capture_output=True, text=True)
        return result.stdout.split()

    def works(self, *, start: bool = True) -> str | None:
        """None when runc can be used here, else why not; ``start=False`` trusts an installed runc
        without running it (a build's first RUN: a runc that cannot start says so itself)."""
        if os.geteuid() != 0:
            return f"runc needs root (running as uid {os.geteuid()})"
        if not shutil.which(self.runc) and not os.access(self.runc, os.X_OK):
            return "runc is not installed"
        if not start:
            return None
        try:
            result = subprocess.run([self.runc, "--version"], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired) as error:
            return f"runc does not start: {error}"
        return None if result.returncode == 0 else f"runc --version failed: {result.stderr.strip()}"


def _runc_errors(log: Path) -> list[str]:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except FileNotFoundError:
        return []
    messages = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("level") in ("error", "fatal") and entry.get("msg"):
            messages.append(" ".join(str(entry["msg"]).split()))
    return messages


def _exit_code(returncode: int) -> int:
    # Popen reports a signal as a negative code; a shell would say 128+signal.
    return 128 - returncode if returncode < 0 else returncode
