"""Content descriptors and platforms; unknown fields are kept in ``extra``."""

from __future__ import annotations

from typing import Any, Mapping

from layerlab.engine.errors import ArchiveError
from layerlab.engine.oci.digest import Digest
from layerlab.engine.record_type import field, record


@record(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""
    os_version: str = ""
    os_features: tuple[str, ...] = ()
    features: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def parse(cls, text: str) -> "Platform":
        """``linux/amd64`` or ``linux/arm64/v8``."""
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ArchiveError(f"invalid platform {text!r}: expected os/arch[/variant]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else "")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Platform":
        known = {"os", "architecture", "variant", "os.version", "os.features", "features"}
        return cls(
            os=str(data.get("os", "")), architecture=str(data.get("architecture", "")),
            variant=str(data.get("variant", "") or ""), os_version=str(data.get("os.version", "") or ""),
            os_features=tuple(data.get("os.features") or ()), features=tuple(data.get("features") or ()),
            extra={k: v for k, v in data.items() if k not in known},
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"architecture": self.architecture, "os": self.os}
        if self.os_version:
            out["os.version"] = self.os_version
        if self.os_features:
            out["os.features"] = list(self.os_features)
        if self.variant:
            out["variant"] = self.variant
        if self.features:
            out["features"] = list(self.features)
        out.update(self.extra)
        return out

    def matches(self, wanted: "Platform") -> bool:
        """True when this (an index entry's platform) satisfies ``wanted``.

        An empty variant on either side matches any variant, except that
        arm64 treats "" and "v8" as the same thing, as containerd does.
        """
        if self.os != wanted.os or self.architecture != wanted.architecture:
            return False
        mine, theirs = _norm_variant(self), _norm_variant(wanted)
        return not mine or not theirs or mine == theirs

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


def _norm_variant(platform: Platform) -> str:
    if platform.architecture == "arm64" and platform.variant in ("", "v8"):
        return "v8"
    return platform.variant


@record(frozen=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    annotations: Mapping[str, str] = field(default_factory=dict)
    platform: Platform | None = None
    urls: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, where: str = "descriptor") -> "Descriptor":
        if not isinstance(data, Mapping):
            raise ArchiveError(f"{where}: expected an object, got {type(data).__name__}")
        try:
            digest = Digest.parse(str(data["digest"]))
            size = data["size"]
        except KeyError as missing:
            raise ArchiveError(f"{where}: missing field {missing.args[0]!r}") from None
        except Exception as error:
            raise ArchiveError(f"{where}: {error}") from None
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ArchiveError(f"{where}: invalid size {size!r}")
        known = {"mediaType", "digest", "size", "annotations", "platform", "urls"}
        platform = data.get("platform")
        return cls(
            media_type=str(data.get("mediaType", "")), digest=digest, size=size,
            annotations=dict(data.get("annotations") or {}),
            platform=Platform.from_dict(platform) if isinstance(platform, Mapping) else None,
            urls=tuple(data.get("urls") or ()),
            extra={k: v for k, v in data.items() if k not in known},
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"mediaType": self.media_type, "digest": str(self.digest), "size": self.size}
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform is not None:
            out["platform"] = self.platform.to_dict()
        out.update(self.extra)
        return out
