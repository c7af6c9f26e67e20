"""``layerlab`` and ``python -m layerlab``: the command line, which hands ``tui`` to the app.

This launcher is the one place that knows both front ends, so ``layerlab.cli``
and ``layerlab.tui`` never import each other. The app is imported only when
it opens.
"""

from __future__ import annotations

import sys

# typing costs a few milliseconds of a start-up budget of about fifty; type checkers honour this form.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence


_app_opened = False


def open_app(**options) -> int:
    global _app_opened
    from layerlab.tui.launch import open_app as open_tui

    _app_opened = True
    return open_tui(**options)


def main(argv: Sequence[str] | None = None) -> int:
    from layerlab.cli.main import main as run_command

    return run_command(argv, open_app=open_app)


def run() -> None:
    """The ``layerlab`` program: ``main``, then out without the interpreter's teardown.

    Unloading some 250 modules and collecting their objects costs about 10 ms after every command, a
    tenth of a no-op rebuild, for nothing: by then every file is closed and every store released. So
    the output is flushed, the atexit handlers run, and the process ends. The app (its terminal is
    its own to restore) and a command that leaves a thread running end the ordinary way."""
    try:
        status = main()
    except SystemExit as exit_:
        status = exit_.code
    if _app_opened or _threads_running():
        sys.exit(status)
    import atexit
    import os

    if status is not None and not isinstance(status, int):
        print(status, file=sys.stderr)   # what sys.exit does with a message
        status = 1
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass  # a reader that went away, or a stream closed: nothing left to deliver
    atexit._run_exitfuncs()
    os._exit(status or 0)


def _threads_running() -> bool:
    threading = sys.modules.get("threading")
    return threading is not None and any(
        thread.is_alive() and not thread.daemon for thread in threading.enumerate()
        if thread is not threading.main_thread())


if __name__ == "__main__":
    run()
