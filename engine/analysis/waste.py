"""Reclaimable bytes: every stored copy of a file that the final image does not show.

    reclaimable = sum over paths of (all stored copies - the copy kept)

where the copy kept is the one visible in the final image (none when the
path is deleted). Unlike dive's "wasted bytes" it never counts the kept
copy, it counts each file under a deleted directory once (dive sizes the
directory's whiteout *and* sees each file), opaque directories hide what
they should, and the user's share excludes every layer of the base image,
not only the first.

Each wasted copy is attributed to the layer that stored it and to the layer
(and instruction) that made it dead, with a one-line hint on how to avoid it.
"""

from __future__ import annotations

from collections import defaultdict

from layerlab.engine.analysis.image_pass import ImageAnalysis
from layerlab.engine.analysis.history import instruction_kind
from layerlab.engine.analysis.layer_changes import OVERWRITTEN
from layerlab.engine.record_type import field, record

_CATEGORIES = [
    ("apt-lists", ("var/lib/apt/lists/",)),
    ("apt-cache", ("var/cache/apt/",)),
    ("apk-cache", ("var/cache/apk/",)),
    ("dnf-cache", ("var/cache/dnf/", "var/cache/yum/")),
    ("pip-cache", ("root/.cache/pip/",)),
    ("npm-cache", ("root/.npm/",)),
    ("temp", ("tmp/", "var/tmp/")),
]


def category_of(path: str) -> str:
    bare = path.lstrip("/")
    for name, prefixes in _CATEGORIES:
        if bare.startswith(prefixes) or "/.cache/pip/" in path and name == "pip-cache":
            return name
    return "files"


def hint_for(category: str, how: str, stored_kind: str, cause_kind: str, stored_in_base: bool,
             attributes_only: bool) -> str:
    if stored_in_base:
        return ("base image files changed or removed later still ship in the base layers: "
                "use a smaller base image or a multi-stage build")
    if how == OVERWRITTEN and attributes_only:
        return "only ownership or mode changed: use COPY --chown/--chmod instead of a later RUN chown/chmod"
    if how == OVERWRITTEN:
        return "file written again in a later layer keeps its old copy: produce the final version in one step"
    same_run = stored_kind == "RUN" and cause_kind == "RUN"
    if category == "apt-lists":
        return ("package lists removed in a later RUN: run `rm -rf /var/lib/apt/lists/*` in the same RUN "
                "as `apt-get update`")
    if category == "apt-cache":
        return "apt cache removed in a later RUN: run `apt-get clean` in the same RUN as `apt-get install`"
    if category == "apk-cache":
        return "apk cache removed in a later RUN: use `apk add --no-cache`"
    if category == "dnf-cache":
        return "package cache removed in a later RUN: run `dnf clean all` in the same RUN as the install"
    if category == "pip-cache":
        return "pip cache removed in a later RUN: use `pip install --no-cache-dir`"
    if category == "npm-cache":
        return "npm cache removed in a later RUN: run `npm cache clean --force` in the same RUN"
    if stored_kind in ("COPY", "ADD"):
        return ("files copied in and deleted later: exclude them with .dockerignore or copy only what is "
                "needed (or use a multi-stage build)")
    if category == "temp":
        return "temporary files deleted in a later RUN: delete them in the same RUN that creates them"
    if same_run:
        return "files created by one RUN are deleted by a later RUN: delete them in the same RUN"
    return "files deleted in a later layer still ship in the layer that added them: do not add them"


@record(frozen=True)
class Offender:
    """Wasted bytes grouped by (layer that stored them, layer that made them dead, how, category)."""

    stored_layer: int
    stored_instruction: str
    caused_by_layer: int
    caused_by_instruction: str
    how: str
    category: str
    bytes: int
    files: int
    examples: list[str]
    hint: str

    def to_json(self) -> dict:
        return {
            "stored_layer": self.stored_layer, "stored_instruction": self.stored_instruction,
            "caused_by_layer": self.caused_by_layer, "caused_by_instruction": self.caused_by_instruction,
            "how": self.how, "category": self.category, "bytes": self.bytes, "files": self.files,
            "examples": self.examples, "hint": self.hint,
        }


@record(frozen=True)
class WastedPath:
    path: str
    bytes: int
    copies: int  # superseded copies of this path
    layers: list[int]  # layers holding those copies

    def to_json(self) -> dict:
        return {"path": self.path, "bytes": self.bytes, "copies": self.copies, "layers": self.layers}


@record
class WasteReport:
    stored_bytes: int  # every file byte in every layer
    kept_bytes: int  # file bytes visible in the final image
    reclaimable_bytes: int
    base_layers: int
    user_size_bytes: int  # file bytes stored in layers above the base image
    user_reclaimable_bytes: int  # reclaimable bytes stored in those layers
    base_reclaimable_bytes: int
    stored_waste_by_layer: list[int]
    caused_waste_by_layer: list[int]
    offenders: list[Offender] = field(default_factory=list)
    paths: list[WastedPath] = field(default_factory=list)

    @property
    def user_reclaimable_percent(self) -> float:
        return self.user_reclaimable_bytes / self.user_size_bytes if self.user_size_bytes else 0.0

    def to_json(self, top: int | None = None) -> dict:
        return {
            "stored_bytes": self.stored_bytes, "kept_bytes": self.kept_bytes,
            "reclaimable_bytes": self.reclaimable_bytes, "base_layers": self.base_layers,
            "user_size_bytes": self.user_size_bytes, "user_reclaimable_bytes": self.user_reclaimable_bytes,
            "user_reclaimable_percent": self.user_reclaimable_percent,
            "base_reclaimable_bytes": self.base_reclaimable_bytes,
            "layers": [{"index": i, "wasted_bytes_stored": s, "wasted_bytes_caused": c}
                       for i, (s, c) in enumerate(zip(self.stored_waste_by_layer, self.caused_waste_by_layer))],
            "offenders": [offender.to_json() for offender in self.offenders[:top]],
            "paths": [path.to_json() for path in self.paths[:top]],
        }


def waste_report(analysis: ImageAnalysis, *, examples: int = 5) -> WasteReport:
    entries, paths = analysis.entries, analysis.paths
    layer_count = analysis.layer_count
    base = analysis.base_layers
    instructions = [source.instruction for source in analysis.sources]
    kinds = [instruction_kind(text) for text in instructions]
    stored_by_layer = [0] * layer_count
    caused_by_layer = [0] * layer_count
    groups: dict[tuple, list] = {}
    per_path: dict[int, list] = defaultdict(lambda: [0, 0, set()])
    for item in analysis.superseded:
        entry = item.entry
        size = entries.size[entry]
        stored = entries.layer[entry]
        path_id = entries.path[entry]
        stored_by_layer[stored] += size
        caused_by_layer[item.by_layer] += size
        path = paths.display(path_id)
        category = category_of(path)
        attributes_only = False
        if item.how == OVERWRITTEN and item.by_entry >= 0:
            replacement = item.by_entry
            attributes_only = (entries.size[replacement] == size and entries.type[replacement] == entries.type[entry]
                               and (entries.mode[replacement], entries.uid[replacement], entries.gid[replacement])
                               != (entries.mode[entry], entries.uid[entry], entries.gid[entry]))
        key = (stored, item.by_layer, item.how, category, attributes_only)
        group = groups.get(key)
        if group is None:
            groups[key] = group = [0, 0, []]
        group[0] += size
        group[1] += 1
        group[2].append((size, path))
        record = per_path[path_id]
        record[0] += size
        record[1] += 1
        record[2].add(stored)
    offenders = []
    for (stored, cause, how, category, attributes_only), (total, files, samples) in groups.items():
        samples.sort(key=lambda item: (-item[0], item[1]))
        hint = hint_for(category, how, kinds[stored], kinds[cause], stored < base, attributes_only)
        offenders.append(Offender(stored, instructions[stored], cause, instructions[cause], how, category, total,
                                  files, [path for _, path in samples[:examples]], hint))
    offenders.sort(key=lambda offender: (-offender.bytes, offender.stored_layer, offender.caused_by_layer))
    wasted_paths = [WastedPath(paths.display(path_id), total, copies, sorted(layers))
                    for path_id, (total, copies, layers) in per_path.items()]
    wasted_paths.sort(key=lambda item: (-item.bytes, item.path))
    stored_total = sum(entries.size)
    reclaimable = sum(stored_by_layer)
    user_size = sum(sum(entries.size[start:stop]) for start, stop in analysis.bounds[base:])
    user_reclaimable = sum(stored_by_layer[base:])
    return WasteReport(stored_total, stored_total - reclaimable, reclaimable, base, user_size, user_reclaimable,
                       reclaimable - user_reclaimable, stored_by_layer, caused_by_layer, offenders, wasted_paths)
