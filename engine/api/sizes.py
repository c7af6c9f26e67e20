"""Sizes as people read them, the same in the CLI and the app."""

from __future__ import annotations

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_size(size: float) -> str:
    """Docker's ``units.HumanSizeWithPrecision(size, 3)``: decimal units, 3 significant digits (``1.23MB``)."""
    unit = 0
    while size >= 1000.0 and unit < len(_UNITS) - 1:
        size /= 1000.0
        unit += 1
    return f"{size:.3g}{_UNITS[unit]}"
