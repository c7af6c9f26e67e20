"""The layering holds: the engine never pulls in a UI library or the front ends."""

from __future__ import annotations

import ast
import pkgutil
import subprocess
import sys
from pathlib import Path

import layerlab.engine

REPO = Path(__file__).resolve().parent.parent
FORBIDDEN = ("textual", "rich", "layerlab.tui", "layerlab.cli")


def forbidden(module: str) -> bool:
    return any(module == name or module.startswith(name + ".") for name in FORBIDDEN)


def engine_modules() -> list[str]:
    return sorted(m.name for m in pkgutil.walk_packages(layerlab.engine.__path__, "layerlab.engine."))


def test_importing_every_engine_module_loads_no_ui_library():
    modules = engine_modules()
    assert len(modules) > 5
    script = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        f"bad = sorted(m for m in sys.modules if any(m == f or m.startswith(f + '.') for f in {FORBIDDEN!r}))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"engine imported UI modules: {result.stdout.strip()}"


def test_no_engine_source_names_a_ui_module():
    offenders = []
    for path in (REPO / "engine").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module]
            offenders += [f"{path.relative_to(REPO)}: {n}" for n in names if forbidden(n)]
    assert offenders == []
