"""``KEY=VALUE`` options as Docker reads them: the engine's one reading (``layerlab.engine.api.key_values``)."""

from __future__ import annotations

from layerlab.engine.api.key_values import key_values

__all__ = ["key_values"]
