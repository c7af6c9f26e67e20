"""The Build panel's log: Textual's ``Log`` that keeps following its end when its height changes.

The Dockerfile above it takes the height of its content, so the log shrinks as
reasons wrap; ``Log`` follows the end only while it is already there, and a
shrink leaves it short of the end for good. While following (``f`` toggles it),
a resize puts it back at the end.
"""

from __future__ import annotations

from textual.widgets import Log


class FollowingLog(Log):
    def on_resize(self) -> None:
        if self.auto_scroll:
            self.scroll_end(animate=False, immediate=True, x_axis=False)
