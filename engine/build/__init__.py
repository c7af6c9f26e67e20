"""The build engine: context hashing, cache keys, miss reasons, cache records, events.

- ``context``: walk a build context (honouring .dockerignore), checksum files
  as Docker's classic builder does, with a persistent stat cache.
- ``cache_key``: a step's key and CREATED BY in the classic builder's shape.
- ``reasons``: why a step missed, named concretely.
- ``cache_records``: key -> result records in ``ROOT/buildcache.db``; ``probe``.
- ``events_json``: the versioned JSON-lines form of ``engine.events``.
"""
