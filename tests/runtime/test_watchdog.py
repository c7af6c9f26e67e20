"""The watchdog's shell reads back every pending undo command word for word, and runs them newest first
once its pipe ends (as when layerlab is killed); taken-back ones never run."""

from __future__ import annotations

import os
from pathlib import Path

from layerlab.engine.runtime.watchdog import Watchdog

AWKWARD_NAMES = ["plain", "with space", "quote'd", 'double"quote', "dollar$HOME", "back`tick`", "new\nline",
                 "star*", "semi;colon", "\udcff-not-utf8"]


def _die(watchdog: Watchdog) -> None:
    """What the watchdog sees when its owner dies: the pipe's end."""
    process = watchdog._process
    assert process is not None and process.stdin is not None
    process.stdin.close()
    assert process.wait(timeout=60) == 0


def test_pending_commands_run_word_for_word_and_taken_back_ones_do_not(tmp_path: Path) -> None:
    watchdog = Watchdog()
    keys = {name: watchdog.undo_on_death(["touch", "--", os.path.join(str(tmp_path), name)])
            for name in AWKWARD_NAMES}
    watchdog.done(keys["plain"])
    watchdog.done("no-such-key")
    _die(watchdog)
    made = sorted(os.listdir(os.fsencode(tmp_path)))
    assert made == sorted(os.fsencode(name) for name in AWKWARD_NAMES if name != "plain")


def test_pending_commands_run_newest_first(tmp_path: Path) -> None:
    watchdog = Watchdog()
    log = tmp_path / "order"
    for word in ("oldest", "middle", "newest"):
        watchdog.undo_on_death(["sh", "-c", 'echo "$1" >> "$2"', "sh", word, str(log)])
    _die(watchdog)
    assert log.read_text().split() == ["newest", "middle", "oldest"]


def test_a_clean_exit_runs_nothing(tmp_path: Path) -> None:
    watchdog = Watchdog()
    key = watchdog.undo_on_death(["touch", str(tmp_path / "ran")])
    watchdog.done(key)
    _die(watchdog)
    assert not (tmp_path / "ran").exists()
