"""Fetching and sending manifests, verified against the digests they are named by."""

from __future__ import annotations

import json
import platform as host_platform

from layerlab.engine.errors import DigestMismatch, InvalidReference, RegistryError
from layerlab.engine.oci import mediatypes as mt
from layerlab.engine.oci.descriptor import Platform
from layerlab.engine.oci.digest import Digest
from layerlab.engine.record_type import record
from layerlab.engine.registry.client import RegistryClient

ACCEPT = ", ".join((mt.OCI_INDEX, mt.DOCKER_MANIFEST_LIST, mt.OCI_MANIFEST, mt.DOCKER_MANIFEST))
MAX_MANIFEST = 4 << 20
_MACHINES = {"x86_64": ("amd64", ""), "amd64": ("amd64", ""), "aarch64": ("arm64", "v8"),
             "arm64": ("arm64", "v8"), "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"),
             "i386": ("386", ""), "i686": ("386", ""), "ppc64le": ("ppc64le", ""), "s390x": ("s390x", ""),
             "riscv64": ("riscv64", "")}


def host_default_platform() -> Platform:
    arch, variant = _MACHINES.get(host_platform.machine().lower(), (host_platform.machine().lower(), ""))
    return Platform("linux", arch, variant)


def pull_scope(repository: str) -> str:
    return f"repository:{repository}:pull"


def push_scope(repository: str) -> str:
    return f"repository:{repository}:pull,push"


@record(frozen=True)
class FetchedManifest:
    raw: bytes
    media_type: str
    digest: Digest

    @property
    def is_index(self) -> bool:
        return mt.is_index(self.media_type)


def fetch_manifest(client: RegistryClient, repository: str, reference: str | Digest, *,
                   scope: str | None = None) -> FetchedManifest:
    """GET a manifest or index by tag or digest; refuses bytes that do not hash to what names them."""
    what = f"manifest {repository}:{reference}" if not isinstance(reference, Digest) \
        else f"manifest {repository}@{reference}"
    response = client.request("GET", f"/v2/{repository}/manifests/{reference}", scope=scope or pull_scope(repository),
                              what=what, headers={"Accept": ACCEPT})
    raw = response.body
    if len(raw) > MAX_MANIFEST:
        raise RegistryError(f"{client.domain}: {what}: larger than {MAX_MANIFEST} bytes")
    digest = Digest.of_bytes(raw)
    if isinstance(reference, Digest) and Digest.of_bytes(raw, reference.algorithm) != reference:
        raise DigestMismatch(f"{client.domain}: {what}", str(reference), str(Digest.of_bytes(raw, reference.algorithm)))
    claimed = response.header("Docker-Content-Digest")
    if claimed:
        try:
            claimed_digest = Digest.parse(claimed)
        except InvalidReference:
            raise RegistryError(f"{client.domain}: {what}: bad Docker-Content-Digest {claimed!r}") from None
        actual = Digest.of_bytes(raw, claimed_digest.algorithm)
        if actual != claimed_digest:
            raise DigestMismatch(f"{client.domain}: {what}", str(claimed_digest), str(actual))
    return FetchedManifest(raw, _media_type(raw, response.header("Content-Type"), client.domain, what), digest)


def _media_type(raw: bytes, content_type: str, domain: str, what: str) -> str:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        raise RegistryError(f"{domain}: {what}: not JSON") from None
    kind = data.get("mediaType") if isinstance(data, dict) else None
    if not kind:
        kind = content_type.split(";")[0].strip()
    if kind == mt.DOCKER_MANIFEST_V1_SIGNED or (isinstance(data, dict) and data.get("schemaVersion") == 1):
        raise RegistryError(f"{domain}: {what}: schema 1 manifests are not supported")
    if not (mt.is_index(kind) or mt.is_manifest(kind)):
        if isinstance(data, dict) and "manifests" in data:
            return mt.OCI_INDEX
        if isinstance(data, dict) and "config" in data:
            return mt.OCI_MANIFEST
        raise RegistryError(f"{domain}: {what}: unknown manifest type {kind!r}")
    return kind


def head_manifest(client: RegistryClient, repository: str, reference: str) -> Digest | None:
    """The digest a tag points at now (None when the registry does not say)."""
    response = client.request("HEAD", f"/v2/{repository}/manifests/{reference}", scope=pull_scope(repository),
                              what=f"manifest {repository}:{reference}", headers={"Accept": ACCEPT})
    claimed = response.header("Docker-Content-Digest")
    return Digest.parse(claimed) if claimed else None


def put_manifest(client: RegistryClient, repository: str, reference: str, raw: bytes, media_type: str) -> Digest:
    """PUT a manifest under a tag or digest; the registry must agree on its digest."""
    digest = Digest.of_bytes(raw)
    what = f"manifest {repository}:{reference}"
    response = client.request("PUT", f"/v2/{repository}/manifests/{reference}", scope=push_scope(repository),
                              what=what, headers={"Content-Type": media_type}, body=raw, ok=(200, 201, 202))
    claimed = response.header("Docker-Content-Digest")
    if claimed and claimed != str(digest):
        raise DigestMismatch(f"{client.domain}: {what}", str(digest), claimed)
    return digest
