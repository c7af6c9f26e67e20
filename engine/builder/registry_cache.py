"""The build cache shared through a registry (``build --cache-to/--cache-from registry:REF``).

An export is one OCI image manifest whose config (media type
``application/vnd.layerlab.buildcache.v1+json``) lists the cache records and
the images they point at; its layers are those images' layer blobs (gzip)
and their config blobs. Importing fetches the manifest and every blob not
yet present (verified, resumable), puts each image in the store (no tag), and
inserts the records, so a build on another machine, or in a fresh store,
gets the same hits.

Records are exported with the images they name as results and the images
their steps stand on (the base image a first step's key includes), when the
store has them.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any, BinaryIO, Callable

from layerlab.engine.builder.cache_key import StepInputs
from layerlab.engine.builder.cache_records import CacheRecords
from layerlab.engine.errors import LayerlabError, NotFound, RegistryError, UsageError
from layerlab.engine.events import EventSink, discard
from layerlab.engine.oci import mediatypes as mt
from layerlab.engine.oci.canonical import canonical_json
from layerlab.engine.oci.descriptor import Descriptor
from layerlab.engine.oci.digest import Digest
from layerlab.engine.oci.manifest import Manifest
from layerlab.engine.record_type import record
from layerlab.engine.reference import Reference
from layerlab.engine.registry.blobs import fetch_small_blob, upload_blob
from layerlab.engine.registry.client import RegistryClient
from layerlab.engine.registry.manifests import fetch_manifest, put_manifest
from layerlab.engine.registry.pull import fetch_layers
from layerlab.engine.registry.push import PARALLEL_BLOBS, distributable
from layerlab.engine.registry.state import RegistryState
from layerlab.engine.store import Store, StoredImage
from layerlab.engine.transports.memory import ConfigImage, RangeLayer

CACHE_CONFIG_TYPE = "application/vnd.layerlab.buildcache.v1+json"
IMAGE_CONFIG_IN_CACHE = mt.OCI_CONFIG
SCHEMA = 1
CACHE_PREFIX = "registry:"


def parse_cache_option(text: str) -> Reference:
    """``registry:REF`` as ``--cache-to``/``--cache-from`` take it."""
    if not text.startswith(CACHE_PREFIX):
        raise UsageError(f"unsupported cache location {text!r}: expected registry:NAME[:TAG]")
    return Reference.parse(text[len(CACHE_PREFIX):])


@record(frozen=True)
class CacheTransfer:
    reference: Reference
    manifest_digest: Digest
    records: int
    images: int
    blobs: int


def export_cache(store: Store, records: CacheRecords, ref: Reference | str, *, events: EventSink | None = None,
                 insecure: bool = False, client: RegistryClient | None = None) -> CacheTransfer:
    """Push every record of ``records`` whose result is in ``store``, with its images, to ``ref``."""
    events = events if events is not None else discard
    ref = Reference.parse(ref) if isinstance(ref, str) else ref
    client = client or RegistryClient(ref.domain, insecure=insecure)
    state = RegistryState(store.root)
    try:
        exported, images = [], {}
        for record in records.records():
            result = _stored(store, record.result)
            if result is None:
                continue
            exported.append(record)
            images[str(result.id)] = result
            parent = _stored(store, record.inputs.parent) if record.inputs.parent else None
            if parent is not None:
                images.setdefault(str(parent.id), parent)
        blobs: dict[Digest, tuple[Descriptor, Any]] = {}
        image_entries = []
        for image in images.values():
            layers = []
            for layer in image.layers():
                blob = distributable(store, state, layer, oci=True)
                descriptor = blob.descriptor
                blobs.setdefault(descriptor.digest, (descriptor, blob.open))
                layers.append({"digest": str(descriptor.digest), "diffID": str(layer.diff_id),
                               "mediaType": descriptor.media_type, "size": descriptor.size})
            blobs.setdefault(image.id, (Descriptor(IMAGE_CONFIG_IN_CACHE, image.id, len(image.config_bytes())),
                                        _opener(store, image.id)))
            image_entries.append({"id": str(image.id), "layers": layers,
                                  "parent": str(image.parent) if image.parent else ""})
        config = canonical_json({
            "schemaVersion": SCHEMA,
            "records": [{"key": r.key, "result": r.result, "created": r.created, "layerSize": r.layer_size,
                         "inputs": r.inputs.to_json()} for r in exported],
            "images": image_entries,
        })
        config_descriptor = Descriptor(CACHE_CONFIG_TYPE, Digest.of_bytes(config), len(config))
        store.blobs.ingest_bytes(config, config_descriptor.digest, what="build cache export")
        blobs[config_descriptor.digest] = (config_descriptor, _opener(store, config_descriptor.digest))
        with ThreadPoolExecutor(max_workers=PARALLEL_BLOBS) as pool:
            futures = [pool.submit(upload_blob, client, ref.path, d.digest, d.size, opener, state, events=events)
                       for d, opener in blobs.values()]
            errors = [f.exception() for f in futures if f.exception() is not None]
        if errors:
            raise errors[0]
        layer_descriptors = [d for digest, (d, _) in blobs.items() if digest != config_descriptor.digest]
        manifest = Manifest.build(config_descriptor, layer_descriptors, media_type=mt.OCI_MANIFEST)
        digest = put_manifest(client, ref.path, str(ref.digest or ref.tag or "latest"), manifest.to_bytes(),
                              mt.OCI_MANIFEST)
        return CacheTransfer(ref, digest, len(exported), len(images), len(blobs))
    finally:
        state.close()


def import_cache(store: Store, records: CacheRecords, ref: Reference | str, *, events: EventSink | None = None,
                 insecure: bool = False, client: RegistryClient | None = None) -> CacheTransfer:
    """Fetch the cache at ``ref``: its images go into ``store``, its records into ``records``."""
    events = events if events is not None else discard
    ref = Reference.parse(ref) if isinstance(ref, str) else ref
    client = client or RegistryClient(ref.domain, insecure=insecure)
    fetched = fetch_manifest(client, ref.path, ref.digest or ref.tag or "latest")
    if fetched.is_index:
        raise RegistryError(f"{ref.familiar}: is an image index, not a layerlab build cache")
    manifest = Manifest.parse(fetched.raw, media_type=fetched.media_type, where=f"build cache {ref.familiar}")
    if manifest.config.media_type != CACHE_CONFIG_TYPE:
        raise RegistryError(f"{ref.familiar}: not a layerlab build cache (config type {manifest.config.media_type!r})")
    data = _parse_config(fetch_small_blob(client, ref.path, manifest.config, what="build cache config"), ref)
    measured = fetch_layers(client, ref.path, manifest, store, events)
    images = 0
    for entry in data["images"]:
        try:
            image_id = Digest.parse(entry["id"])
            layers = tuple(RangeLayer(str(store.blobs.path(Digest.parse(l["digest"]))), 0, int(l["size"]),
                                      Digest.parse(l["digest"]), Digest.parse(l["diffID"]), str(l["mediaType"]))
                           for l in entry["layers"])
        except (KeyError, TypeError, ValueError, LayerlabError) as error:
            raise RegistryError(f"{ref.familiar}: build cache image entry is malformed: {error}") from None
        if not store.blobs.has(image_id):
            raise RegistryError(f"{ref.familiar}: build cache names image {image_id} but does not carry its config")
        store.put_image(ConfigImage(store.blobs.read(image_id), layers), measured=measured)
        images += 1
    imported = 0
    for entry in data["records"]:
        try:
            inputs = StepInputs.from_json(entry["inputs"])
        except (KeyError, TypeError, ValueError) as error:
            raise RegistryError(f"{ref.familiar}: build cache record is malformed: {error}") from None
        if inputs.key() != entry.get("key"):
            continue   # inputs that do not hash to their key would give false hits
        try:
            store.resolve(str(entry["result"]))
        except NotFound:
            continue
        records.put(inputs, str(entry["result"]), layer_size=int(entry.get("layerSize") or 0),
                    created=float(entry.get("created") or 0) or None)
        imported += 1
    return CacheTransfer(ref, fetched.digest, imported, images, len(manifest.layers) + 1)


def _parse_config(raw: bytes, ref: Reference) -> dict:
    try:
        data = json.loads(raw)
    except ValueError:
        raise RegistryError(f"{ref.familiar}: build cache config is not JSON") from None
    if not isinstance(data, dict) or data.get("schemaVersion") != SCHEMA:
        raise RegistryError(f"{ref.familiar}: build cache schema {data.get('schemaVersion')!r} is not supported")
    if not isinstance(data.get("records"), list) or not isinstance(data.get("images"), list):
        raise RegistryError(f"{ref.familiar}: build cache config lacks records or images")
    return data


def _stored(store: Store, image_id: str) -> StoredImage | None:
    try:
        return store.image(image_id)
    except (NotFound, LayerlabError):
        return None


def _opener(store: Store, digest: Digest) -> Callable[[], BinaryIO]:
    return lambda: store.blobs.open_verified(digest)
