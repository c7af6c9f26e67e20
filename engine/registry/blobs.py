"""Moving one blob: a resumable, verified download into the store, and an upload.

Downloads go to a named ingest (``pull-<digest>``) in the store; cut off,
the partial data stays, and the next attempt asks the registry for the rest
with a ``Range`` header. Only bytes that hash to the digest become a blob.

Uploads check for the blob first, then try a cross-repository mount, then
send the bytes: in one PUT when small, in PATCH chunks when large. The
registry's upload URL after each chunk is remembered, so a push cut off
half-way goes on from the last chunk the registry confirmed.
"""

from __future__ import annotations

import http.client
import io
import urllib.parse
from typing import BinaryIO, Callable

from layerlab.engine.errors import DigestMismatch, LayerlabError, NotFound, RegistryError
from layerlab.engine.events import EventSink, TransferProgress, discard
from layerlab.engine.oci.descriptor import Descriptor
from layerlab.engine.oci.digest import Digest
from layerlab.engine.registry.client import BLOCK, RegistryClient, _describe
from layerlab.engine.registry.manifests import pull_scope, push_scope
from layerlab.engine.registry.state import RegistryState
from layerlab.engine.store import Store

CHUNK_SIZE = 32 << 20    # blobs up to this size go in one PUT, larger ones in chunks of it


def fetch_blob(client: RegistryClient, repository: str, descriptor: Descriptor, store: Store, *,
               events: EventSink = discard, what: str = "blob") -> None:
    """Make sure ``descriptor``'s blob is in ``store``, downloading what is missing."""
    digest, size = descriptor.digest, descriptor.size
    label = f"{what} {digest} of {repository}"
    if store.blobs.has(digest):
        events(TransferProgress(str(digest), size, size, "pull"))
        return
    ingest = store.blobs.writer(f"pull-{digest}", digest, size)
    offset = ingest.offset
    if offset > size:
        ingest.abort()
        ingest, offset = store.blobs.writer(f"pull-{digest}", digest, size), 0
    if offset < size or size == 0:
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        response = client.request("GET", f"/v2/{repository}/blobs/{digest}", scope=pull_scope(repository),
                                  what=f"fetching {label}", headers=headers, ok=(200, 206), stream=True)
        mode = "ab"
        if offset and response.status == 200:
            offset, mode = 0, "wb"   # the registry ignored the range: start over
        done = offset
        try:
            with response.stream as stream, open(ingest.data_path, mode) as out:
                while chunk := stream.read(BLOCK):
                    done += len(chunk)
                    if done > size:
                        raise RegistryError(f"{client.domain}: {label}: more than the {size} bytes the manifest says")
                    out.write(chunk)
                    events(TransferProgress(str(digest), done, size, "pull"))
        except (OSError, http.client.HTTPException) as error:
            raise RegistryError(f"{client.domain}: {label}: interrupted after {done} of {size} bytes "
                                f"({_describe(error)}); run the command again to resume") from None
        if done < size:
            raise RegistryError(f"{client.domain}: {label}: the registry sent {done} of {size} bytes; "
                                "run the command again to resume")
    try:
        ingest.commit(what=f"{client.domain}: {label}")
    except DigestMismatch:
        raise   # the ingest is gone; the next attempt starts from zero


def fetch_small_blob(client: RegistryClient, repository: str, descriptor: Descriptor, *, what: str) -> bytes:
    """A config or other small blob, in memory, verified."""
    response = client.request("GET", f"/v2/{repository}/blobs/{descriptor.digest}", scope=pull_scope(repository),
                              what=f"fetching {what} {descriptor.digest}")
    actual = Digest.of_bytes(response.body, descriptor.digest.algorithm)
    if actual != descriptor.digest:
        raise DigestMismatch(f"{client.domain}: {what} of {repository}", str(descriptor.digest), str(actual))
    return response.body


def blob_exists(client: RegistryClient, repository: str, digest: Digest) -> bool:
    try:
        client.request("HEAD", f"/v2/{repository}/blobs/{digest}", scope=push_scope(repository),
                       what=f"checking blob {digest}")
        return True
    except NotFound:
        return False


def upload_blob(client: RegistryClient, repository: str, digest: Digest, size: int,
                open_blob: Callable[[], BinaryIO], state: RegistryState, *,
                events: EventSink = discard, chunk_size: int = CHUNK_SIZE) -> str:
    """Put a blob in ``repository``; returns how: "exists", "mounted" or "pushed".

    Blobs larger than ``chunk_size`` (and resumed uploads) go in PATCH chunks of that size."""
    scope = push_scope(repository)
    if blob_exists(client, repository, digest):
        state.remember_seen(client.domain, repository, digest)
        events(TransferProgress(str(digest), size, size, "push"))
        return "exists"
    location = None
    for source in state.seen_in(client.domain, digest)[:3]:
        if source == repository:
            continue
        query = urllib.parse.urlencode({"mount": str(digest), "from": source})
        response = client.request("POST", f"/v2/{repository}/blobs/uploads/?{query}", scope=f"{scope} "
                                  f"{pull_scope(source)}", what=f"mounting blob {digest} from {source}",
                                  ok=(201, 202))
        if response.status == 201:
            state.remember_seen(client.domain, repository, digest)
            events(TransferProgress(str(digest), size, size, "push"))
            return "mounted"
        location = response.header("Location")
        break
    resumed = state.upload(client.domain, repository, digest)
    offset = 0
    if resumed is not None and location is None:
        location, offset = _resume_point(client, repository, digest, resumed)
    if location is None:
        response = client.request("POST", f"/v2/{repository}/blobs/uploads/", scope=scope,
                                  what=f"starting upload of blob {digest}", ok=(202,))
        location = _location(client, response)
    label = f"uploading blob {digest} to {repository}"
    with open_blob() as blob:
        if size <= chunk_size and offset == 0:
            events(TransferProgress(str(digest), 0, size, "push"))
            client.request("PUT", _with_digest(location, digest), scope=scope, what=label, body=blob,
                           headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
                           ok=(201, 204))
        else:
            blob.seek(offset)
            while offset < size:
                length = min(chunk_size, size - offset)
                body = io.BytesIO(blob.read(length))
                response = client.request(
                    "PATCH", location, scope=scope, what=f"{label} (at byte {offset} of {size})", body=body,
                    headers={"Content-Type": "application/octet-stream", "Content-Length": str(length),
                             "Content-Range": f"{offset}-{offset + length - 1}"}, ok=(202, 204))
                location = _location(client, response)
                offset += length
                state.remember_upload(client.domain, repository, digest, location, offset)
                events(TransferProgress(str(digest), offset, size, "push"))
            client.request("PUT", _with_digest(location, digest), scope=scope, what=label, ok=(201, 204))
    state.forget_upload(client.domain, repository, digest)
    state.remember_seen(client.domain, repository, digest)
    events(TransferProgress(str(digest), size, size, "push"))
    return "pushed"


def _resume_point(client: RegistryClient, repository: str, digest: Digest,
                  resumed: tuple[str, int]) -> tuple[str | None, int]:
    """Ask the registry how much of an earlier upload it holds; (None, 0) to start afresh."""
    location, offset = resumed
    try:
        response = client.request("GET", location, scope=push_scope(repository),
                                  what=f"resuming upload of blob {digest}", ok=(204,))
    except LayerlabError:
        return None, 0
    held = response.header("Range")  # "0-<last byte>"
    try:
        end = int(held.split("-")[1]) + 1 if held else 0
    except (IndexError, ValueError):
        return None, 0
    if end != offset:
        return None, 0
    return _location(client, response), offset


def _location(client: RegistryClient, response) -> str:
    location = response.header("Location")
    if not location:
        raise RegistryError(f"{client.domain}: upload answer without a Location")
    return location


def _with_digest(location: str, digest: Digest) -> str:
    return location + ("&" if "?" in location else "?") + urllib.parse.urlencode({"digest": str(digest)})
