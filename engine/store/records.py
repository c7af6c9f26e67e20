"""What the store hands out: stored images and layers (the ``layerlab.engine.image`` protocols) and listing rows."""

from __future__ import annotations

from dataclasses import dataclass, field

from layerlab.engine.oci.digest import Digest
from layerlab.engine.oci.rfc3339 import parse_time
from layerlab.engine.reference import Reference

# Listing images (``ImageRecord``) must not pay for the config types, the decompressors or typing.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime
    from typing import BinaryIO

    from layerlab.engine.oci.config import ImageConfig
    from layerlab.engine.store.content import ContentStore


@dataclass(frozen=True)
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


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class ImageRecord:
    """One row of ``Store.images()``: enough for ``images`` without reading any blob."""

    id: Digest
    tags: tuple[str, ...]          # full names, e.g. docker.io/library/busybox:latest
    repo_digests: tuple[str, ...]  # full names with @sha256:…
    created: str
    size: int                      # sum of the layers' content sizes, as Docker's SIZE
    parent: Digest | None
    labels: dict[str, str]
    os: str
    architecture: str
    layer_count: int
    added_at: float
    children: int = 0              # images whose parent this is (Docker hides untagged ones with children)

    @property
    def created_at(self) -> datetime | None:
        return parse_time(self.created)

    @property
    def familiar_tags(self) -> list[str]:
        return [Reference.parse(t).familiar for t in self.tags]

    @property
    def dangling(self) -> bool:
        return not self.tags

    @property
    def intermediate(self) -> bool:
        """A build step's image: no name of any kind, and other images build on it.

        ``images`` without ``-a`` hides these, as Docker does; a dangling image
        nothing builds on (a tag moved away from it) still shows.
        """
        return not self.tags and not self.repo_digests and self.children > 0


def labels_json(config: ImageConfig) -> str:
    import json

    return json.dumps(config.config.labels, sort_keys=True)
