"""Against a real Docker engine: IDs, sizes, config bytes and history as dockerd has them."""

from __future__ import annotations

import json
import os
import secrets
import tarfile
from pathlib import Path

import pytest

from layerlab.engine.oci import mediatypes as mt
from layerlab.engine.oci.canonical import docker_json
from layerlab.engine.oci.config import ImageConfig
from layerlab.engine.oci.digest import Digest
from tests.store.images import MemoryImage, MemoryLayer

pytestmark = pytest.mark.peers

DOCKERFILE = """FROM scratch
COPY a.txt /a.txt
LABEL note="<tag> & more"
COPY dir /dir
ENV GREETING=hello
"""


def read_docker_archive(path: Path) -> MemoryImage:
    """Just enough of docker-archive for this test: one image, uncompressed layers."""
    with tarfile.open(path) as archive:
        [entry] = json.load(archive.extractfile("manifest.json"))
        config = ImageConfig.parse(archive.extractfile(entry["Config"]).read())
        layers = []
        for name in entry["Layers"]:
            blob = archive.extractfile(name).read()
            layers.append(MemoryLayer(blob, Digest.of_bytes(blob), mt.DOCKER_LAYER_TAR))
    image = MemoryImage(config, layers, manifest_media_type=mt.DOCKER_MANIFEST)
    return image


@pytest.fixture
def docker_image(docker, tmp_path):
    context = tmp_path / "context"
    (context / "dir" / "sub").mkdir(parents=True)
    (context / "a.txt").write_bytes(b"a" * 1234)
    (context / "dir" / "sub" / "b.bin").write_bytes(os.urandom(4321))
    os.symlink("sub/b.bin", context / "dir" / "link")
    (context / "Dockerfile").write_text(DOCKERFILE)
    name = f"layerlab-store-test:{secrets.token_hex(4)}"
    docker.run("build", "-q", "-t", name, str(context))
    archive = tmp_path / "image.tar"
    docker.run("save", "-o", str(archive), name)
    inspect = json.loads(docker.run("image", "inspect", name).stdout)[0]
    history = docker.run("history", "--no-trunc", "--format", "{{.Size}}", name).stdout.decode().split()
    yield read_docker_archive(archive), inspect, history
    docker.run("rmi", "-f", name, check=False)


def test_store_agrees_with_docker(store, docker_image):
    source, inspect, history = docker_image
    stored = store.put_image(source, tags=["fromdocker"])
    assert str(stored.id) == inspect["Id"]
    assert [str(d) for d in stored.config.diff_ids] == inspect["RootFS"]["Layers"]
    [record] = store.images()
    assert record.size == inspect["Size"]  # docker's SIZE: file contents (1234 + 4321 + len("sub/b.bin"))
    assert record.labels == {"note": "<tag> & more"} == inspect["Config"]["Labels"]
    assert stored.config.config.env_dict["GREETING"] == "hello"
    # history: one entry per docker history row, empty_layer where docker shows 0B for a metadata step
    entries = stored.config.history
    assert len(entries) == len(history)
    assert [e.empty_layer for e in reversed(entries)] == [size == "0B" for size in history]
    assert store.fsck() == []


def test_configs_from_docker_reencode_byte_for_byte(docker_image):
    source, inspect, _ = docker_image
    raw = source.config_bytes()
    assert b"\\u003ctag\\u003e \\u0026 more" in raw  # Go's escapes, as dockerd wrote them
    assert docker_json(json.loads(raw), sort_keys=False) == raw


def test_snapshot_of_a_docker_image(store, docker_image):
    source, _, _ = docker_image
    rootfs = store.merged_tree(store.put_image(source))
    assert (rootfs / "a.txt").read_bytes() == b"a" * 1234
    assert os.readlink(rootfs / "dir" / "link") == "sub/b.bin"
    assert (rootfs / "dir" / "sub" / "b.bin").stat().st_size == 4321
