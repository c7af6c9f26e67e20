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
import subprocess
import threading

# A POSIX shell, not a second Python: it starts in about a millisecond where an interpreter takes
# ten, on the CPU a build's first container is starting on. It keeps each pending command (already
# quoted for the shell by ``shell_words``) in a variable named by its key, and the keys newest first.
_WATCHDOG_SCRIPT = r"""
trap '' HUP INT TERM PIPE
nl='
'
keys=' '
while IFS= read -r line; do
  rest=${line#? }
  case $line in
    '+ '*) key=${rest%% *}; eval "cmd_$key=\${rest#* }"; keys=" $key$keys" ;;
    '- '*) case $keys in *" $rest "*) unset "cmd_$rest"; keys="${keys%% $rest *} ${keys#* $rest }" ;; esac ;;
  esac
done
for key in $keys; do
  eval "cmd=\${cmd_$key-}"
  [ -n "$cmd" ] && eval "timeout -s KILL 120 $cmd" </dev/null >/dev/null 2>&1
done
"""


def shell_words(argv: list[str]) -> str:
    """``argv`` as one line the watchdog's shell reads back into the same words: each single-quoted,
    a newline written as ``$nl`` (the line is the protocol's unit)."""
    return " ".join("'" + arg.replace("'", "'\\''").replace("\n", "'\"$nl\"'") + "'" for arg in argv)


class Watchdog:
    """The process's one watchdog; ``undo_on_death(argv)`` returns a key for ``done(key)``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen | None = None
        self._keys = itertools.count(1)

    def undo_on_death(self, argv: list[str]) -> str:
        key = str(next(self._keys))
        self._send(f"+ {key} {shell_words(argv)}\n")
        return key

    def done(self, key: str) -> None:
        self._send(f"- {key}\n")

    def _send(self, line: str) -> None:
        with self._lock:
            if self._process is None or self._process.poll() is not None:
                self._process = subprocess.Popen(
                    ["/bin/sh", "-c", _WATCHDOG_SCRIPT], stdin=subprocess.PIPE,
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
