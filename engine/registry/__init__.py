"""Registries: pull, push, login, discovery.

::

    client.RegistryClient(domain, insecure=False)   HTTP + auth for one registry
    pull.pull(ref, store, platform=None, events=None) -> StoredImage
    pull.ensure_image(ref, store, pull="missing"|"always"|"never") -> StoredImage
    push.push(ref, store, source=None, events=None) -> PushResult
    catalog.search(client, term) / catalog.list_tags(client, repository)
    auth.DockerConfig()                             ~/.docker/config.json credentials
    login.log_in(server, credentials) -> LoginResult   check, fetch an identity token, store

The build cache shared through a registry lives with the builder (``builder.registry_cache``):
the builder uses the registry, never the other way round.
"""
