"""``build``: a Dockerfile into the store, with the build cache brought from and sent to registries.

The builder and the registry client load only when a build runs, so listing
images never pays for them.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Callable, Sequence

from layerlab.engine.events import EventSink
from layerlab.engine.oci.digest import Digest
from layerlab.engine.record_type import record

if TYPE_CHECKING:
    from layerlab.engine.builder.request import BuildRequest, StepSummary
    from layerlab.engine.store.facade import Store


@record(frozen=True)
class Built:
    """What a build made: the image's ID, the tags it moved, and each step's cache outcome."""

    image_id: Digest
    tags: tuple[str, ...]
    steps: tuple["StepSummary", ...]
    duration: float


def build(store: "Store", request: "BuildRequest", events: EventSink, *,
          cache_from: Sequence[str] = (), cache_to: str | None = None) -> Built:
    """Build ``request`` into ``store``; first import each ``registry:REF`` of ``cache_from``, and after a
    successful build export the store's cache to ``cache_to``. Raises a ``LayerlabError`` on failure."""
    from layerlab.engine.builder import build as run_build

    if cache_from:
        # the registry client (http, ssl, email) loads only for a build that talks to a registry
        from layerlab.engine.builder.registry_cache import import_cache

        for option in cache_from:
            _transfer_cache(import_cache, option, store, events)
    result = run_build(request, store, events)
    if cache_to:
        from layerlab.engine.builder.registry_cache import export_cache

        _transfer_cache(export_cache, cache_to, store, events)
    return Built(Digest.parse(result.image_id), tuple(result.tags), tuple(result.steps), result.duration)


def watch_and_build(store: "Store", request: "BuildRequest", events: EventSink, stop: threading.Event) -> None:
    """Build now, then again on every relevant change in the context, until ``stop`` is set."""
    from layerlab.engine.builder.watch import watch_and_build as watch

    watch(request, store, events, stop)


def buildkit_notes(text: str, filename: str = "Dockerfile") -> dict[int, str]:
    """Dockerfile line -> what BuildKit would do differently there (the classic builder is what runs)."""
    from layerlab.engine.builder.buildkit_notes import buildkit_notes as notes

    return notes(text, filename)


def _transfer_cache(transfer: Callable, option: str, store: "Store", events: EventSink) -> None:
    """Move build cache records and their images between the store and a registry (``registry:REF``)."""
    from layerlab.engine.builder.cache_records import CacheRecords
    from layerlab.engine.builder.registry_cache import parse_cache_option

    with CacheRecords(store.root) as records:
        transfer(store, records, parse_cache_option(option), events=events)


def stop_running_steps() -> int:
    """Kill every RUN this process has going (a front end quitting mid-build); how many there were.

    Each such step fails at once and its build ends, cleaned up as after any failed RUN.
    """
    from layerlab.engine.runtime.live import stop_all

    return stop_all()
