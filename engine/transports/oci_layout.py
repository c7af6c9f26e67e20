"""OCI image layout directories: ``oci-layout``, ``index.json``, ``blobs/<alg>/<hex>``.

Reading verifies every blob it uses (manifest, config, layers) against its
digest and every layer against the config's ``rootfs.diff_ids``. Writing keeps
layer bytes as they are (so digests survive), adds manifests with OCI media
types and names each image in ``index.json`` with
``org.opencontainers.image.ref.name`` (the tag, as skopeo and umoci expect)
and ``io.containerd.image.name`` (the full reference).
"""

from __future__ import annotations

import json
import os
import platform as host_platform
import shutil
from pathlib import Path
from typing import Iterable, Sequence

from layerlab.engine.errors import ArchiveError, DigestMismatch, NotFound
from layerlab.engine.fsutil import atomic_write
from layerlab.engine.image import Image
from layerlab.engine.oci import mediatypes as mt
from layerlab.engine.oci.descriptor import Descriptor, Platform
from layerlab.engine.oci.digest import CHUNK, Digest, Hasher
from layerlab.engine.oci.manifest import Index, Manifest, parse_any
from layerlab.engine.reference import Reference
from layerlab.engine.transports.memory import ConfigImage, build_manifest, diff_ids_of, oci_media_type
from layerlab.engine.transports.archive_members import DirectorySource, FileSource, LayerVerifier, read_verified

LAYOUT_FILE = "oci-layout"
LAYOUT_VERSION = {"imageLayoutVersion": "1.0.0"}
REF_NAME = "org.opencontainers.image.ref.name"
CONTAINERD_NAME = "io.containerd.image.name"
_GOARCH = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386", "ppc64le": "ppc64le",
           "s390x": "s390x", "riscv64": "riscv64"}


def host_platform_spec() -> Platform:
    machine = host_platform.machine()
    return Platform("linux", _GOARCH.get(machine, machine))


def blob_name(digest: Digest) -> str:
    return f"blobs/{digest.algorithm}/{digest.hex}"


def image_names(annotations: dict) -> list[str]:
    """The references an index entry names: the full containerd name, else a full ref.name."""
    full = annotations.get(CONTAINERD_NAME)
    if full and Reference.try_parse(full):
        return [Reference.parse(full).familiar]
    ref_name = annotations.get(REF_NAME, "")
    # A bare tag ("latest") names no repository; only a full reference is a tag we can keep.
    if ref_name and (":" in ref_name or "/" in ref_name) and Reference.try_parse(ref_name):
        return [Reference.parse(ref_name).familiar]
    return []


def read_layout_images(source: FileSource, *, want: str | None = None) -> list[tuple[Image, list[str]]]:
    """Images of an OCI layout in ``source``; ``want`` selects one ref.name (tag or full name)."""
    if not source.exists("index.json"):
        raise ArchiveError(f"{source.label}: not an OCI layout (no index.json)")
    if source.exists(LAYOUT_FILE):
        from layerlab.engine.transports.archive_members import read_small

        try:
            version = json.loads(read_small(source, LAYOUT_FILE)).get("imageLayoutVersion")
        except (ValueError, AttributeError):
            version = None
        if not version:
            raise ArchiveError(f"{source.label}: {LAYOUT_FILE}: no imageLayoutVersion")
    from layerlab.engine.transports.archive_members import read_small

    index = Index.parse(read_small(source, "index.json"), where=f"{source.label}: index.json")
    verifier = LayerVerifier(source)
    results: list[tuple[Image, list[str]]] = []
    for descriptor in index.manifests:
        annotations = dict(descriptor.annotations)
        if want is not None and want not in (annotations.get(REF_NAME), annotations.get(CONTAINERD_NAME)):
            continue
        manifest_descriptor = _resolve_platform(source, descriptor)
        image = read_image(source, manifest_descriptor, verifier)
        results.append((image, image_names(annotations)))
    if want is not None and not results:
        raise NotFound(f"{source.label}: no image named {want!r} in index.json")
    return results


def _resolve_platform(source: FileSource, descriptor: Descriptor) -> Descriptor:
    """Follow nested indexes down to the manifest for this host's platform."""
    for _ in range(8):
        if not mt.is_index(descriptor.media_type):
            return descriptor
        raw = read_verified(source, blob_name(descriptor.digest), descriptor.digest)
        nested = Index.parse(raw, where=f"{source.label}: {blob_name(descriptor.digest)}")
        descriptor = nested.select(host_platform_spec())
    raise ArchiveError(f"{source.label}: indexes nested too deeply")


def read_image(source: FileSource, descriptor: Descriptor, verifier: LayerVerifier) -> ConfigImage:
    name = blob_name(descriptor.digest)
    raw = read_verified(source, name, descriptor.digest)
    parsed = parse_any(raw, media_type=descriptor.media_type, where=f"{source.label}: {name}")
    if not isinstance(parsed, Manifest):
        raise ArchiveError(f"{source.label}: {name}: expected an image manifest")
    config_name = blob_name(parsed.config.digest)
    config = read_verified(source, config_name, parsed.config.digest)
    diff_ids = diff_ids_of(config, f"{source.label}: {config_name}")
    if len(diff_ids) != len(parsed.layers):
        raise ArchiveError(f"{source.label}: {name}: {len(parsed.layers)} layers but the config lists "
                           f"{len(diff_ids)} diff_ids")
    layers = tuple(
        verifier.layer(blob_name(layer.digest), diff_id, digest=layer.digest, media_type=layer.media_type)
        for layer, diff_id in zip(parsed.layers, diff_ids)
    )
    return ConfigImage(config, layers, manifest=raw, oci=not parsed.is_docker)


def read_oci_layout(directory: str | os.PathLike, ref: str | None = None) -> list[tuple[Image, list[str]]]:
    """Images in an OCI layout directory (all, or the one whose ref.name is ``ref``)."""
    if not Path(directory).is_dir():
        raise NotFound(f"{directory}: no such OCI layout directory")
    return read_layout_images(DirectorySource(directory), want=ref)


# -- writing -------------------------------------------------------------------------------

def _write_blob(blobs_dir: Path, digest: Digest, chunks: Iterable[bytes]) -> None:
    """Write a blob by temp file + rename, verifying its digest; skip one already present."""
    target = blobs_dir / digest.algorithm / digest.hex
    if target.exists():
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    with atomic_write(target, prefix=".ingest-") as out:
        hasher = Hasher(digest.algorithm)
        for chunk in chunks:
            hasher.update(chunk)
            out.write(chunk)
        if hasher.digest() != digest:
            raise DigestMismatch(f"blob written to {target}", str(digest), str(hasher.digest()))


def _read_chunks(stream) -> Iterable[bytes]:
    with stream:
        while chunk := stream.read(CHUNK):
            yield chunk


def oci_manifest_for(image: Image) -> bytes:
    """The image's manifest when it already uses OCI types, else one rebuilt with OCI types."""
    raw = image.manifest_bytes()
    try:
        parsed = parse_any(raw)
    except ArchiveError:
        parsed = None
    if isinstance(parsed, Manifest) and parsed.media_type == mt.OCI_MANIFEST and all(
            layer.media_type == oci_media_type(layer.media_type) for layer in parsed.layers):
        return raw
    return build_manifest(image.config_bytes(), image.layers(), oci=True)


def write_oci_layout(images_with_tags: Sequence[tuple[Image, Sequence[str]]], directory: str | os.PathLike) -> None:
    """Add images to the OCI layout at ``directory`` (created when missing).

    Each tag becomes an index entry; an earlier entry for the same full reference
    is replaced. ref.name is the bare tag, as Docker and containerd write it.
    """
    root = Path(directory)
    root.mkdir(parents=True, exist_ok=True)
    blobs = root / "blobs"
    entries: list[dict] = []
    index_path = root / "index.json"
    if index_path.exists():
        entries = list(json.loads(index_path.read_bytes()).get("manifests") or [])
    for image, tags in images_with_tags:
        for layer in image.layers():
            _write_blob(blobs, layer.digest, _read_chunks(layer.open_blob()))
        config = image.config_bytes()
        _write_blob(blobs, image.config_digest, [config])
        manifest = oci_manifest_for(image)
        manifest_digest = Digest.of_bytes(manifest)
        _write_blob(blobs, manifest_digest, [manifest])
        parsed_config = json.loads(config)
        platform = {"architecture": parsed_config.get("architecture", ""), "os": parsed_config.get("os", "")}
        if parsed_config.get("variant"):
            platform["variant"] = parsed_config["variant"]
        for tag in list(tags) or [None]:
            entry = {"mediaType": mt.OCI_MANIFEST, "digest": str(manifest_digest), "size": len(manifest),
                     "platform": platform}
            if tag is not None:
                ref = Reference.parse(tag)
                entry["annotations"] = {CONTAINERD_NAME: str(ref), REF_NAME: ref.tag or "latest"}
                entries = [e for e in entries if (e.get("annotations") or {}).get(CONTAINERD_NAME) != str(ref)]
            entries.append(entry)
    _write_json(root / LAYOUT_FILE, LAYOUT_VERSION)
    _write_json(index_path, {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": entries})


def _write_json(path: Path, data: dict) -> None:
    temp = path.with_name(f".{path.name}.tmp")
    temp.write_bytes(json.dumps(data, separators=(",", ":")).encode())
    os.replace(temp, path)


def remove_layout(directory: str | os.PathLike) -> None:
    shutil.rmtree(directory, ignore_errors=True)
