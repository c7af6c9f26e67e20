"""What changed between two images, file by file.

Attributes are compared from the headers; files whose headers match but that
come from different layer content are hashed (one pass per layer needed) so
"modified" means the bytes differ. With ``content``, changed text files get a
unified diff.
"""

from __future__ import annotations

import difflib

from layerlab.engine.layers import tarscan
from layerlab.engine.analysis.image_pass import ImageAnalysis, entry_json
from layerlab.engine.analysis.extract import content_digests, read_bytes
from layerlab.engine.analysis.model import EntryInfo
from layerlab.engine.record_type import field, record

TEXT_LIMIT = 1 << 20


@record(frozen=True)
class FileChange:
    code: str  # A, M or D
    path: str
    old: EntryInfo | None
    new: EntryInfo | None
    reasons: tuple[str, ...] = ()
    text_diff: str | None = None

    def to_json(self) -> dict:
        data = {"change": self.code, "path": self.path, "reasons": list(self.reasons)}
        if self.code != "A":
            data["old"] = entry_json(self.old)
        if self.code != "D":
            data["new"] = entry_json(self.new)
        if self.text_diff is not None:
            data["diff"] = self.text_diff
        return data


@record
class ImageDiff:
    changes: list[FileChange] = field(default_factory=list)

    def count(self, code: str) -> int:
        return sum(1 for change in self.changes if change.code == code)


def _header_reasons(old: EntryInfo | None, new: EntryInfo | None) -> list[str]:
    if old is None or new is None:
        return [] if old is None and new is None else ["type"]
    reasons = []
    old_type = tarscan.REGULAR if old.type == tarscan.HARDLINK else old.type
    new_type = tarscan.REGULAR if new.type == tarscan.HARDLINK else new.type
    if old_type != new_type:
        reasons.append("type")
    if old.mode != new.mode:
        reasons.append("mode")
    if (old.uid, old.gid) != (new.uid, new.gid):
        reasons.append("owner")
    if old.type == tarscan.SYMLINK and old.linkname != new.linkname:
        reasons.append("link")
    if old.size != new.size:
        reasons.append("size")
    return reasons


def _as_text(data: bytes) -> list[str] | None:
    if b"\0" in data:
        return None
    try:
        return data.decode("utf-8").splitlines(keepends=True)
    except UnicodeDecodeError:
        return None


def _content_of(analysis: ImageAnalysis, path: str, entry: EntryInfo) -> EntryInfo:
    if entry.type == tarscan.HARDLINK:
        target = analysis.tree(entry.layer).entry("/" + tarscan.clean_path(entry.linkname))
        if target is not None:
            return target
    return entry


def diff_images(old: ImageAnalysis, new: ImageAnalysis, *, content: bool = False) -> ImageDiff:
    old_files = dict(old.tree().walk())
    new_files = dict(new.tree().walk())
    result = ImageDiff()
    to_hash: list[tuple[str, EntryInfo, EntryInfo]] = []
    for path in sorted(old_files.keys() | new_files.keys()):
        before, after = old_files.get(path, False), new_files.get(path, False)
        if before is False:
            result.changes.append(FileChange("A", path, None, after))
            continue
        if after is False:
            result.changes.append(FileChange("D", path, before, None))
            continue
        reasons = _header_reasons(before, after)
        if reasons:
            result.changes.append(FileChange("M", path, before, after, tuple(reasons)))
            continue
        if before is None or before.type not in (tarscan.REGULAR, tarscan.HARDLINK):
            continue
        before_data, after_data = _content_of(old, path, before), _content_of(new, path, after)
        if before_data.size == 0:
            continue
        same_layer = old.sources[before_data.layer].diff_id and (
            old.sources[before_data.layer].diff_id == new.sources[after_data.layer].diff_id
            and before_data.path == after_data.path)
        if not same_layer:
            to_hash.append((path, before_data, after_data))
    if to_hash:
        old_digests = content_digests(old, [b.index for _, b, _ in to_hash])
        new_digests = content_digests(new, [a.index for _, _, a in to_hash])
        for path, before_data, after_data in to_hash:
            if old_digests[before_data.index] != new_digests[after_data.index]:
                result.changes.append(FileChange("M", path, old_files[path], new_files[path], ("content",)))
        result.changes.sort(key=lambda change: change.path)
    if content:
        result.changes = [_with_text_diff(old, new, change) for change in result.changes]
    return result


def _with_text_diff(old: ImageAnalysis, new: ImageAnalysis, change: FileChange) -> FileChange:
    if change.code != "M" or change.old is None or change.new is None:
        return change
    if not ({"content", "size"} & set(change.reasons)):
        return change
    kinds = (tarscan.REGULAR, tarscan.HARDLINK)
    if change.old.type not in kinds or change.new.type not in kinds:
        return change
    before_entry, after_entry = _content_of(old, change.path, change.old), _content_of(new, change.path, change.new)
    if before_entry.size > TEXT_LIMIT or after_entry.size > TEXT_LIMIT:
        return change
    before, after = _as_text(read_bytes(old, before_entry)), _as_text(read_bytes(new, after_entry))
    if before is None or after is None:
        return change
    text = "".join(difflib.unified_diff(before, after, fromfile="a" + change.path, tofile="b" + change.path))
    return FileChange(change.code, change.path, change.old, change.new, change.reasons, text)
