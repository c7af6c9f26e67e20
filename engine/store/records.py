"""What the store hands out: stored images and layers (the ``layerlab.engine.image`` protocols).

The listing rows (``ImageRecord``) live in ``listing``, without dataclasses; they are re-exported here.
"""

from __future__ import annotations

from layerlab.engine.oci.digest import Digest
from layerlab.engine.record_type import field, record
from layerlab.engine.reference import Reference
from layerlab.engine.store.listing import ImageRecord  # noqa: F401 (re-exported: it was defined here)

# Listing images (``ImageRecord``) must not pay for the config types, the decompressors or typing.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime
    from typing import BinaryIO

    from layerlab.engine.oci.config import ImageConfig
    from layerlab.engine.store.content import ContentStore


@record(frozen=True)
class StoredLayer:
    """One layer of a stored image (implements ``layerlab.engine.image.Layer``)."""

    digest: Digest
    diff_id: Digest
    media_type: str
    size: int                # bytes of the blob as stored
    uncompressed_size: int   # bytes of the layer tar
    content_size: int        # what docker shows as SIZE: file contents, no tar overhead
    chain_id: Digest
    _content: "ContentStore" = field(repr=False, compare=False)

    def open_blob(self) -> BinaryIO:
        """The blob, checked on the fly: reading it to the end raises ``DigestMismatch`` if it was damaged."""
        return self._content.open_verified(self.digest, what="layer blob in the store is damaged")

    def open_uncompressed(self) -> BinaryIO:
        """The layer tar, read from a checked blob (see ``open_blob``).

        An uncompressed blob comes back as it is, so a reader may seek in it
        (a blob this process already checked is a plain file again).
        """
        from layerlab.engine.layers.compression import HEAD_SIZE, detect, open_decompressed

        blob = self.open_blob()
        if detect(blob.peek(HEAD_SIZE)[:HEAD_SIZE]) == "none":
            return blob
        return open_decompressed(blob)

    def stored_in(self, content: "ContentStore") -> bool:
        """Whether this layer's blob is the one in ``content`` (no copy needed to put it there).

        Compared by root, not by object: a build's leased view and the store it came from are one store.
        """
        return self._content.layout == content.layout

    @property
    def path(self):
        """The blob file (read-only; never write to it)."""
        return self._content.path(self.digest)


@record(frozen=True)
class StoredImage:
    """An image in the store (implements ``layerlab.engine.image.Image``).

    ``id`` is the config digest (Docker's image ID); ``tags`` and
    ``repo_digests`` are full normalized names (``docker.io/library/x:1``);
    use ``familiar_tags`` for display.
    """

    id: Digest
    config: ImageConfig
    manifest_digest: Digest
    manifest_media_type: str
    tags: tuple[str, ...]
    repo_digests: tuple[str, ...]
    size: int
    parent: Digest | None
    added_at: float
    _layers: tuple[StoredLayer, ...] = field(repr=False)
    _content: "ContentStore" = field(repr=False, compare=False)

    @property
    def config_digest(self) -> Digest:
        return self.id

    def config_bytes(self) -> bytes:
        return self.config.raw

    def manifest_bytes(self) -> bytes:
        return self._content.read(self.manifest_digest)

    def layers(self) -> Sequence[StoredLayer]:
        return self._layers

    @property
    def created(self) -> str:
        return self.config.created

    @property
    def created_at(self) -> datetime | None:
        return self.config.created_at

    @property
    def familiar_tags(self) -> list[str]:
        return [Reference.parse(t).familiar for t in self.tags]

    @property
    def familiar_repo_digests(self) -> list[str]:
        return [Reference.parse(d).familiar for d in self.repo_digests]

    @property
    def chain_id(self) -> Digest | None:
        return self._layers[-1].chain_id if self._layers else None


def labels_json(config: ImageConfig) -> str:
    import json

    return json.dumps(config.config.labels, sort_keys=True)
