"""The runs this process has going, so a front end that quits can stop them at once.

A runtime registers how to kill each process it starts (``running``) for as
long as it runs. ``stop_all`` kills them all: the RUN fails at once, its
runtime cleans up as after any failure, and the build that waited on it
ends. Without this, an app that quits mid-RUN waits for the RUN to finish.
"""

from __future__ import annotations

import contextlib
import itertools
import threading
from typing import Callable, Iterator

_lock = threading.Lock()
_kills: dict[int, Callable[[], None]] = {}
_numbers = itertools.count()


@contextlib.contextmanager
def running(kill: Callable[[], None]) -> Iterator[None]:
    """While the block runs, ``stop_all`` may call ``kill`` (from another thread)."""
    with _lock:
        number = next(_numbers)
        _kills[number] = kill
    try:
        yield
    finally:
        with _lock:
            _kills.pop(number, None)


def stop_all() -> int:
    """Kill every run still going; how many there were."""
    with _lock:
        kills = list(_kills.values())
    for kill in kills:
        try:
            kill()
        except OSError:
            pass  # it ended meanwhile
    return len(kills)
