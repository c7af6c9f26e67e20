"""The layering holds: the engine never pulls in a UI library or the front ends, imports point down
the layers, modules stay small, and file names do not repeat within a tree."""

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


# --- the layers ------------------------------------------------------------------------------
# Each part of the code may import only parts of a lower rank: arrows point down, never up or
# sideways. A new engine module or package needs a rank here before the test passes.
RANKS = {
    # the ground every part stands on
    "engine.errors": 0, "engine.events": 0, "engine.paths": 0, "engine.fsutil": 0, "engine.long_paths": 0,
    "engine.values": 0,
    "engine.record_type": -1,  # below the ground: the record decorator imports nothing of ours
    "engine.lazy_exports": 0,
    "engine.deep_trees": 1,
    "engine.dbfile": 1, "engine.oci": 1, "engine.dockerfile": 1,
    "engine.reference": 2, "engine.image": 2, "engine.layers": 2,
    # oci < layers < store; transports and runtime beside the store, never importing it
    "engine.store": 3, "engine.transports": 3, "engine.runtime": 3,
    # transports < registry
    "engine.registry": 4, "engine.analysis": 4, "engine.bootstrap": 4, "engine.reaper": 4,
    # analysis < builder < api < cli, tui
    "engine.builder": 5,
    "engine.api": 6,
    "themes": 7,
    # the two front ends: never each other
    "cli": 8, "tui": 8,
}
# Upward imports that stay, each with its reason.
ALLOWED_UPWARD = {
    ("engine.runtime", "engine.reaper"):
        "runc names its containers and state dir with the reaper's constants; the reaper is imported on "
        "every start-up, so the constants live there, away from the runtime's heavy imports",
}
MAX_LINES = 400
# File names that may repeat inside one of engine/, cli/, tui/, each with its reason.
ALLOWED_REPEATS: dict[str, str] = {}


def _unit(module: str) -> str | None:
    """``layerlab.engine.store.facade`` -> ``engine.store``; ``layerlab.cli.main`` -> ``cli``."""
    parts = module.split(".")
    if parts[0] != "layerlab" or len(parts) < 2:
        return None
    if parts[1] == "engine":
        return "engine." + parts[2] if len(parts) > 2 else "engine"
    return parts[1]


def _imports(path: Path) -> list[str]:
    """Every layerlab module ``path`` imports, at the top or inside a function (lazy imports are arrows too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in ("layerlab", "layerlab.engine"):
                found += [f"{node.module}.{alias.name}" for alias in node.names]  # from layerlab.engine import events
            else:
                found.append(node.module)
    return [name for name in found if name.startswith("layerlab.")]


def _module_of(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return "layerlab." + ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _sources(*tops: str) -> list[Path]:
    return sorted(path for top in tops for path in (REPO / top).rglob("*.py"))


def test_every_part_has_a_rank():
    units = {_unit(_module_of(path)) for path in _sources("engine", "cli", "tui", "themes")}
    missing = sorted(u for u in units if u not in RANKS and u != "engine")
    assert missing == [], f"give these a rank in RANKS (tests/test_architecture.py): {missing}"


def test_imports_point_down_the_layers():
    offenders = []
    for path in _sources("engine", "cli", "tui", "themes"):
        source = _unit(_module_of(path))
        for module in _imports(path):
            target = _unit(module)
            if target in (None, source, "engine") or (source, target) in ALLOWED_UPWARD:
                continue
            if target not in RANKS or source not in RANKS or RANKS[target] >= RANKS[source]:
                offenders.append(f"{path.relative_to(REPO)}: {source} imports {module}")
    assert offenders == [], "imports against the layering:\n" + "\n".join(offenders)


def test_no_module_is_over_the_line_limit():
    offenders = []
    for path in _sources("engine", "cli", "tui", "themes"):
        lines = len(path.read_text().splitlines())
        if lines > MAX_LINES:
            offenders.append(f"{path.relative_to(REPO)}: {lines} lines")
    assert offenders == [], f"split these along a seam (at most {MAX_LINES} lines):\n" + "\n".join(offenders)


def test_no_file_name_repeats_within_a_tree():
    repeats = []
    for top in ("engine", "cli", "tui"):
        seen: dict[str, list[str]] = {}
        for path in _sources(top):
            if path.name != "__init__.py":
                seen.setdefault(path.name, []).append(str(path.relative_to(REPO)))
        repeats += [f"{', '.join(paths)}" for name, paths in sorted(seen.items())
                    if len(paths) > 1 and name not in ALLOWED_REPEATS]
    assert repeats == [], "rename one of each (or allow it in ALLOWED_REPEATS with a reason):\n" + "\n".join(repeats)


# Packages whose docstring is a map of their modules: the map names every module (``name`` or ``name/``).
MAPPED_PACKAGES = ("engine/builder", "engine/builder/copy", "engine/builder/preparers", "engine/analysis",
                   "engine/dockerfile", "engine/api")


def test_module_maps_name_every_module():
    missing = []
    for package in MAPPED_PACKAGES:
        folder = REPO / package
        doc = ast.get_docstring(ast.parse((folder / "__init__.py").read_text())) or ""
        names = [f"``{path.stem}``" for path in folder.glob("*.py") if path.name != "__init__.py"]
        names += [f"``{path.parent.name}/``" for path in folder.glob("*/__init__.py")]
        missing += [f"{package}: {name}" for name in sorted(names) if name not in doc]
    assert missing == [], "add these to the package docstring's module map:\n" + "\n".join(missing)
