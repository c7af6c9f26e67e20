"""The build engine: context hashing, cache keys, miss reasons, cache records, events.

- ``context``: walk a build context (honouring .dockerignore), checksum files
  as Docker's classic builder does, with a persistent stat cache.
- ``cache_key``: a step's key and CREATED BY in the classic builder's shape.
- ``reasons``: why a step missed, named concretely.
- ``cache_records``: key -> result records in ``ROOT/buildcache.db``; ``probe``.
- ``events_json``: the versioned JSON-lines form of ``layerlab.engine.events``.
- ``planner``: which stages a build needs and what each waits for.
- ``dispatch``: a stage's runConfig and the config-only instructions.
- ``step_run``: RUN's argv, env and ``--mount``s for the runtime.
- ``onbuild``: a base image's ONBUILD triggers as instructions.
- ``executor``: ``build(request, store, events) -> BuildResult``.
- ``printers``: plain, tty and ``--explain`` text from the events.
"""


def __getattr__(name: str):
    # build() pulls in the runtime and the store; import it only when asked for
    if name in ("build", "BuildRequest", "BuildResult", "StepError", "StepSummary"):
        from layerlab.engine.builder import executor

        return getattr(executor, name)
    raise AttributeError(name)
