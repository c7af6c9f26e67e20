"""``pip install .`` installs every package of the tree: pyproject lists them by hand, so a new one must be added."""

from __future__ import annotations

import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TOP = ("engine", "cli", "tui", "themes")


def test_every_package_folder_is_listed_in_pyproject() -> None:
    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    found = {"layerlab." + ".".join(init.parent.relative_to(REPO).parts)
             for top in TOP for init in (REPO / top).rglob("__init__.py")}
    assert found - listed == set(), "add these to [tool.setuptools] packages in pyproject.toml"
