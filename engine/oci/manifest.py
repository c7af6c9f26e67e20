"""Image manifests (OCI and Docker schema 2) and indexes (OCI index, Docker manifest list).

Parsed objects keep their exact bytes (``raw``): a manifest's digest is the
sha256 of those bytes. Unknown fields are kept in ``extra``.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

from layerlab.engine.errors import ArchiveError, NotFound
from layerlab.engine.oci import mediatypes as mt
from layerlab.engine.oci.canonical import canonical_json, load_json_object
from layerlab.engine.oci.descriptor import Descriptor, Platform
from layerlab.engine.oci.digest import Digest
from layerlab.engine.record_type import field, record


class _Document:
    """Bytes and digest of a manifest or index (which give ``raw`` and ``to_dict()``):
    the bytes it was parsed from, else canonical JSON."""

    def to_bytes(self) -> bytes:
        return self.raw or canonical_json(self.to_dict())

    @property
    def digest(self) -> Digest:
        return Digest.of_bytes(self.to_bytes())


def _schema_2_object(raw: bytes, where: str) -> dict[str, Any]:
    """The JSON object of a manifest or index: schemaVersion 2, or ArchiveError naming ``where``."""
    data = load_json_object(raw, where)
    if data.get("schemaVersion") != 2:
        raise ArchiveError(f"{where}: unsupported schemaVersion {data.get('schemaVersion')!r}")
    return data


@record(frozen=True)
class Manifest(_Document):
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)
    subject: Descriptor | None = None
    artifact_type: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)
    raw: bytes = field(default=b"", compare=False)

    @classmethod
    def parse(cls, raw: bytes, *, media_type: str = "", where: str = "manifest") -> "Manifest":
        """Parse manifest bytes; ``media_type`` (e.g. a Content-Type) is used when the JSON has none."""
        data = _schema_2_object(raw, where)
        kind = str(data.get("mediaType") or media_type or mt.OCI_MANIFEST)
        if mt.is_index(kind) or "manifests" in data:
            raise ArchiveError(f"{where}: is an index, not an image manifest")
        if "config" not in data:
            raise ArchiveError(f"{where}: missing field 'config'")
        layers = data.get("layers") or []
        if not isinstance(layers, list):
            raise ArchiveError(f"{where}: layers is not a list")
        known = {"schemaVersion", "mediaType", "config", "layers", "annotations", "subject", "artifactType"}
        subject = data.get("subject")
        return cls(
            media_type=kind,
            config=Descriptor.from_dict(data["config"], where=f"{where}: config"),
            layers=tuple(Descriptor.from_dict(d, where=f"{where}: layers[{i}]") for i, d in enumerate(layers)),
            annotations=dict(data.get("annotations") or {}),
            subject=Descriptor.from_dict(subject, where=f"{where}: subject") if subject else None,
            artifact_type=str(data.get("artifactType") or ""),
            extra={k: v for k, v in data.items() if k not in known},
            raw=bytes(raw),
        )

    @classmethod
    def build(cls, config: Descriptor, layers: Sequence[Descriptor], *, media_type: str = mt.OCI_MANIFEST,
              annotations: Mapping[str, str] | None = None) -> "Manifest":
        """A new manifest; ``raw`` is its canonical JSON."""
        manifest = cls(media_type, config, tuple(layers), dict(annotations or {}))
        return manifest._with_raw()

    def _with_raw(self) -> "Manifest":
        return Manifest(self.media_type, self.config, self.layers, self.annotations, self.subject,
                        self.artifact_type, self.extra, canonical_json(self.to_dict()))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schemaVersion": 2, "mediaType": self.media_type}
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        out["config"] = self.config.to_dict()
        out["layers"] = [d.to_dict() for d in self.layers]
        if self.subject is not None:
            out["subject"] = self.subject.to_dict()
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        out.update(self.extra)
        return out


    @property
    def is_docker(self) -> bool:
        return self.media_type == mt.DOCKER_MANIFEST


@record(frozen=True)
class Index(_Document):
    media_type: str
    manifests: tuple[Descriptor, ...]
    annotations: Mapping[str, str] = field(default_factory=dict)
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)
    raw: bytes = field(default=b"", compare=False)

    @classmethod
    def parse(cls, raw: bytes, *, media_type: str = "", where: str = "index") -> "Index":
        data = _schema_2_object(raw, where)
        manifests = data.get("manifests")
        if not isinstance(manifests, list):
            raise ArchiveError(f"{where}: missing or invalid 'manifests'")
        known = {"schemaVersion", "mediaType", "manifests", "annotations"}
        return cls(
            media_type=str(data.get("mediaType") or media_type or mt.OCI_INDEX),
            manifests=tuple(Descriptor.from_dict(d, where=f"{where}: manifests[{i}]") for i, d in enumerate(manifests)),
            annotations=dict(data.get("annotations") or {}),
            extra={k: v for k, v in data.items() if k not in known},
            raw=bytes(raw),
        )

    @classmethod
    def build(cls, manifests: Sequence[Descriptor], *, media_type: str = mt.OCI_INDEX,
              annotations: Mapping[str, str] | None = None) -> "Index":
        index = cls(media_type, tuple(manifests), dict(annotations or {}))
        return Index(index.media_type, index.manifests, index.annotations, {}, canonical_json(index.to_dict()))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"schemaVersion": 2, "mediaType": self.media_type,
                               "manifests": [d.to_dict() for d in self.manifests]}
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        out.update(self.extra)
        return out


    def select(self, platform: Platform | str) -> Descriptor:
        """The first entry whose platform matches; ``NotFound`` listing the ones there are."""
        wanted = Platform.parse(platform) if isinstance(platform, str) else platform
        for descriptor in self.manifests:
            if descriptor.platform is not None and descriptor.platform.matches(wanted):
                return descriptor
        offered = ", ".join(str(d.platform) for d in self.manifests if d.platform) or "none"
        raise NotFound(f"no manifest for platform {wanted} in index (available: {offered})")


def parse_any(raw: bytes, *, media_type: str = "", where: str = "manifest") -> Manifest | Index:
    """A manifest or an index, decided by mediaType (or the presence of ``manifests``)."""
    data = load_json_object(raw, where)
    kind = str(data.get("mediaType") or media_type or "")
    if mt.is_index(kind) or (not kind and "manifests" in data):
        return Index.parse(raw, media_type=kind, where=where)
    return Manifest.parse(raw, media_type=kind, where=where)
