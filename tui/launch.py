"""Open the app: what ``layerlab tui`` (and bare ``layerlab``) runs once the command line has parsed it."""

from __future__ import annotations

from pathlib import Path

from layerlab.engine.store import Store


def open_app(*, store: Store, root: Path, context: Path | None, watch: bool, theme: str | None) -> int:
    from layerlab.tui.app import LayerlabApp
    from layerlab.tui.catalog import StoreCatalog
    from layerlab.tui.config import TuiConfig

    app = LayerlabApp(StoreCatalog(store, root), context=context, watch=watch, theme=theme,
                      config=TuiConfig.load())
    app.run()
    return app.return_code or 0
