"""``build(request, store, events)``: a Dockerfile to an image, step by step, as the classic builder does.

The entry point front ends call. The work is spread over:

- ``build_run``: one build -- scratch space, plan, stages on threads, tags.
- ``base_image``: FROM.
- ``step_runner``: one step -- key, cache probe, reason, execute, commit, record.
- ``preparers``: one preparer per instruction kind (RUN, COPY/ADD, WORKDIR, metadata).
- ``commit``: a step's layer tar and image into the store.
"""

from __future__ import annotations

from layerlab.engine.builder.build_run import run_build
from layerlab.engine.builder.request import NETWORKS, BuildRequest, BuildResult, StepError, StepSummary
from layerlab.engine.builder.workspace import clean_stale_workspaces, remove_workspace
from layerlab.engine.errors import UsageError
from layerlab.engine.events import EventSink
from layerlab.engine.reference import Reference
from layerlab.engine.store import Store


def build(request: BuildRequest, store: Store, events: EventSink) -> BuildResult:
    """Build ``request`` into ``store``, reporting to ``events``; raises a ``LayerlabError`` on failure."""
    if request.network not in NETWORKS:
        raise UsageError(f"--network {request.network}: expected one of {', '.join(NETWORKS)}")
    for tag in request.tags:
        Reference.parse(tag)  # a bad -t fails before any step runs, not after the whole build
    # Held from rmi, prune and gc (in any process) while the build runs: its bases, its steps, its result.
    with store.leased() as leased:
        return run_build(request, leased, events)


__all__ = ["BuildRequest", "BuildResult", "StepError", "StepSummary", "build", "clean_stale_workspaces",
           "remove_workspace"]
