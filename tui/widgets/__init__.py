"""Widgets of the layerlab app: one panel per module, plus the engine adapters."""
