"""The build engine: a Dockerfile to an image, step by step, with the cache's reasons on show.

Entry point:
- ``executor``: ``build(request, store, events) -> BuildResult``.
- ``request``: ``BuildRequest``, ``BuildResult``, ``StepSummary``, ``StepError``.
- ``watch``: rebuild on every change to the context or the Dockerfile.
- ``watch_warmup``: between watch rebuilds, load what the next one's missed steps need.
- ``predict``: which steps would rebuild after a file edit or a new build arg, without building.

One build:
- ``build_run``: scratch space, plan, stages on threads, tags.
- ``session``: what every step of one build shares (store, context, stage images).
- ``build_source``: the context (directory or tar) and the Dockerfile with its ``.dockerignore``.
- ``workspace``: the build's scratch directories, and removing what killed builds left.
- ``planner``: which stages a build needs and what each waits for.
- ``validate``: the whole Dockerfile checked before the first step runs.
- ``base_image``: FROM.
- ``step_runner``: one step -- key, cache probe, reason, execute, commit, record.
- ``preparers/``: one preparer per instruction kind (RUN, COPY/ADD, WORKDIR, metadata).
- ``commit``: a step's layer tar and image into the store.
- ``buildkit``: ``--semantics buildkit``, what BuildKit writes differently from the classic builder.
- ``buildkit_notes``: BuildKit's view of a Dockerfile, the lines it would build differently (for the app).
- ``dispatch``: a stage's runConfig and the config-only instructions.
- ``run_spec``: RUN's argv, env and ``--mount``s for the runtime.
- ``bind_sources``: what ``RUN --mount=type=bind`` exposes, and the key material naming it.
- ``volumes``: VOLUME paths a RUN must not change, as mounts.
- ``workdir``: making WORKDIR's directory with the owner Docker gives it.
- ``onbuild``: a base image's ONBUILD triggers as instructions.
- ``copy/``: COPY and ADD as in-process file operations.

The cache:
- ``context``: checksum a build context's files as Docker's classic builder does.
- ``context_walk``: the context's walk, one lstat per entry, honouring .dockerignore.
- ``source_files``: a COPY's source files, each entry made only when a miss, a reason or the copy reads it.
- ``tarsum``: the tarsum v1 header a file's checksum starts with.
- ``stat_cache``: checksums kept by stat, so a no-op rebuild reads no file again.
- ``source_patterns``: COPY sources cleaned, and Go's ``path.Match`` wildcards.
- ``cache_key``: a step's key and CREATED BY in the classic builder's shape.
- ``reasons``: why a step missed, named concretely.
- ``cache_records``: key -> result records in ``ROOT/buildcache.db``; ``probe``.
- ``stored_sources``: a record's source entries, decoded only when a comparison needs them.
- ``registry_cache``: the records and their images through a registry (``--cache-to/--cache-from``).

Reporting:
- ``events_json``: the versioned JSON-lines form of ``layerlab.engine.events``.
- ``printers``: plain, tty and ``--explain`` text from the events.
"""


def __getattr__(name: str):
    # build() pulls in the runtime and the store; import it only when asked for
    if name in ("build", "BuildRequest", "BuildResult", "StepError", "StepSummary"):
        from layerlab.engine.builder import executor

        return getattr(executor, name)
    raise AttributeError(name)
