"""``docker save`` / ``docker load`` archives, both layouts.

Pre-25 (the legacy layout)::

    <v1 id>/VERSION, <v1 id>/json, <v1 id>/layer.tar   one directory per layer
    <config hex>.json                                 the image config
    manifest.json   [{"Config": ..., "RepoTags": [...], "Layers": [...]}]
    repositories    {"repo": {"tag": "<top v1 id>"}}

25+ (an OCI layout inside): ``oci-layout``, ``index.json``, ``blobs/sha256/…``
and a ``manifest.json`` whose paths point into ``blobs``.

Reading prefers ``manifest.json`` (what ``docker load`` does) and falls back to
``index.json``. Every config must hash to the name it is stored under, every
layer must hash to its config's diff_id; errors name the member and digest.
"""

from __future__ import annotations

import atexit
import io
import json
import os
import re
import shutil
import tarfile
import tempfile
from typing import BinaryIO, Sequence

from layerlab.engine.errors import ArchiveError, DigestMismatch, NotFound, UsageError
from layerlab.engine.image import Image
from layerlab.engine.oci import mediatypes as mt
from layerlab.engine.oci.config import parse_time
from layerlab.engine.oci.digest import CHUNK, Digest, HashingReader
from layerlab.engine.oci.manifest import Index, Manifest
from layerlab.engine.record_type import record
from layerlab.engine.reference import Reference
from layerlab.engine.transports import oci_layout
from layerlab.engine.transports.memory import ConfigImage, diff_ids_of, is_uncompressed
from layerlab.engine.transports.archive_members import (LayerVerifier, TarSource, is_compressed_file, read_small, read_verified,
                                      spool)

_CONFIG_NAME = re.compile(r"^(?:blobs/sha256/([a-f0-9]{64})|([a-f0-9]{64})\.json)$")
LAYOUTS = ("legacy", "oci")


@record
class DockerArchive:
    """An opened archive: its images with their tags. Close it when the images are consumed."""

    label: str
    images: list[tuple[Image, list[str]]]
    _temp_path: str | None = None

    def close(self) -> None:
        if self._temp_path and os.path.exists(self._temp_path):
            os.unlink(self._temp_path)
            self._temp_path = None

    def __enter__(self) -> "DockerArchive":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def open_docker_archive(source: str | os.PathLike | BinaryIO, *, spool_dir: str | None = None,
                        label: str | None = None) -> DockerArchive:
    """Open and verify a docker-archive (a path, or a stream that is spooled to a temp file).

    A compressed archive (gzip, bzip2, xz, zstd), as ``docker load`` accepts, is
    decompressed into a temp file first.
    """
    temp_path = None
    if isinstance(source, (str, os.PathLike)):
        path = os.fspath(source)
        label = label or path
        if not os.path.exists(path):
            raise NotFound(f"{path}: no such file")
        if os.path.isdir(path):
            raise ArchiveError(f"{path}: is a directory (an OCI layout? use the directory loader)")
        if is_compressed_file(path):
            with open(path, "rb") as stream:
                temp_path = spool(stream, spool_dir)
            path = temp_path
    else:
        label = label or "archive on stdin"
        temp_path = path = spool(source, spool_dir)
    try:
        tar = TarSource(path, label)
        return DockerArchive(label, _read_images(tar), temp_path)
    except BaseException:
        if temp_path:
            os.unlink(temp_path)
        raise


def read_docker_archive(source: str | os.PathLike | BinaryIO) -> list[tuple[Image, list[str]]]:
    """The images in a docker-archive with their repo tags (a spooled stream is removed at exit)."""
    archive = open_docker_archive(source)
    if archive._temp_path:
        atexit.register(archive.close)
    return archive.images


def _read_images(tar: TarSource) -> list[tuple[Image, list[str]]]:
    if tar.exists("manifest.json"):
        return _read_manifest_json(tar)
    if tar.exists("index.json"):
        return oci_layout.read_layout_images(tar)
    if tar.exists("repositories"):
        raise ArchiveError(f"{tar.label}: a pre-1.10 archive (repositories without manifest.json) is not supported")
    raise ArchiveError(f"{tar.label}: not a docker archive: no manifest.json or index.json")


def _oci_manifests_by_config(tar: TarSource) -> dict[Digest, bytes]:
    """Manifests of the 25+ layout's index.json, keyed by config digest (kept so their digests survive)."""
    if not tar.exists("index.json"):
        return {}
    found: dict[Digest, bytes] = {}
    index = Index.parse(read_small(tar, "index.json"), where=f"{tar.label}: index.json")
    for descriptor in index.manifests:
        if not mt.is_manifest(descriptor.media_type) or not tar.exists(oci_layout.blob_name(descriptor.digest)):
            continue
        raw = read_verified(tar, oci_layout.blob_name(descriptor.digest), descriptor.digest)
        manifest = Manifest.parse(raw, where=f"{tar.label}: {oci_layout.blob_name(descriptor.digest)}")
        found[manifest.config.digest] = raw
    return found


def _read_manifest_json(tar: TarSource) -> list[tuple[Image, list[str]]]:
    try:
        entries = json.loads(read_small(tar, "manifest.json"))
    except ValueError as error:
        raise ArchiveError(f"{tar.label}: manifest.json: not valid JSON: {error}") from None
    if not isinstance(entries, list) or not entries:
        raise ArchiveError(f"{tar.label}: manifest.json: expected a non-empty list of images")
    oci_manifests = _oci_manifests_by_config(tar)
    verifier = LayerVerifier(tar)
    images: list[tuple[Image, list[str]]] = []
    for number, entry in enumerate(entries):
        where = f"{tar.label}: manifest.json[{number}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
            raise ArchiveError(f"{where}: no Config")
        layer_names = entry.get("Layers") or []
        repo_tags = entry.get("RepoTags") or []
        if not isinstance(layer_names, list) or not all(isinstance(n, str) for n in layer_names):
            raise ArchiveError(f"{where}: Layers is not a list of names")
        config_name = entry["Config"]
        config = read_small(tar, config_name)
        config_digest = Digest.of_bytes(config)
        named = _CONFIG_NAME.match(config_name)
        claimed = named and (named.group(1) or named.group(2))
        if claimed and claimed != config_digest.hex:
            raise DigestMismatch(f"{tar.label}: {config_name}: image config", f"sha256:{claimed}",
                                 str(config_digest))
        diff_ids = diff_ids_of(config, f"{tar.label}: {config_name}")
        if len(diff_ids) != len(layer_names):
            raise ArchiveError(f"{where}: {len(layer_names)} layers but config {config_name} lists "
                               f"{len(diff_ids)} diff_ids")
        oci_manifest = oci_manifests.get(config_digest)
        layers = []
        for layer_name, diff_id in zip(layer_names, diff_ids):
            blob_digest = None
            blob_match = re.match(r"^blobs/(sha256)/([a-f0-9]{64})$", layer_name)
            if blob_match:
                blob_digest = Digest(blob_match.group(1), blob_match.group(2))
            layers.append(verifier.layer(layer_name, diff_id, digest=blob_digest, oci=oci_manifest is not None))
        tags = []
        for tag in repo_tags:
            if Reference.try_parse(tag) is None:
                raise ArchiveError(f"{where}: invalid repo tag {tag!r}")
            tags.append(Reference.parse(tag).familiar)
        images.append((ConfigImage(config, tuple(layers), manifest=oci_manifest, oci=oci_manifest is not None),
                       tags))
    return images


# -- writing -------------------------------------------------------------------------------

class _TarWriter:
    """Deterministic tar entries (fixed owner, given mtime) onto a stream."""

    def __init__(self, out: BinaryIO):
        self.tar = tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT, copybufsize=CHUNK)
        self.written: set[str] = set()

    def _info(self, name: str, mtime: int) -> tarfile.TarInfo:
        info = tarfile.TarInfo(name)
        info.mtime = mtime
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    def directory(self, name: str, mtime: int) -> None:
        info = self._info(name, mtime)
        info.type = tarfile.DIRTYPE
        info.mode = 0o755
        self.tar.addfile(info)
        self.written.add(name)

    def file(self, name: str, data: bytes, mtime: int) -> None:
        self.stream(name, io.BytesIO(data), len(data), mtime)

    def stream(self, name: str, stream: BinaryIO, size: int, mtime: int) -> None:
        info = self._info(name, mtime)
        info.mode = 0o644
        info.size = size
        self.tar.addfile(info, stream)
        self.written.add(name)

    def close(self) -> None:
        self.tar.close()

    def abandon(self) -> None:
        """Give up after a failure: nothing more is written (the output is discarded by its owner).

        A stream-mode ``TarFile`` left open flushes its buffer when collected,
        into a file its owner has already closed; mark both closed instead.
        """
        self.tar.closed = True
        stream = getattr(self.tar, "fileobj", None)
        if stream is not None and hasattr(stream, "closed"):
            stream.closed = True


def _uncompressed_layer(layer) -> tuple[BinaryIO, int, str | None]:
    """A readable uncompressed tar of the layer, its size, and a temp file to remove afterwards."""
    if is_uncompressed(layer.media_type):
        return layer.open_blob(), layer.size, None
    fd, temp = tempfile.mkstemp(prefix="layerlab-layer-", suffix=".tar")
    with os.fdopen(fd, "wb") as out, layer.open_uncompressed() as stream:
        shutil.copyfileobj(stream, out, CHUNK)
    return open(temp, "rb"), os.path.getsize(temp), temp


def _write_layer(writer: _TarWriter, name: str, layer, mtime: int) -> None:
    stream, size, temp = _uncompressed_layer(layer)
    try:
        with stream:
            reader = HashingReader(stream)
            writer.stream(name, io.BufferedReader(reader, CHUNK), size, mtime)
        if reader.hasher.digest() != layer.diff_id:
            raise DigestMismatch(f"layer {layer.digest}", str(layer.diff_id), str(reader.hasher.digest()))
    finally:
        if temp:
            os.unlink(temp)


def _created_epoch(config: bytes) -> int:
    try:
        moment = parse_time(str(json.loads(config).get("created") or ""))
    except ValueError:
        moment = None
    return max(0, int(moment.timestamp())) if moment else 0


def _v1_ids(diff_ids: Sequence[Digest]) -> list[str]:
    """Stable per-layer directory names for the legacy layout, one per layer stack."""
    ids, parent = [], ""
    for chain in _chain(diff_ids):
        parent = Digest.of_bytes(json.dumps({"layer_id": str(chain), "parent": parent}, sort_keys=True).encode()).hex
        ids.append(parent)
    return ids


def _chain(diff_ids: Sequence[Digest]) -> list[Digest]:
    from layerlab.engine.oci.chain import chain_ids

    return chain_ids(diff_ids)


def write_docker_archive(images_with_tags: Sequence[tuple[Image, Sequence[str]]], out: BinaryIO,
                         layout: str = "legacy") -> None:
    """Write a ``docker save`` archive of the images to ``out`` (a binary stream).

    ``legacy`` is Docker's pre-25 layout; ``oci`` is the 25+ layout (an OCI
    layout plus manifest.json). Layers are written uncompressed, byte for byte
    as their diff IDs name them.
    """
    if layout not in LAYOUTS:
        raise UsageError(f"unknown archive layout {layout!r} (expected one of: {', '.join(LAYOUTS)})")
    writer = _TarWriter(out)
    try:
        _write_images(writer, images_with_tags, layout)
    except BaseException:
        writer.abandon()
        raise
    writer.close()


def _write_images(writer: _TarWriter, images_with_tags: Sequence[tuple[Image, Sequence[str]]], layout: str) -> None:
    manifest_entries: list[dict] = []
    repositories: dict[str, dict[str, str]] = {}
    index_entries: list[dict] = []
    for image, tags in images_with_tags:
        config = image.config_bytes()
        layers = list(image.layers())
        mtime = _created_epoch(config)
        familiar_tags = [Reference.parse(tag).familiar for tag in tags]
        if layout == "legacy":
            layer_names = _write_legacy_layers(writer, config, layers, mtime)
            config_name = f"{image.config_digest.hex}.json"
            if config_name not in writer.written:
                writer.file(config_name, config, mtime)
            top = layer_names[-1].split("/")[0] if layer_names else None
            for tag in familiar_tags:
                ref = Reference.parse(tag)
                if top:
                    repositories.setdefault(ref.familiar_name, {})[ref.tag or "latest"] = top
        else:
            layer_names, config_name, manifest = _write_oci_blobs(writer, image, config, layers)
            descriptor = {"mediaType": mt.OCI_MANIFEST, "digest": str(Digest.of_bytes(manifest)),
                          "size": len(manifest)}
            for tag in familiar_tags or [None]:
                entry = dict(descriptor)
                if tag:
                    ref = Reference.parse(tag)
                    entry["annotations"] = {oci_layout.CONTAINERD_NAME: str(ref), oci_layout.REF_NAME: ref.tag}
                index_entries.append(entry)
        manifest_entries.append({"Config": config_name, "RepoTags": familiar_tags or None, "Layers": layer_names})
    if layout == "oci":
        writer.file(oci_layout.LAYOUT_FILE, json.dumps(oci_layout.LAYOUT_VERSION).encode(), 0)
        writer.file("index.json", json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX,
                                              "manifests": index_entries}, separators=(",", ":")).encode(), 0)
    writer.file("manifest.json", json.dumps(manifest_entries, separators=(",", ":")).encode(), 0)
    if repositories:
        writer.file("repositories", json.dumps(repositories, separators=(",", ":")).encode(), 0)


def _write_legacy_layers(writer: _TarWriter, config: bytes, layers: list, mtime: int) -> list[str]:
    diff_ids = [layer.diff_id for layer in layers]
    names = []
    parent = ""
    for layer, v1_id in zip(layers, _v1_ids(diff_ids)):
        name = f"{v1_id}/layer.tar"
        if name not in writer.written:
            writer.directory(v1_id, mtime)
            writer.file(f"{v1_id}/VERSION", b"1.0", mtime)
            legacy_json = {"id": v1_id, "created": "1970-01-01T00:00:00Z", "container_config": {}}
            if parent:
                legacy_json["parent"] = parent
            writer.file(f"{v1_id}/json", json.dumps(legacy_json, separators=(",", ":")).encode(), mtime)
            _write_layer(writer, name, layer, mtime)
        names.append(name)
        parent = v1_id
    return names


def _write_oci_blobs(writer: _TarWriter, image: Image, config: bytes, layers: list) -> tuple[list[str], str, bytes]:
    for directory in ("blobs", "blobs/sha256"):
        if directory not in writer.written:
            writer.directory(directory, 0)
    names = []
    for layer in layers:
        name = oci_layout.blob_name(layer.diff_id)
        if name not in writer.written:
            _write_layer(writer, name, layer, 0)
        names.append(name)
    config_name = oci_layout.blob_name(image.config_digest)
    if config_name not in writer.written:
        writer.file(config_name, config, 0)
    manifest = _uncompressed_oci_manifest(config, layers)
    manifest_name = oci_layout.blob_name(Digest.of_bytes(manifest))
    if manifest_name not in writer.written:
        writer.file(manifest_name, manifest, 0)
    return names, config_name, manifest


def _uncompressed_oci_manifest(config: bytes, layers: list) -> bytes:
    from layerlab.engine.oci.descriptor import Descriptor

    sizes = []
    for layer in layers:
        if is_uncompressed(layer.media_type):
            sizes.append(layer.size)
        else:
            with layer.open_uncompressed() as stream:
                sizes.append(sum(len(chunk) for chunk in iter(lambda: stream.read(CHUNK), b"")))
    config_descriptor = Descriptor(mt.OCI_CONFIG, Digest.of_bytes(config), len(config))
    layer_descriptors = [Descriptor(mt.OCI_LAYER_TAR, layer.diff_id, size) for layer, size in zip(layers, sizes)]
    return Manifest.build(config_descriptor, layer_descriptors, media_type=mt.OCI_MANIFEST).to_bytes()
