"""Front ends over the engine: the ``layerlab`` CLI and the Textual app."""
