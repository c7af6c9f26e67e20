"""Running layerlab as an unprivileged user from tests that run as root.

The checkout (and the virtualenv's interpreter) may sit in a directory the
unprivileged user cannot enter, so the code it runs is staged in a
world-readable copy: the project's packages plus the one third-party package
the engine imports (zstandard), run by a system Python the user may execute.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

NOBODY = 65534
REPO = Path(__file__).resolve().parent.parent
PACKAGES = ("engine", "cli", "tui", "themes")
ENV = ("env", "-i", "PATH=/usr/bin:/bin:/usr/sbin:/sbin", "HOME=/")


def as_user(uid: int, setpriv: str) -> list[str]:
    """The command prefix that runs what follows as ``uid`` with a clean environment."""
    return [setpriv, f"--reuid={uid}", f"--regid={uid}", "--clear-groups", *ENV]


def python_for(uid: int, setpriv: str) -> str:
    """A Python >= 3.11 that ``uid`` may execute (the test's own may sit in a private home)."""
    for candidate in (sys.executable, "/usr/bin/python3", shutil.which("python3")):
        if candidate and subprocess.run([*as_user(uid, setpriv), candidate, "-c",
                                         "import sys; assert sys.version_info >= (3, 11)"],
                                        capture_output=True, cwd="/").returncode == 0:
            return candidate
    pytest.fail(f"no Python 3.11+ that uid {uid} can execute")


def stage_code(area: Path, *extra_files: str) -> Path:
    """A world-readable copy of the project's code (and ``extra_files``, repo-relative) under ``area``.

    The returned directory goes first on ``sys.path`` / PYTHONPATH.
    """
    import zstandard

    code = area / "code"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for package in PACKAGES:
        shutil.copytree(REPO / package, code / "layerlab" / package, ignore=ignore)
    shutil.copy2(REPO / "__main__.py", code / "layerlab" / "__main__.py")
    shutil.copytree(Path(zstandard.__file__).parent, code / "zstandard", ignore=ignore)
    for name in extra_files:
        target = code / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, target)
    for path in [code, *code.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return code
