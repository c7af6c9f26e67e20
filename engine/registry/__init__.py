"""Registries: pull, push, login, discovery, and the build cache shared through them.

::

    client.RegistryClient(domain, insecure=False)   HTTP + auth for one registry
    pull.pull(ref, store, platform=None, events=None) -> StoredImage
    pull.ensure_image(ref, store, pull="missing"|"always"|"never") -> StoredImage
    push.push(ref, store, source=None, events=None) -> PushResult
    catalog.search(client, term) / catalog.list_tags(client, repository)
    auth.DockerConfig()                             ~/.docker/config.json credentials
    cache.export_cache(store, records, ref) / cache.import_cache(store, records, ref)
"""
