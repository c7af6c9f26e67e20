"""OCI and Docker image formats: digests, media types, descriptors, configs, manifests.

Modules: ``digest`` (Digest, Hasher), ``mediatypes``, ``canonical``
(canonical_json, docker_json), ``descriptor`` (Descriptor, Platform),
``config`` (ImageConfig, HistoryEntry, Healthcheck), ``manifest`` (Manifest,
Index, parse_any), ``chain`` (chain_ids), ``rfc3339`` (parse_time, format_time).
Nothing here knows about the store.

Importing the package imports none of them: code that needs only ``Digest`` (every
command's start-up) must not pay for the config and manifest types. The names below
are looked up on first use (PEP 562).
"""

from __future__ import annotations

from layerlab.engine.lazy_exports import lazy_exports

_HOMES = {
    "Digest": "digest", "Hasher": "digest",
    "Descriptor": "descriptor", "Platform": "descriptor",
    "ImageConfig": "config", "HistoryEntry": "config",
    "Manifest": "manifest", "Index": "manifest", "parse_any": "manifest",
    "chain_ids": "chain", "chain_id": "chain",
}

__all__ = list(_HOMES)


__getattr__, __dir__ = lazy_exports(__name__, _HOMES)
