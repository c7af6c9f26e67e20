"""The image list: one row per name an image goes by, as ``images`` and the app's Images panel show it."""

from __future__ import annotations

from datetime import datetime

from layerlab.engine.oci.digest import Digest
from layerlab.engine.reference import Reference
from layerlab.engine.store.listing import ImageRecord
from layerlab.engine.values import Value, set_fields

# typing costs milliseconds of every command's start-up; type checkers honour this form.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

NONE = "<none>"


class ImageRow(Value):
    """One line of the image list.

    ``ref`` is what to hand back to the store for this line: the familiar
    ``repo:tag`` when the line shows a tag, else the image ID. A ``Value``
    rather than a dataclass: ``images`` starts without ``dataclasses``.
    """

    __slots__ = ("ref", "image_id", "repository", "tag", "repo_digest", "created_at", "size", "intermediate",
                 "record")
    ref: str
    image_id: Digest
    repository: str             # familiar, "busybox" or "demo/app"; "<none>" when untagged
    tag: str                    # "<none>" when the line has no tag
    repo_digest: Digest | None  # the digest this repository knows the image by (pushed or pulled)
    created_at: datetime | None
    size: int                   # the layers' content sizes, as Docker's SIZE
    intermediate: bool          # a build step's image: listed only when all images are asked for
    record: ImageRecord

    def __init__(self, ref: str, image_id: Digest, repository: str, tag: str, repo_digest: Digest | None,
                 created_at: datetime | None, size: int, intermediate: bool, record: ImageRecord) -> None:
        set_fields(self, ref, image_id, repository, tag, repo_digest, created_at, size, intermediate, record)

    @property
    def short_id(self) -> str:
        return self.image_id.short


def _row(record: ImageRecord, ref: str, repository: str, tag: str, repo_digest: Digest | None) -> ImageRow:
    return ImageRow(ref, record.id, repository, tag, repo_digest, record.created_at, record.size,
                    record.intermediate, record)


def image_rows(records: Iterable[ImageRecord]) -> list[ImageRow]:
    """Rows in Docker's shape: one per tag, one per repository known only by digest, one for no name at all."""
    rows: list[ImageRow] = []
    for record in records:
        repo_digests: dict[str, list[Digest]] = {}
        for name in record.repo_digests:
            ref = Reference.parse(name, default_tag=None)
            if ref.digest is not None:
                repo_digests.setdefault(ref.familiar_name, []).append(ref.digest)
        names = [Reference.parse(tag) for tag in record.tags]
        if not names and not repo_digests:
            rows.append(_row(record, str(record.id), NONE, NONE, None))
        for name in names:
            digest = (repo_digests.get(name.familiar_name) or [None])[0]
            rows.append(_row(record, name.familiar, name.familiar_name, name.tag or NONE, digest))
        tagged = {name.familiar_name for name in names}
        for repository, digests in repo_digests.items():
            if repository not in tagged:
                rows.append(_row(record, str(record.id), repository, NONE, digests[0]))
    return rows
