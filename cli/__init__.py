"""The docker-style command line: ``layerlab COMMAND ...`` over the engine.

``main`` parses and dispatches; ``commands/`` holds one module per command
group; ``output`` prints tables, templates and JSON. Errors print as one line.
"""
