"""The build options in a real 80×24 terminal: `tui CONTEXT` flags, the Options dialog whole on screen,
and a Dockerfile picked with the keyboard (sample_contexts/cache-order has two)."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from tests.tui.test_tmux import REPO, Tmux, tmux  # noqa: F401  (the fixture)


def test_options_dialog_at_80x24(tmux: Tmux, plain_catalog, root: Path, tmp_path: Path):
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "TERM": "xterm-256color", "PYTHONPATH": str(REPO)}
    exports = " ".join(f"{key}={value}" for key, value in env.items())
    command = (f"cd {REPO} && env {exports} {sys.executable} -m layerlab --root {root} tui "
               "sample_contexts/cache-order --build-arg X=1 --no-cache")
    tmux.run("new-session", "-d", "-s", "app", "-x", "80", "-y", "24", command)
    tmux.wait_for("demo/app")
    tmux.run("send-keys", "-t", "app", "4")
    screen = tmux.wait_for("cache-order/Dockerfile.busting")
    assert "--build-arg X=1 --no-cache" in screen, screen
    tmux.run("send-keys", "-t", "app", "o")
    screen = tmux.wait_for("Build options")
    for text in ("Context", "Dockerfile.busting", "Build args", "X=1", "Target", "--no-cache", "Apply (ctrl+s)",
                 "Cancel (esc)"):
        assert text in screen, f"{text!r} is not on the 80×24 screen:\n{screen}"
    # the Dockerfile picker has the focus: open it, take the next one
    tmux.run("send-keys", "-t", "app", "Enter")
    tmux.wait_for("Dockerfile.friendly")
    time.sleep(0.3)
    tmux.run("send-keys", "-t", "app", "Down", "Enter")
    time.sleep(0.3)
    tmux.run("send-keys", "-t", "app", "C-s")
    screen = tmux.wait_for("cache-order/Dockerfile.friendly")
    assert "Build options" not in screen
    tmux.run("send-keys", "-t", "app", "q")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and tmux.alive():
        time.sleep(0.2)
    assert not tmux.alive()
