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


def open_app(**options) -> int:
    from layerlab.tui.launch import open_app as open_tui

    return open_tui(**options)


def main(argv: Sequence[str] | None = None) -> int:
    from layerlab.cli.main import main as run_command

    return run_command(argv, open_app=open_app)


if __name__ == "__main__":
    sys.exit(main())
