"""Push: store image -> registry.

Each layer goes up as a compressed blob: one already compressed is sent as
it is; one stored uncompressed (``docker load``, our own builds) is gzipped
once into the store and the result remembered in ``registry.db``, so the
next push sends the same bytes without compressing again. Blobs go up in
parallel (existence check, cross-repository mount, then upload); the
manifest goes last, so a registry never names a blob it does not hold.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO, Callable

from layerlab.engine.errors import DigestMismatch
from layerlab.engine.events import EventSink, discard
from layerlab.engine.layers.compression import HEAD_SIZE, compress_to, detect
from layerlab.engine.oci import mediatypes as mt
from layerlab.engine.oci.descriptor import Descriptor
from layerlab.engine.oci.digest import Digest
from layerlab.engine.oci.manifest import Manifest
from layerlab.engine.record_type import field, record
from layerlab.engine.reference import Reference
from layerlab.engine.registry.blobs import CHUNK_SIZE, upload_blob
from layerlab.engine.registry.client import RegistryClient
from layerlab.engine.registry.manifests import put_manifest
from layerlab.engine.registry.state import RegistryState
from layerlab.engine.store import Store, StoredImage, StoredLayer

PARALLEL_BLOBS = 4
COMPRESSED_OWNER = "registry:compressed-layers"


@record(frozen=True)
class PushResult:
    reference: Reference
    digest: Digest              # of the manifest pushed
    media_type: str
    size: int                   # bytes of the manifest
    blobs: dict[str, str] = field(default_factory=dict)   # digest -> "exists" | "mounted" | "pushed"


@record(frozen=True)
class _Blob:
    descriptor: Descriptor
    open: Callable[[], BinaryIO]


def push(ref: Reference | str, store: Store, *, source: str | None = None, events: EventSink | None = None,
         insecure: bool = False, client: RegistryClient | None = None,
         chunk_size: int = CHUNK_SIZE) -> PushResult:
    """Push the store's image ``source`` (default: ``ref`` itself) to ``ref``.

    Blobs above ``chunk_size`` bytes go up in chunks; a push cut off between
    chunks resumes from the last one the registry confirmed.
    """
    events = events if events is not None else discard
    ref = Reference.parse(ref) if isinstance(ref, str) else ref
    image = store.image(source or str(ref))
    client = client or RegistryClient(ref.domain, insecure=insecure)
    state = RegistryState(store.root)
    try:
        raw, media_type, blobs = _manifest_and_blobs(store, image, state)
        if ref.digest is not None and Digest.of_bytes(raw) != ref.digest:
            raise DigestMismatch(f"push {ref.familiar}", str(ref.digest), str(Digest.of_bytes(raw)))
        outcome: dict[str, str] = {}
        with ThreadPoolExecutor(max_workers=PARALLEL_BLOBS) as pool:
            futures = {blob.descriptor.digest: pool.submit(
                upload_blob, client, ref.path, blob.descriptor.digest, blob.descriptor.size, blob.open, state,
                events=events, chunk_size=chunk_size) for blob in blobs}
            errors = [f.exception() for f in futures.values() if f.exception() is not None]
        if errors:
            raise errors[0]
        for digest, future in futures.items():
            outcome[str(digest)] = future.result()
        digest = put_manifest(client, ref.path, str(ref.digest or ref.tag or "latest"), raw, media_type)
        # as docker push does: the image now has a digest in that repository (images --digests shows it)
        store.add_repo_digest(str(image.id), str(ref.name_only().with_digest(Digest.parse(str(digest)))))
        return PushResult(ref, digest, media_type, len(raw), outcome)
    finally:
        state.close()


def _manifest_and_blobs(store: Store, image: StoredImage, state: RegistryState) -> tuple[bytes, str, list[_Blob]]:
    """The manifest to send (the stored one when its layers are distributable) and every blob it names."""
    oci = image.manifest_media_type == mt.OCI_MANIFEST
    layer_blobs = []
    for layer in image.layers():
        layer_blobs.append(distributable(store, state, layer, oci=oci))
    config = Descriptor(mt.OCI_CONFIG if oci else mt.DOCKER_CONFIG, image.id, len(image.config_bytes()))
    stored = Manifest.parse(image.manifest_bytes(), media_type=image.manifest_media_type)
    if [d.digest for d in stored.layers] == [b.descriptor.digest for b in layer_blobs] and \
            all(mt.layer_compression(d.media_type) != "none" for d in stored.layers):
        raw, media_type = stored.raw, stored.media_type
    else:
        manifest = Manifest.build(config, [b.descriptor for b in layer_blobs],
                                  media_type=mt.OCI_MANIFEST if oci else mt.DOCKER_MANIFEST)
        raw, media_type = manifest.to_bytes(), manifest.media_type
    config_blob = _Blob(config, lambda: store.blobs.open_verified(image.id, what=f"config of image {image.id}"))
    return raw, media_type, [*dict((b.descriptor.digest, b) for b in layer_blobs).values(), config_blob]


def distributable(store: Store, state: RegistryState, layer: StoredLayer, *, oci: bool) -> _Blob:
    """The blob a registry gets for ``layer``: itself when compressed, else its gzip (made once)."""
    with layer.open_blob() as blob:
        kind = detect(blob.read(HEAD_SIZE))
    if kind != "none":
        media_type = mt.layer_media_type(kind, oci=oci) if kind in ("gzip", "zstd") else layer.media_type
        return _Blob(Descriptor(media_type, layer.digest, layer.size), layer.open_blob)
    digest, size = compressed_layer(store, state, layer)
    return _Blob(Descriptor(mt.layer_media_type("gzip", oci=oci), digest, size),
                 lambda: store.blobs.open_verified(digest, what=f"gzip of layer {layer.diff_id}"))


def compressed_layer(store: Store, state: RegistryState, layer: StoredLayer) -> tuple[Digest, int]:
    """The gzip blob of an uncompressed layer: made once, kept in the store, remembered by diff ID."""
    known = state.compressed(layer.diff_id)
    if known is not None and store.blobs.has(known[0]):
        return known
    ref = f"compress-{layer.diff_id}"
    store.blobs.writer(ref).abort()   # a compression cut off earlier cannot be resumed
    ingest = store.blobs.writer(ref)
    with layer.open_uncompressed() as source, open(ingest.data_path, "wb") as target:
        compress_to(source, target, "gzip")
    digest = ingest.commit(what=f"gzip of layer {layer.diff_id}")
    store.add_ref(COMPRESSED_OWNER, digest)   # gc keeps it, so the next push does not recompress
    size = store.blobs.size(digest)
    state.remember_compressed(layer.diff_id, digest, size)
    return digest, size
