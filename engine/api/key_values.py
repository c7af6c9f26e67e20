"""``KEY=VALUE`` options as Docker reads them (``--build-arg``, ``--label``, ``-e``), for the command
line and the app's Options dialog alike."""

from __future__ import annotations

import os
from typing import Iterable

from layerlab.engine.errors import UsageError


def key_values(values: Iterable[str], flag: str) -> dict[str, str]:
    """``KEY=VALUE`` words in order; a bare ``KEY`` takes its value from the environment, or is left out."""
    out = {}
    for value in values:
        key, sep, rest = value.partition("=")
        if not key:
            raise UsageError(f"{flag} {value!r}: expected KEY=VALUE")
        if not sep:
            # Docker takes a bare name's value from the environment.
            if key not in os.environ:
                continue
            rest = os.environ[key]
        out[key] = rest
    return out


__all__ = ["key_values"]
