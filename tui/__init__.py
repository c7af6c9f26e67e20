"""The Textual app over the engine: ``app`` (panels and bindings), ``catalog`` (its one adapter to
``layerlab.engine.api``), ``messages``, ``widgets/`` (one panel per module), ``screens/`` (modals)."""
