"""layerlab and the real tools meet at a real registry: docker push/pull/run and skopeo inspect."""

from __future__ import annotations

import io
import json
import subprocess
import uuid

import pytest

from layerlab.engine.bootstrap import busybox_image
from layerlab.engine.registry.pull import pull
from layerlab.engine.registry.push import push
from layerlab.engine.store import Store
from layerlab.engine.transports.docker_archive import write_docker_archive
from tests.peers import need_program

pytestmark = pytest.mark.peers


@pytest.fixture
def unique() -> str:
    return f"layerlab-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
def busybox_store(tmp_path):
    need_program("busybox")
    store = Store.open(tmp_path / "bb")
    store.put_image(busybox_image(), tags=["busybox:latest"])
    return store


def test_layerlab_push_then_docker_pull_and_run(docker, registry, busybox_store, unique):
    name = f"{registry.host}/{unique}/bb:1"
    result = push(name, busybox_store, source="busybox:latest")
    try:
        docker.run("pull", name)
        ran = docker.run("run", "--rm", "--network", "none", name, "echo", "hello from the registry")
        assert ran.stdout.decode().strip() == "hello from the registry"
        inspect = json.loads(docker.run("image", "inspect", name).stdout)[0]
        assert inspect["Id"] == str(busybox_store.image("busybox:latest").id)
        assert f"{registry.host}/{unique}/bb@{result.digest}" in inspect["RepoDigests"]
    finally:
        docker.run("rmi", "-f", name, check=False)


def test_skopeo_inspects_what_we_pushed(registry, busybox_store, unique):
    skopeo = need_program("skopeo")
    name = f"{registry.host}/{unique}/inspect:2"
    result = push(name, busybox_store, source="busybox:latest")
    answer = subprocess.run([skopeo, "inspect", "--tls-verify=false", f"docker://{name}"], capture_output=True)
    assert answer.returncode == 0, answer.stderr.decode()
    data = json.loads(answer.stdout)
    assert data["Digest"] == str(result.digest)
    pushed_layers = [d for d, how in result.blobs.items() if d != str(busybox_store.image("busybox:latest").id)]
    assert data["Layers"] == pushed_layers
    assert data["Architecture"] == busybox_store.image("busybox:latest").config.architecture
    raw = subprocess.run([skopeo, "inspect", "--raw", "--tls-verify=false", f"docker://{name}"], capture_output=True)
    assert json.loads(raw.stdout)["mediaType"] == result.media_type


def test_docker_push_then_layerlab_pull(docker, registry, busybox_store, tmp_path, unique, cli):
    archive = io.BytesIO()
    name = f"{registry.host}/{unique}/from-docker:1"
    write_docker_archive([(busybox_store.image("busybox:latest"), [name])], archive)
    docker.run("load", input=archive.getvalue())
    try:
        pushed = docker.run("push", name).stdout.decode()
        docker_digest = next(line.split("digest: ")[1].split()[0] for line in pushed.splitlines() if "digest: " in line)
        docker_id = json.loads(docker.run("image", "inspect", name).stdout)[0]["Id"]
    finally:
        docker.run("rmi", "-f", name, check=False)
    pulled = cli("pull", name)
    assert pulled.code == 0, pulled.err
    assert f"Digest: {docker_digest}" in pulled.out
    listing = cli("images", "--digests", "--no-trunc", "--format", "{{.ID}} {{.Digest}}")
    assert f"{docker_id} {docker_digest}" in listing.out.splitlines()
    # The pulled layers are docker's gzip blobs and unpack to the same diff IDs.
    fresh = Store.open(tmp_path / "fresh")
    image = pull(name, fresh)
    assert str(image.id) == docker_id
    assert [str(layer.diff_id) for layer in image.layers()] == image.config.data["rootfs"]["diff_ids"]

    # ... and a build stands on it.
    from layerlab.engine.builder.executor import BuildRequest, build
    from layerlab.engine.events import EventList

    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {name}\nCOPY note.txt /note.txt\n")
    (context / "note.txt").write_text("built on a pulled base\n")
    built = build(BuildRequest(context_dir=context, tags=[f"{unique}-app:1"]), fresh, EventList())
    result = fresh.image(built.image_id)
    assert [layer.diff_id for layer in result.layers()][:-1] == [layer.diff_id for layer in image.layers()]
