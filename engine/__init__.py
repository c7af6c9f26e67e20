"""layerlab's engine: formats, layers, store, transports, builds.

Nothing under ``engine`` imports textual, rich or ``tui``; front ends sit on
top of this package and render the events it reports.
"""
