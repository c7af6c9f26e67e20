"""A registry killed mid-transfer, and one that lies about digests."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from layerlab.engine.errors import DigestMismatch, NotFound, RegistryError
from layerlab.engine.events import TransferProgress
from layerlab.engine.oci import mediatypes as mt
from layerlab.engine.oci.digest import Digest
from layerlab.engine.registry.pull import pull
from layerlab.engine.registry.push import push
from layerlab.engine.registry.state import RegistryState
from layerlab.engine.store import Store
from tests.registry.images import test_image as make_image
from tests.registry.servers import Registry

MB = 1 << 20


def _errors(store: Store) -> list:
    return [p for p in store.fsck() if p.is_error]


class KillAt:
    """An event sink that kills the registry once ``digest`` has moved ``after`` bytes."""

    def __init__(self, registry: Registry, digest: Digest, after: int):
        self.registry, self.digest, self.after = registry, str(digest), after
        self.killed = False
        self.events: list[TransferProgress] = []

    def __call__(self, event) -> None:
        self.events.append(event)
        if not self.killed and event.digest == self.digest and self.after <= event.done < event.total:
            self.killed = True
            self.registry.kill()


def _restart(registry: Registry) -> Registry:
    return Registry(registry.workdir, port=registry.port).start()


def test_pull_cut_off_by_a_dying_registry_resumes(registry, tmp_path, cli):
    source = Store.open(tmp_path / "a")
    built = source.put_image(make_image([24 * MB, 2000], seed=30), tags=["large:1"])
    push(f"{registry.host}/large:1", source, source="large:1")
    big = built.layers()[0]

    target = Store.open(tmp_path / "b")
    killer = KillAt(registry, big.digest, 2 * MB)
    with pytest.raises(RegistryError) as caught:
        pull(f"{registry.host}/large:1", target, events=killer)
    assert killer.killed
    message = caught.value.one_line()
    assert "run the command again to resume" in message and "\n" not in message
    assert not target.blobs.has(big.digest)
    with pytest.raises(NotFound):
        target.image(f"{registry.host}/large:1")
    assert _errors(target) == []
    partial = target.blobs.writer(f"pull-{big.digest}").offset
    assert partial >= 2 * MB

    again = _restart(registry)
    try:
        events: list[TransferProgress] = []
        pulled = pull(f"{registry.host}/large:1", target, events=events.append)
        first = next(e for e in events if e.digest == str(big.digest))
        assert first.done > partial          # it went on from where it stopped
        assert pulled.id == built.id
        assert _errors(target) == []
        assert target.blobs.ingests() == []
    finally:
        again.stop()


def test_push_cut_off_by_a_dying_registry_resumes(registry, tmp_path):
    store = Store.open(tmp_path / "a")
    built = store.put_image(make_image([4 * MB], seed=31), tags=["chunks:1"])
    layer = built.layers()[0]
    killer = KillAt(registry, layer.digest, 1 * MB)
    with pytest.raises(RegistryError) as caught:
        push(f"{registry.host}/chunks:1", store, source="chunks:1", chunk_size=512 * 1024, events=killer)
    assert killer.killed and "\n" not in caught.value.one_line()
    state = RegistryState(store.root)
    location, offset = state.upload(registry.host, "chunks", layer.digest)
    assert offset >= 1 * MB

    again = _restart(registry)
    try:
        events: list[TransferProgress] = []
        result = push(f"{registry.host}/chunks:1", store, source="chunks:1", chunk_size=512 * 1024,
                      events=events.append)
        first = next(e for e in events if e.digest == str(layer.digest) and e.done)
        assert first.done == offset + 512 * 1024   # the first chunk sent after the restart
        assert result.blobs[str(layer.digest)] == "pushed"
        assert state.upload(registry.host, "chunks", layer.digest) is None
        assert pull(f"{registry.host}/chunks:1", Store.open(tmp_path / "b")).id == built.id
        assert _errors(store) == []
    finally:
        again.stop()


def test_cli_says_in_one_line_when_the_registry_is_down(registry, cli):
    registry.kill()
    result = cli("pull", f"{registry.host}/gone:1")
    assert result.code == 1
    assert result.err.startswith(f"layerlab: {registry.host}: ") and "connection refused" in result.err
    assert result.err.count("\n") == 1


class LyingRegistry:
    """Serves one image, with the manifest, config or a layer swapped for other bytes on request."""

    def __init__(self, image, lie: str):
        self.config = image.config
        self.layer = image.image_layers[0].blob
        self.manifest = image.manifest_bytes()
        self.lie = lie
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                body, kind, claimed = owner.answer(self.path)
                if body is None:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                if claimed:
                    self.send_header("Docker-Content-Digest", claimed)
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.host = f"127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str):
        manifest_digest = str(Digest.of_bytes(self.manifest))
        if path == "/v2/":
            return b"{}", "application/json", ""
        if "/manifests/" in path:
            body = self.manifest
            if self.lie in ("manifest-by-digest", "manifest-header"):
                body = self.manifest.replace(b'"schemaVersion":2', b'"schemaVersion": 2')
            claimed = manifest_digest if self.lie == "manifest-header" or "@" not in path else ""
            return body, mt.DOCKER_MANIFEST, claimed if self.lie != "manifest-by-digest" else ""
        if path.endswith(str(Digest.of_bytes(self.config))):
            return (self.config + b" " if self.lie == "config" else self.config), "application/octet-stream", ""
        if path.endswith(str(Digest.of_bytes(self.layer))):
            body = self.layer[:-1] + bytes([self.layer[-1] ^ 1]) if self.lie == "layer" else self.layer
            return body, "application/octet-stream", ""
        return None, "", ""

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("lie", ["manifest-header", "manifest-by-digest", "config", "layer"])
def test_content_that_does_not_match_its_digest_is_refused(tmp_path, lie):
    image = make_image([3000], seed=32)
    fake = LyingRegistry(image, lie)
    store = Store.open(tmp_path / "b")
    name = f"{fake.host}/liar:1"
    if lie == "manifest-by-digest":
        name = f"{fake.host}/liar@{Digest.of_bytes(image.manifest_bytes())}"
    try:
        with pytest.raises(DigestMismatch) as caught:
            pull(name, store)
    finally:
        fake.stop()
    assert "digest mismatch" in caught.value.one_line()
    assert list(store.blobs.digests()) == []
    assert store.images() == []
    assert _errors(store) == []
    assert json.loads(image.config)["rootfs"]["diff_ids"]   # (the image itself was fine)
