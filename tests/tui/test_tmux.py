"""The real program in a real terminal: tmux runs `layerlab tui`, we type and read the screen."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.peers import need_program

REPO = Path(__file__).resolve().parents[2]


class Tmux:
    def __init__(self, tmux: str, socket: str) -> None:
        self.tmux = tmux
        self.socket = socket

    def run(self, *args: str) -> str:
        return subprocess.run([self.tmux, "-L", self.socket, *args], capture_output=True, text=True,
                              check=True).stdout

    def alive(self) -> bool:
        return subprocess.run([self.tmux, "-L", self.socket, "has-session", "-t", "app"],
                              capture_output=True).returncode == 0

    def start_app(self, root: Path, tmp_path: Path, size: tuple[int, int] = (120, 40), args: str = "tui") -> None:
        """``layerlab --root ROOT ARGS`` from this checkout, in a new session named app, at ``size``."""
        command = (f"cd {REPO} && env XDG_CONFIG_HOME={tmp_path / 'config'} TERM=xterm-256color PYTHONPATH={REPO} "
                   f"{sys.executable} -m layerlab --root {root} {args}")
        self.run("new-session", "-d", "-s", "app", "-x", str(size[0]), "-y", str(size[1]), command)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "app")

    def wait_for(self, text: str, timeout: float = 30) -> str:
        deadline = time.monotonic() + timeout
        screen = ""
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.2)
        raise AssertionError(f"{text!r} never appeared; screen was:\n{screen}")


@pytest.fixture
def tmux(tmp_path: Path):
    session = Tmux(need_program("tmux"), f"layerlab-test-{uuid.uuid4().hex[:8]}")
    yield session
    subprocess.run([session.tmux, "-L", session.socket, "kill-server"], capture_output=True)


def test_real_app_in_tmux(tmux: Tmux, plain_catalog, root: Path, tmp_path: Path):
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config"), "TERM": "xterm-256color", "PYTHONPATH": str(REPO)}
    exports = " ".join(f"{key}={value}" for key, value in env.items())
    command = f"cd {REPO} && env {exports} {sys.executable} -m layerlab --root {root} tui --theme light"
    tmux.run("new-session", "-d", "-s", "app", "-x", "120", "-y", "40", command)
    screen = tmux.wait_for("demo/app")
    assert "plain" in screen and "2 of 2 images" in screen
    tmux.run("send-keys", "-t", "app", "/")
    time.sleep(0.5)  # focus moves to the filter on the next refresh, as it would for a person typing
    tmux.run("send-keys", "-t", "app", "plain", "Enter")
    screen = tmux.wait_for("1 of 2 images")
    assert "demo/app" not in screen.split("Repository", 1)[1]
    tmux.run("send-keys", "-t", "app", "Enter")
    screen = tmux.wait_for("ADD rootfs.tar /")
    assert "plain:1: 1 layers" in screen
    tmux.run("send-keys", "-t", "app", "?")
    tmux.wait_for("images.remove")
    tmux.run("send-keys", "-t", "app", "Escape")
    time.sleep(0.5)  # a lone Escape, not the start of alt+q
    assert "images.remove" not in tmux.screen()
    tmux.run("send-keys", "-t", "app", "q")
    # The session ends when the program exits.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and tmux.alive():
        time.sleep(0.2)
    assert not tmux.alive()


def test_bare_layerlab_opens_the_app(tmux: Tmux, plain_catalog, root: Path, tmp_path: Path):
    command = (f"cd {REPO} && env XDG_CONFIG_HOME={tmp_path / 'config'} TERM=xterm-256color PYTHONPATH={REPO} "
               f"{sys.executable} -m layerlab --root {root}")
    tmux.run("new-session", "-d", "-s", "app", "-x", "120", "-y", "40", command)
    screen = tmux.wait_for("2 of 2 images")
    assert "Images" in screen and "Build" in screen
    tmux.run("send-keys", "-t", "app", "q")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and tmux.alive():
        time.sleep(0.2)
    assert not tmux.alive()


def test_watch_flow_rebuilds_after_an_edit(tmux: Tmux, store, root: Path, tmp_path: Path):
    """The README's main job: `layerlab tui CONTEXT --watch`, keys through the panels, edit a file, see it rebuild."""
    import shutil

    need_program("runc")
    context = tmp_path / "hello"
    shutil.copytree(REPO / "sample_contexts" / "hello", context)
    command = (f"cd {REPO} && env XDG_CONFIG_HOME={tmp_path / 'config'} TERM=xterm-256color PYTHONPATH={REPO} "
               f"{sys.executable} -m layerlab --root {root} tui {context} --watch")
    tmux.run("new-session", "-d", "-s", "app", "-x", "120", "-y", "40", command)
    tmux.wait_for("busybox")
    tmux.run("send-keys", "-t", "app", "4")
    # The log's outcome line, not "built " alone: the Dockerfile itself says `echo "built on ..."`, and an
    # edit made before the first build hashed the context would be part of that build, not a rebuild.
    screen = tmux.wait_for("── built hello:latest", timeout=60)
    assert "COPY greeting.txt" in screen and "] Step log" in screen
    (context / "greeting.txt").write_text("edited while watching\n")
    # Both stay in the log even if the editor's write arrives as two changes and a second rebuild follows.
    screen = tmux.wait_for("rebuilt: greeting.txt: content changed", timeout=60)
    screen = tmux.wait_for("1 cached, 3 rebuilt ──", timeout=60)  # WORKDIR cached; FROM is the base
    tmux.run("send-keys", "-t", "app", "2")
    screen = tmux.wait_for("enter opens a layer")
    history_header = next(line for line in screen.splitlines() if "Created by" in line)
    assert "Size" in history_header  # the Size column is not pushed off screen by a long instruction
    # The COPY's size is the edited file's length, not its layer tar's.
    assert f"{len('edited while watching')+1}B" in screen
    tmux.run("send-keys", "-t", "app", "1")
    screen = tmux.wait_for("intermediate hidden")
    tmux.run("send-keys", "-t", "app", "q")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and tmux.alive():
        time.sleep(0.2)
    assert not tmux.alive()


@pytest.mark.parametrize("key,size", [("q", (120, 40)), ("C-c", (80, 24))])
def test_quitting_during_a_run_stops_it(tmux: Tmux, store, root: Path, tmp_path: Path, key: str, size):
    """q (or ctrl+c) mid-RUN: the RUN is killed and the app ends long before the RUN would have."""
    import uuid as uuid_module

    need_program("runc")
    token = f"quit-{uuid_module.uuid4().hex[:10]}"
    context = tmp_path / "slow"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM busybox\nRUN sleep 300 && echo {token}\n")
    command = (f"cd {REPO} && env XDG_CONFIG_HOME={tmp_path / 'config'} TERM=xterm-256color PYTHONPATH={REPO} "
               f"{sys.executable} -m layerlab --root {root} tui {context} --watch")
    tmux.run("new-session", "-d", "-s", "app", "-x", str(size[0]), "-y", str(size[1]), command)
    tmux.wait_for("busybox")
    tmux.run("send-keys", "-t", "app", "4")
    tmux.wait_for("line 2: RUN sleep 300", timeout=60)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and token not in _process_lines():
        time.sleep(0.2)
    assert token in _process_lines()  # the RUN's process is up
    tmux.run("send-keys", "-t", "app", key)
    # A bound for a wedged test (the RUN alone would take 300 s), not a measurement.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and tmux.alive():
        time.sleep(0.2)
    assert not tmux.alive()
    assert token not in _process_lines()


def _process_lines() -> str:
    return subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
