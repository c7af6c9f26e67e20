"""Where the store lives: ``--root``, else ``LAYERLAB_ROOT``, else the XDG data dir."""

from __future__ import annotations

import os
from pathlib import Path


def default_root() -> Path:
    env = os.environ.get("LAYERLAB_ROOT")
    if env:
        return Path(env).absolute()
    data_home = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return Path(data_home) / "layerlab"


def resolve_root(option: str | None) -> Path:
    # Absolute, because a run hands paths under the root to runc and mount, which
    # resolve them from directories of their own (a relative root was doubled there).
    return Path(option).absolute() if option else default_root()


def config_dir() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or os.path.join(os.path.expanduser("~"), ".config")
    return Path(base) / "layerlab"
