"""Image configuration (``application/vnd.oci.image.config.v1+json`` and Docker's).

``ImageConfig.parse`` keeps the exact bytes: the image ID is the sha256 of
those bytes, so an unchanged config must round-trip byte for byte. Unknown
fields are kept and never an error. Changes go through ``ImageConfig.evolve``
(or the builders), which return a new config serialized like Go's
``encoding/json``.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any, Callable, Mapping, Sequence

from layerlab.engine.errors import ArchiveError
from layerlab.engine.oci.canonical import docker_json, load_json_object
from layerlab.engine.oci.digest import Digest
from layerlab.engine.oci.rfc3339 import format_time, parse_time  # noqa: F401 (re-exported)
from layerlab.engine.record_type import field, record


@record(frozen=True)
class HistoryEntry:
    created: str = ""
    created_by: str = ""
    author: str = ""
    comment: str = ""
    empty_layer: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "HistoryEntry":
        known = {"created", "created_by", "author", "comment", "empty_layer"}
        return cls(
            created=str(data.get("created") or ""), created_by=str(data.get("created_by") or ""),
            author=str(data.get("author") or ""), comment=str(data.get("comment") or ""),
            empty_layer=bool(data.get("empty_layer", False)),
            extra={k: v for k, v in data.items() if k not in known},
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.created:
            out["created"] = self.created
        if self.created_by:
            out["created_by"] = self.created_by
        if self.author:
            out["author"] = self.author
        if self.comment:
            out["comment"] = self.comment
        if self.empty_layer:
            out["empty_layer"] = True
        out.update(self.extra)
        return out


@record(frozen=True)
class Healthcheck:
    """Docker's HEALTHCHECK; durations are nanoseconds as in the JSON."""

    test: tuple[str, ...] = ()
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "Healthcheck | None":
        if not data:
            return None
        return cls(
            test=tuple(data.get("Test") or ()), interval=int(data.get("Interval") or 0),
            timeout=int(data.get("Timeout") or 0), start_period=int(data.get("StartPeriod") or 0),
            start_interval=int(data.get("StartInterval") or 0), retries=int(data.get("Retries") or 0),
        )

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"Test": list(self.test)}
        for key, value in (("Interval", self.interval), ("Timeout", self.timeout),
                           ("StartPeriod", self.start_period), ("StartInterval", self.start_interval),
                           ("Retries", self.retries)):
            if value:
                out[key] = value
        return out


class ContainerConfig:
    """Typed read access to the ``config`` object (Env, Cmd, Entrypoint, …)."""

    def __init__(self, data: Mapping[str, Any] | None):
        self.data: Mapping[str, Any] = data or {}

    def _list(self, key: str) -> list[str] | None:
        value = self.data.get(key)
        return None if value is None else [str(v) for v in value]

    @property
    def env(self) -> list[str]:
        return self._list("Env") or []

    @property
    def env_dict(self) -> dict[str, str]:
        out: dict[str, str] = {}
        for item in self.env:
            name, _, value = item.partition("=")
            out[name] = value
        return out

    @property
    def cmd(self) -> list[str] | None:
        return self._list("Cmd")

    @property
    def entrypoint(self) -> list[str] | None:
        return self._list("Entrypoint")

    @property
    def working_dir(self) -> str:
        return str(self.data.get("WorkingDir") or "")

    @property
    def user(self) -> str:
        return str(self.data.get("User") or "")

    @property
    def labels(self) -> dict[str, str]:
        return dict(self.data.get("Labels") or {})

    @property
    def exposed_ports(self) -> list[str]:
        return sorted(self.data.get("ExposedPorts") or {})

    @property
    def volumes(self) -> list[str]:
        return sorted(self.data.get("Volumes") or {})

    @property
    def stop_signal(self) -> str:
        return str(self.data.get("StopSignal") or "")

    @property
    def healthcheck(self) -> Healthcheck | None:
        return Healthcheck.from_dict(self.data.get("Healthcheck"))

    @property
    def on_build(self) -> list[str]:
        return self._list("OnBuild") or []

    @property
    def shell(self) -> list[str] | None:
        return self._list("Shell")

    @property
    def args_escaped(self) -> bool:
        return bool(self.data.get("ArgsEscaped", False))


class ImageConfig:
    """An image config: exact bytes plus a parsed view. Immutable by convention."""

    __slots__ = ("raw", "data", "_digest")

    def __init__(self, raw: bytes, data: dict[str, Any]):
        self.raw = raw
        self.data = data
        self._digest: Digest | None = None

    # -- construction -------------------------------------------------------
    @classmethod
    def parse(cls, raw: bytes, *, where: str = "image config") -> "ImageConfig":
        """Parse config bytes; ``ArchiveError`` naming ``where`` when they are not a JSON object."""
        data = load_json_object(raw, where)
        rootfs = data.get("rootfs")
        if rootfs is not None and not isinstance(rootfs, dict):
            raise ArchiveError(f"{where}: rootfs is not an object")
        return cls(bytes(raw), data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ImageConfig":
        """Serialize ``data`` as Docker does (Go escapes, sorted keys) and wrap it."""
        plain = copy.deepcopy(dict(data))
        return cls(docker_json(plain), plain)

    @classmethod
    def new(cls, *, os: str = "linux", architecture: str = "amd64", variant: str = "",
            created: str | None = None, author: str = "", config: Mapping[str, Any] | None = None
            ) -> "ImageConfig":
        """A config with no layers (``FROM scratch``)."""
        data: dict[str, Any] = {"architecture": architecture, "os": os}
        if variant:
            data["variant"] = variant
        if created is not None:
            data["created"] = created
        if author:
            data["author"] = author
        data["config"] = dict(config or {})
        data["rootfs"] = {"type": "layers", "diff_ids": []}
        data["history"] = []
        return cls.from_dict(data)

    # -- identity ------------------------------------------------------------
    @property
    def digest(self) -> Digest:
        """sha256 of the exact bytes: Docker's image ID."""
        if self._digest is None:
            self._digest = Digest.of_bytes(self.raw)
        return self._digest

    def to_bytes(self) -> bytes:
        return self.raw

    # -- typed accessors ----------------------------------------------------------
    @property
    def architecture(self) -> str:
        return str(self.data.get("architecture") or "")

    @property
    def os(self) -> str:
        return str(self.data.get("os") or "")

    @property
    def variant(self) -> str:
        return str(self.data.get("variant") or "")

    @property
    def os_version(self) -> str:
        return str(self.data.get("os.version") or "")

    @property
    def created(self) -> str:
        return str(self.data.get("created") or "")

    @property
    def created_at(self) -> datetime | None:
        return parse_time(self.created)

    @property
    def author(self) -> str:
        return str(self.data.get("author") or "")

    @property
    def docker_version(self) -> str:
        return str(self.data.get("docker_version") or "")

    @property
    def config(self) -> ContainerConfig:
        return ContainerConfig(self.data.get("config"))

    @property
    def diff_ids(self) -> list[Digest]:
        rootfs = self.data.get("rootfs") or {}
        try:
            return [Digest.parse(str(d)) for d in rootfs.get("diff_ids") or ()]
        except Exception as error:
            raise ArchiveError(f"image config {self.digest}: rootfs.diff_ids: {error}") from None

    @property
    def history(self) -> list[HistoryEntry]:
        return [HistoryEntry.from_dict(h) for h in self.data.get("history") or () if isinstance(h, Mapping)]

    def history_by_layer(self) -> list[tuple[HistoryEntry, int | None]]:
        """Each history entry with the index of the layer it made (``None`` for empty_layer ones)."""
        return history_by_layer(self.history)

    # -- builders ----------------------------------------------------------------
    def evolve(self, change: Callable[[dict[str, Any]], None]) -> "ImageConfig":
        """A new config: ``change`` edits a deep copy of the data in place."""
        data = copy.deepcopy(self.data)
        change(data)
        return ImageConfig.from_dict(data)

    def with_container_config(self, **fields: Any) -> "ImageConfig":
        """New config with Docker-named fields set (``Env=[...]``, ``Cmd=[...]``); ``None`` removes."""
        def change(data: dict[str, Any]) -> None:
            config = data.setdefault("config", {})
            for key, value in fields.items():
                if value is None:
                    config.pop(key, None)
                else:
                    config[key] = value
        return self.evolve(change)

    def with_layer(self, diff_id: Digest | None, history: HistoryEntry) -> "ImageConfig":
        """New config with one more history entry, and a layer unless ``diff_id`` is None."""
        def change(data: dict[str, Any]) -> None:
            if diff_id is not None:
                rootfs = data.setdefault("rootfs", {"type": "layers", "diff_ids": []})
                rootfs.setdefault("type", "layers")
                rootfs.setdefault("diff_ids", []).append(str(diff_id))
                entry = history if not history.empty_layer else HistoryEntry(
                    history.created, history.created_by, history.author, history.comment, False, history.extra)
            else:
                entry = HistoryEntry(history.created, history.created_by, history.author, history.comment,
                                     True, history.extra)
            data.setdefault("history", []).append(entry.to_dict())
            if entry.created:
                data["created"] = entry.created
        return self.evolve(change)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ImageConfig) and other.raw == self.raw

    def __hash__(self) -> int:
        return hash(self.raw)

    def __repr__(self) -> str:
        return f"ImageConfig({self.digest.short}, {self.os}/{self.architecture}, {len(self.diff_ids)} layers)"


def history_by_layer(history: Sequence[HistoryEntry]) -> list[tuple[HistoryEntry, int | None]]:
    """The one pairing of history with layers: each entry with the index of the layer it made.

    Entries marked ``empty_layer`` made none (``None``); every other entry made
    the next layer up, bottom to top, as ``rootfs.diff_ids`` lists them.
    """
    out: list[tuple[HistoryEntry, int | None]] = []
    index = 0
    for entry in history:
        if entry.empty_layer:
            out.append((entry, None))
        else:
            out.append((entry, index))
            index += 1
    return out

