"""The read-only Image and Layer interfaces every source returns.

Sources (the store, a docker-archive, an OCI layout, a tarball import, a
registry) each return objects of these shapes, and sinks (the store, archive
writers, registry push) accept them, so every command reads as
"source -> (mutate) -> sink".

Naming is strict: ``digest`` is the blob as stored or shipped (possibly
compressed); ``diff_id`` is the digest of the uncompressed tar.
"""

from __future__ import annotations

from typing import BinaryIO, Protocol, Sequence, runtime_checkable

from layerlab.engine.oci.digest import Digest


@runtime_checkable
class Layer(Protocol):
    @property
    def digest(self) -> Digest: ...

    @property
    def diff_id(self) -> Digest: ...

    @property
    def media_type(self) -> str: ...

    @property
    def size(self) -> int:
        """Size of the blob named by ``digest``."""
        ...

    def open_blob(self) -> BinaryIO:
        """The blob as stored (compressed or not), readable from the start."""
        ...

    def open_uncompressed(self) -> BinaryIO:
        """The layer tar, decompressed."""
        ...


@runtime_checkable
class Image(Protocol):
    @property
    def config_digest(self) -> Digest:
        """sha256 of the config bytes: Docker's image ID."""
        ...

    def config_bytes(self) -> bytes:
        """The config JSON exactly as stored (the ID hashes these bytes)."""
        ...

    def manifest_bytes(self) -> bytes:
        """A manifest for this image (OCI or Docker schema 2)."""
        ...

    def layers(self) -> Sequence[Layer]:
        """Layers bottom to top, matching ``rootfs.diff_ids`` in the config."""
        ...


def layer_content_size(layer: Layer) -> int:
    """What ``history`` and ``images`` call a layer's SIZE: its file contents, not its tar length.

    The store measures this when it takes a layer in; a layer from a source
    that does not (an archive being read) falls back to its blob size.
    """
    return int(getattr(layer, "content_size", layer.size))
