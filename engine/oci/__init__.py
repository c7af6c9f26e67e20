"""OCI and Docker image formats: digests, media types, descriptors, configs, manifests.

Modules: ``digest`` (Digest, Hasher), ``mediatypes``, ``canonical``
(canonical_json, docker_json), ``descriptor`` (Descriptor, Platform),
``config`` (ImageConfig, HistoryEntry, Healthcheck), ``manifest`` (Manifest,
Index, parse_any), ``chain`` (chain_ids). Nothing here knows about the store.
"""

from layerlab.engine.oci.chain import chain_id, chain_ids
from layerlab.engine.oci.config import HistoryEntry, ImageConfig
from layerlab.engine.oci.descriptor import Descriptor, Platform
from layerlab.engine.oci.digest import Digest, Hasher
from layerlab.engine.oci.manifest import Index, Manifest, parse_any

__all__ = ["Digest", "Hasher", "Descriptor", "Platform", "ImageConfig", "HistoryEntry", "Manifest", "Index",
           "parse_any", "chain_ids", "chain_id"]
