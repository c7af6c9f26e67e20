"""Round trips with the real Docker engine, skopeo and umoci."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path

import pytest

from layerlab.engine.store import Store
from tests.peers import need_program

pytestmark = pytest.mark.peers


@pytest.fixture
def store(root: Path):
    with Store.open(root) as opened:
        yield opened


@pytest.fixture
def docker_busybox(docker, cli, tmp_path: Path):
    """A busybox image inside docker, made offline: our bootstrap image, docker-loaded under a unique tag."""
    busybox = need_program("busybox")
    tag = f"layerlab-interop-{uuid.uuid4().hex[:8]}:latest"
    assert cli("bootstrap", "busybox", tag, "--busybox", busybox).code == 0
    archive = tmp_path / "boot.tar"
    assert cli("save", "-o", str(archive), tag).code == 0
    cli("rmi", tag)
    docker.run("load", "-i", str(archive))
    made = [tag]
    yield tag, made
    for name in made:
        docker.run("rmi", "-f", name, check=False)


def docker_ids(docker, tag: str) -> tuple[str, list[str]]:
    data = json.loads(docker.run("image", "inspect", tag).stdout)[0]
    return data["Id"], data["RootFS"]["Layers"]


@pytest.mark.parametrize("fmt", ["docker", "docker-oci"])
def test_docker_save_load_save_docker_load_run(docker, docker_busybox, cli, store, tmp_path: Path, fmt) -> None:
    tag, made = docker_busybox
    docker_id, docker_layers = docker_ids(docker, tag)
    saved = tmp_path / "docker.tar"
    docker.run("save", "-o", str(saved), tag)
    loaded = cli("load", "-i", str(saved))
    assert loaded.code == 0 and loaded.out.strip() == f"Loaded image: {tag}"
    ours = store.image(tag)
    assert str(ours.id) == docker_id and [str(l.diff_id) for l in ours.layers()] == docker_layers
    ours_tar = tmp_path / "ours.tar"
    assert cli("save", "--format", fmt, "-o", str(ours_tar), tag).code == 0
    back_tag = f"{tag.split(':')[0]}-back:{fmt}"
    made.append(back_tag)
    docker.run("rmi", tag)
    docker.run("load", "-i", str(ours_tar))
    docker.run("tag", tag, back_tag)
    assert docker_ids(docker, back_tag) == (docker_id, docker_layers)
    ran = docker.run("run", "--rm", "--network", "none", back_tag, "echo", "hi")
    assert ran.stdout == b"hi\n"
    # and once more through us: still the same digests
    again = tmp_path / "again.tar"
    docker.run("save", "-o", str(again), back_tag)
    assert cli("load", "-i", str(again)).code == 0
    assert str(store.image(back_tag).id) == docker_id


def test_multi_layer_docker_image_loads_with_same_id(docker, docker_busybox, cli, store, tmp_path: Path) -> None:
    base, made = docker_busybox
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "one.txt").write_text("one\n")
    (context / "two.txt").write_text("two\n")
    (context / "Dockerfile").write_text(
        f"FROM {base}\nCOPY one.txt /one.txt\nRUN echo built > /built\nCOPY two.txt /two.txt\nENV X=1\n")
    tag = f"{base.split(':')[0]}-multi:1"
    made.append(tag)
    docker.run("build", "--network", "none", "-q", "-t", tag, str(context))
    docker_id, docker_layers = docker_ids(docker, tag)
    assert len(docker_layers) == 4
    saved = tmp_path / "multi.tar"
    docker.run("save", "-o", str(saved), tag)
    assert cli("load", "-i", str(saved)).code == 0
    ours = store.image(tag)
    assert str(ours.id) == docker_id and [str(l.diff_id) for l in ours.layers()] == docker_layers
    history = cli("history", "-q", tag).out.split()
    assert len(history) == len(json.loads(ours.config.raw)["history"])
    # SIZE columns as Docker prints them: file contents, not tar lengths
    sizes = "--format", "{{.Size}}"
    assert cli("history", *sizes, tag).out.split() == docker.run("history", *sizes, tag).stdout.decode().split()
    assert (cli("images", *sizes, tag).out.split()
            == docker.run("images", *sizes, tag).stdout.decode().split())


def test_skopeo_and_umoci_accept_our_oci_layout(cli, store, tmp_path: Path) -> None:
    skopeo = need_program("skopeo")
    busybox = need_program("busybox")
    assert cli("bootstrap", "busybox", "busybox:interop", "--busybox", busybox).code == 0
    layout = tmp_path / "layout"
    assert cli("save", "--format", "oci", "-o", str(layout), "busybox:interop").code == 0
    inspected = subprocess.run([skopeo, "inspect", f"oci:{layout}:interop"], capture_output=True)
    assert inspected.returncode == 0, inspected.stderr.decode()
    data = json.loads(inspected.stdout)
    image = store.image("busybox:interop")
    assert data["Layers"] == [str(l.digest) for l in image.layers()]
    config = subprocess.run([skopeo, "inspect", "--config", f"oci:{layout}:interop"], capture_output=True)
    assert json.loads(config.stdout)["rootfs"]["diff_ids"] == [str(l.diff_id) for l in image.layers()]
    umoci = need_program("umoci")
    listed = subprocess.run([umoci, "ls", "--layout", str(layout)], capture_output=True)
    assert listed.returncode == 0 and listed.stdout.decode().split() == ["interop"], listed.stderr
    if os.geteuid() == 0:
        bundle = tmp_path / "bundle"
        unpacked = subprocess.run([umoci, "unpack", "--image", f"{layout}:interop", str(bundle)], capture_output=True)
        assert unpacked.returncode == 0, unpacked.stderr.decode()
        assert (bundle / "rootfs" / "bin" / "busybox").is_file()
        assert os.readlink(bundle / "rootfs" / "bin" / "sh") == "busybox"
