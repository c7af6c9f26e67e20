"""Undo a run's side effects even when layerlab itself is killed.

A container started by ``runc run`` does not die with its caller, nor does
an overlay mount or a bundle holding secrets. So the first run in a process
starts one small watchdog in its own session (a terminal hang-up does not
reach it) that reads a pipe from us. Before making something that must not
outlive us, we tell it how to undo it (``+key argv``); once we have undone
it ourselves we take that back (``-key``). When the pipe ends while undo
commands are pending, we died: it runs them newest first (kill and delete
the container, unmount, remove the scratch) and exits. A normal exit leaves
nothing pending, so the watchdog just ends.

If the watchdog itself is killed too, the next layerlab command reaps what
is left (``leftovers.reap_dead_runs``).
"""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import threading

# Runs in a bare interpreter (-I -S): nothing from layerlab, nothing from site-packages.
_WATCHDOG_CODE = r"""
import json, signal, subprocess, sys
for name in ("SIGHUP", "SIGINT", "SIGTERM", "SIGPIPE"):
    signal.signal(getattr(signal, name), signal.SIG_IGN)
pending = {}
for raw in sys.stdin.buffer:
    op, _, rest = raw.decode("utf-8", "surrogateescape").rstrip("\n").partition(" ")
    if op == "+":
        key, _, argv = rest.partition(" ")
        pending[key] = json.loads(argv)
    elif op == "-":
        pending.pop(rest, None)
for key in reversed(list(pending)):
    try:
        subprocess.run(pending[key], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=120)
    except Exception:
        pass
"""


class Watchdog:
    """The process's one watchdog; ``undo_on_death(argv)`` returns a key for ``done(key)``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._keys = itertools.count(1)

    def undo_on_death(self, argv: list[str]) -> str:
        key = str(next(self._keys))
        self._send(f"+ {key} {json.dumps(argv)}\n")
        return key

    def done(self, key: str) -> None:
        self._send(f"- {key}\n")

    def _send(self, line: str) -> None:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._process = subprocess.Popen(
                    [sys.executable, "-I", "-S", "-c", _WATCHDOG_CODE], stdin=subprocess.PIPE,
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
            assert self._process.stdin is not None
            try:
                self._process.stdin.write(line.encode("utf-8", "surrogateescape"))
                self._process.stdin.flush()
            except (BrokenPipeError, OSError):
                pass  # a lost watchdog leaves the work to the next command's reaper


_watchdog = Watchdog()


def undo_on_death(argv: list[str]) -> str:
    """Have ``argv`` run if this process dies before ``done(key)``."""
    return _watchdog.undo_on_death(argv)


def done(key: str) -> None:
    _watchdog.done(key)
