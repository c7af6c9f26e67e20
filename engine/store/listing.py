"""``ImageRecord``: one row of ``Store.images()``, all that listing images needs, read from the metadata alone.

Apart from ``records`` (the stored images and layers, which are records) so that
``layerlab images`` defines no record classes (nor loads ``typing`` for them); see
``layerlab.engine.values``.
"""

from __future__ import annotations

from layerlab.engine.oci.digest import Digest
from layerlab.engine.oci.rfc3339 import parse_time
from layerlab.engine.reference import Reference
from layerlab.engine.values import Value, set_fields

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime


class ImageRecord(Value):
    """One row of ``Store.images()``: enough for ``images`` without reading any blob."""

    __slots__ = ("id", "tags", "repo_digests", "created", "size", "parent", "labels", "os", "architecture",
                 "layer_count", "added_at", "children")
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
    children: int                  # images whose parent this is (Docker hides untagged ones with children)

    def __init__(self, id: Digest, tags: tuple[str, ...], repo_digests: tuple[str, ...], created: str, size: int,
                 parent: Digest | None, labels: dict[str, str], os: str, architecture: str, layer_count: int,
                 added_at: float, children: int = 0) -> None:
        set_fields(self, id, tags, repo_digests, created, size, parent, labels, os, architecture, layer_count,
                   added_at, children)

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
