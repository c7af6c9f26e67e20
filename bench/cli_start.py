"""cli-start: ``layerlab --help`` and ``layerlab images`` against ``python3 -c pass``, bytecode cached.

    python bench/cli_start.py [--runs 3] [--quick] [--workdir DIR] [--json FILE]

As a user runs it: the installed ``layerlab`` script (``.venv/bin/layerlab``;
``python -m layerlab`` where there is none), sources compiled beforehand
(``compileall``, untimed) and ``PYTHONDONTWRITEBYTECODE`` unset, so no run
compiles. ``images`` lists a store holding the busybox base. The floor is the
same interpreter, with the same site-packages, starting and doing nothing:
what any Python program installed there pays.
Each row's median is over ``max(runs, 10)`` runs (``--quick``: ``runs``): a
start-up is milliseconds, and the machine's noise is of that size. The CPU
time of each run is kept too: on a loaded machine it moves less than wall time.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import (  # noqa: E402
    REPO, Measure, Options, Scenario, command, find_program, layerlab, python_env, run_checked, script_main,
)

SOURCES = ("__main__.py", "engine", "cli", "tui", "themes")


def interpreter() -> str:
    """The interpreter the ``layerlab`` script runs on, with the same site (its .pth hooks run in both);
    not a version manager's shim script, which would add a shell's start-up to the floor."""
    venv_python = REPO / ".venv" / "bin" / "python"
    return str(venv_python) if venv_python.exists() else sys.executable


def layerlab_program() -> list[str]:
    script = REPO / ".venv" / "bin" / "layerlab"
    return [str(script)] if script.exists() else [sys.executable, "-m", "layerlab"]


def start_env(root: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONDONTWRITEBYTECODE", "PYTHONPATH")}
    return dict(env, LAYERLAB_ROOT=str(root))


def scenarios(options: Options) -> list[Scenario]:
    root = options.workdir / "cli-start-root"
    runs = options.runs if options.quick else max(options.runs, 10)

    def setup() -> dict:
        python = interpreter()
        compiled = [str(REPO / name) for name in SOURCES]
        run_checked([python, "-m", "compileall", "-q", *compiled])
        purelib = subprocess.run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                                 capture_output=True, text=True).stdout.strip() or sysconfig.get_paths()["purelib"]
        # the .pth hooks a start-up runs (an editable install's finder) live at the top of site-packages
        subprocess.run([python, "-m", "compileall", "-q", "-l", purelib], capture_output=True)
        busybox = find_program("busybox")
        if busybox:
            run_checked(layerlab(root, "bootstrap", "busybox", "--busybox", busybox), env=python_env())
        shown = [os.path.relpath(word, REPO) if word.startswith(str(REPO)) else word for word in layerlab_program()]
        return {"program": " ".join(shown), "runs": runs}

    def measures() -> list[Measure]:
        env = start_env(root)
        program = layerlab_program()
        return [
            Measure("layerlab --help", "layerlab", command([*program, "--help"], env=env), cpu=True),
            Measure("layerlab images", "layerlab", command([*program, "images"], env=env), cpu=True),
            Measure("python3 -c pass", "floor", command([interpreter(), "-c", "pass"], env=env), cpu=True),
        ]

    return [Scenario("cli-start", "start-up of two quick commands, bytecode cached", setup, measures,
                     runs=runs)]


if __name__ == "__main__":
    raise SystemExit(script_main(scenarios, __doc__))
