"""The ``layerlab`` program ends without the interpreter's teardown (``__main__.run``): its output still
arrives whole, its exit code is the command's, and atexit handlers still run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def _program(*args: str, root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "layerlab", "--root", str(root), *args], capture_output=True,
                          text=True, cwd=REPO)


def test_output_arrives_whole_and_the_exit_code_is_the_commands(cli, root):
    in_process = cli("build", "--help")
    program = _program("build", "--help", root=root)
    assert program.returncode == 0 and program.stdout == in_process.out and len(program.stdout) > 1000
    missing = _program("inspect", "no-such-image", root=root)
    assert missing.returncode == 1 and len(missing.stderr.strip().splitlines()) == 1, missing.stderr
    assert _program("--no-such-flag", root=root).returncode == 2


def test_atexit_handlers_still_run(tmp_path):
    marker = tmp_path / "ran"
    code = ("import atexit, sys\n"
            "from layerlab.__main__ import run\n"
            f"atexit.register(lambda: open({str(marker)!r}, 'w').write('yes'))\n"
            f"sys.argv = ['layerlab', '--root', {str(tmp_path / 'root')!r}, 'images']\n"
            "run()\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("REPOSITORY") and marker.read_text() == "yes"
