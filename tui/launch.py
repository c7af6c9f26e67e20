"""Open the app: what ``layerlab tui`` (and bare ``layerlab``) runs once the command line has parsed it."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from layerlab.engine.store import Store


def open_app(*, store: Store, root: Path, context: Path | None, watch: bool, theme: str | None,
             dockerfile: str | None = None, build_args: Sequence[str] = (), target: str = "",
             no_cache: bool = False) -> int:
    """``dockerfile``, ``build_args`` (``K=V``), ``target`` and ``no_cache`` are the build's options,
    as ``build`` takes them; bad ones raise a ``UsageError`` before the app opens."""
    from layerlab.tui.app import LayerlabApp
    from layerlab.tui.build_options import options_for
    from layerlab.tui.catalog import StoreCatalog
    from layerlab.tui.config import TuiConfig

    options = options_for(context, dockerfile=dockerfile, build_args=build_args, target=target, no_cache=no_cache)
    app = LayerlabApp(StoreCatalog(store, root), context=context, watch=watch, theme=theme,
                      config=TuiConfig.load(), build_options=options)
    app.run()
    return app.return_code or 0
