"""Pull: registry image -> store.

Reference -> manifest or index (verified) -> the manifest for the platform ->
config and layers fetched in parallel into the store (verified, resumable,
skipped when present) -> one ``put_image`` that records the image with the
reference's tag and ``repo@digest``. The image ID is the config digest, the
same ID Docker gives the image.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from layerlab.engine.errors import ArchiveError, NotFound, RegistryError
from layerlab.engine.events import EventSink, TransferProgress, discard
from layerlab.engine.oci import mediatypes as mt
from layerlab.engine.oci.descriptor import Platform
from layerlab.engine.oci.digest import Digest
from layerlab.engine.oci.manifest import Index, Manifest
from layerlab.engine.record_type import record
from layerlab.engine.reference import Reference
from layerlab.engine.registry.blobs import fetch_blob, fetch_small_blob
from layerlab.engine.registry.client import RegistryClient
from layerlab.engine.registry.manifests import FetchedManifest, fetch_manifest, host_default_platform
from layerlab.engine.registry.state import RegistryState
from layerlab.engine.store import Store
from layerlab.engine.store.measure import LayerMeasure, measure_layer
from layerlab.engine.transports.memory import ConfigImage, RangeLayer, diff_ids_of

PARALLEL_LAYERS = 4


@record(frozen=True)
class ResolvedImage:
    """What a reference names on a registry, down to one platform's manifest."""

    reference: Reference
    top: FetchedManifest          # what the reference named: a manifest or an index
    manifest: Manifest            # the image manifest for the platform
    manifest_digest: Digest


def resolve(client: RegistryClient, ref: Reference, platform: Platform | str | None = None) -> ResolvedImage:
    """Fetch what ``ref`` names; an index is narrowed to ``platform`` (default: this host's)."""
    top = fetch_manifest(client, ref.path, ref.digest or ref.tag or "latest")
    fetched = top
    if top.is_index:
        index = Index.parse(top.raw, media_type=top.media_type, where=f"index {ref}")
        wanted = platform or host_default_platform()
        try:
            descriptor = index.select(wanted)
        except NotFound as error:
            raise NotFound(f"{ref.familiar}: {error}") from None
        fetched = fetch_manifest(client, ref.path, descriptor.digest)
        if fetched.is_index:
            raise RegistryError(f"{client.domain}: {ref.familiar}: an index inside an index is not supported")
    manifest = Manifest.parse(fetched.raw, media_type=fetched.media_type, where=f"manifest of {ref.familiar}")
    return ResolvedImage(ref, top, manifest, fetched.digest)


def pull(ref: Reference | str, store: Store, *, platform: Platform | str | None = None, events: EventSink | None = None,
         insecure: bool = False, client: RegistryClient | None = None):
    """Pull ``ref`` into ``store``; returns the ``StoredImage``.

    Layers already in the store are not fetched again; a pull cut off
    half-way leaves only resumable ingests, and running it again finishes.
    """
    events = events if events is not None else discard
    ref = Reference.parse(ref) if isinstance(ref, str) else ref
    if isinstance(platform, str):
        platform = Platform.parse(platform)   # a typo fails before any network traffic
    client = client or RegistryClient(ref.domain, insecure=insecure)
    resolved = resolve(client, ref, platform)
    manifest = resolved.manifest
    if manifest.config.media_type not in mt.CONFIG_TYPES:
        raise RegistryError(f"{ref.familiar} is not a container image (config type {manifest.config.media_type!r})")
    config_raw = _config(client, ref, manifest, store)
    diff_ids = diff_ids_of(config_raw, f"config of {ref.familiar}")
    if len(diff_ids) != len(manifest.layers):
        raise ArchiveError(f"{ref.familiar}: manifest has {len(manifest.layers)} layers, config {len(diff_ids)} diff_ids")
    measured = fetch_layers(client, ref.path, manifest, store, events)
    layers = tuple(RangeLayer(str(store.blobs.path(d.digest)), 0, d.size, d.digest, diff_id, d.media_type)
                   for d, diff_id in zip(manifest.layers, diff_ids))
    image = ConfigImage(config_raw, layers, manifest=manifest.raw)
    tags = [str(ref)] if ref.tag and ref.digest is None else []
    stored = store.put_image(image, tags=tags, repo_digests=[f"{ref.repository}@{resolved.top.digest}"],
                             measured=measured)
    state = RegistryState(store.root)
    try:
        for descriptor in manifest.layers:
            state.remember_seen(client.domain, ref.path, descriptor.digest)
    finally:
        state.close()
    return stored


def _config(client: RegistryClient, ref: Reference, manifest: Manifest, store: Store) -> bytes:
    digest = manifest.config.digest
    if store.blobs.has(digest):
        return store.blobs.read(digest)
    return fetch_small_blob(client, ref.path, manifest.config, what=f"config of {ref.familiar}")


def fetch_layers(client: RegistryClient, repository: str, manifest: Manifest, store: Store,
                 events: EventSink) -> dict[Digest, LayerMeasure]:
    """Fetch every blob not yet in the store, several at once; the first failure is raised.

    Each layer fetched is measured (diff ID, sizes) in its own thread as soon
    as it is in, so ``put_image`` need not read the layers again one by one.
    """
    unique = {d.digest: d for d in manifest.layers}
    missing = [d for d in unique.values() if not store.blobs.has(d.digest)]
    for descriptor in unique.values():
        if descriptor not in missing:
            events_done(events, descriptor)
    if not missing:
        return {}
    with ThreadPoolExecutor(max_workers=min(PARALLEL_LAYERS, len(missing))) as pool:
        futures = {d.digest: pool.submit(_fetch_and_measure, client, repository, d, store, events) for d in missing}
        errors = [f.exception() for f in futures.values() if f.exception() is not None]
    if errors:
        raise errors[0]
    return {digest: f.result() for digest, f in futures.items() if f.result() is not None}


def _fetch_and_measure(client: RegistryClient, repository: str, descriptor, store: Store,
                       events: EventSink) -> LayerMeasure | None:
    fetch_blob(client, repository, descriptor, store, events=events, what="layer")
    if not mt.is_layer(descriptor.media_type):
        return None
    return measure_layer(store.blobs.open(descriptor.digest), what=f"layer {descriptor.digest} of {repository}")


def events_done(events: EventSink, descriptor) -> None:
    events(TransferProgress(str(descriptor.digest), descriptor.size, descriptor.size, "exists"))


pull_image = pull  # for callers whose own parameter is named ``pull``


def ensure_image(ref: Reference | str, store: Store, *, pull: str = "missing", platform: Platform | str | None = None,
                 events: EventSink | None = None, insecure: bool = False):
    """The image ``ref`` names, pulled when needed; for a build's ``FROM``.

    ``pull="missing"`` uses the store's copy when there is one (Docker's
    default); ``"always"`` asks the registry and pulls when the tag has moved
    (``build --pull``); ``"never"`` only looks in the store.
    """
    text = str(ref)
    if pull not in ("missing", "always", "never"):
        raise ValueError(f"pull must be missing, always or never, not {pull!r}")
    if pull != "always":
        try:
            return store.image(text)
        except NotFound:
            if pull == "never":
                raise
    return pull_image(text, store, platform=platform, events=events, insecure=insecure)
