"""Against a real Docker engine: our tars are taken as-is, Docker's layers apply to what it exports."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import tarfile
import uuid
from pathlib import Path

import pytest

from layerlab.engine.layers.apply import apply_layer
from layerlab.engine.layers.write import write_layer_from_dir
from tests.layers.helpers import tree
from tests.peers import need_program

pytestmark = pytest.mark.peers

# files Docker itself puts in every container: not part of any layer
_CONTAINER_ONLY = {".dockerenv", "etc/hosts", "etc/hostname", "etc/resolv.conf", "etc/mtab", "dev", "proc", "sys"}


def _without_runtime_files(listing: dict[str, tuple]) -> dict[str, tuple]:
    return {path: row for path, row in listing.items()
            if path not in _CONTAINER_ONLY and not path.startswith(("dev/", "proc/", "sys/"))}


def _base_rootfs(root: Path) -> None:
    for directory in ("bin", "etc", "var/db", "usr/share/doc", "tmp"):
        (root / directory).mkdir(parents=True)
    shutil.copy2(need_program("busybox"), root / "bin/busybox")
    (root / "bin/sh").symlink_to("busybox")
    (root / "etc/keep").write_bytes(b"kept\n")
    (root / "etc/drop").write_bytes(b"dropped\n")
    (root / "var/db/a").write_bytes(b"a")
    (root / "var/db/b").write_bytes(b"b")
    (root / "usr/share/doc/readme").write_bytes(b"doc")


def test_docker_takes_our_tar_and_its_layers_apply_to_its_export(docker, tmp_path: Path):
    base_root, out = tmp_path / "base", tmp_path / "out"
    _base_rootfs(base_root)
    base_tar = io.BytesIO()
    base_blob = write_layer_from_dir(base_root, base_tar)
    tag = f"layerlab-test-layers-{uuid.uuid4().hex[:12]}"
    docker.run("import", "-", f"{tag}:base", input=base_tar.getvalue())
    container = None
    try:
        config = json.loads(docker.run("image", "inspect", f"{tag}:base").stdout)[0]
        assert config["RootFS"]["Layers"] == [str(base_blob.diff_id)]  # Docker agrees on the diff ID

        context = tmp_path / "context"
        context.mkdir()
        (context / "Dockerfile").write_text(
            f"FROM {tag}:base\n"
            "RUN rm /etc/drop && rm -rf /usr/share/doc && rm -rf /var/db && mkdir /var/db"
            " && echo new > /var/db/new && echo changed > /etc/keep && chmod 4711 /etc/keep\n"
        )
        docker.run("build", "-q", "-t", f"{tag}:top", str(context))
        saved = tmp_path / "saved.tar"
        docker.run("save", "-o", str(saved), f"{tag}:top")
        with tarfile.open(saved) as archive:
            manifest = json.load(archive.extractfile("manifest.json"))
            layer_names = manifest[0]["Layers"]
            assert archive.extractfile(layer_names[0]).read() == base_tar.getvalue()
            for name in layer_names:
                stats = apply_layer(archive.extractfile(name), out)
                assert stats.diff_id is not None

        container = docker.run("create", f"{tag}:top", "/bin/sh").stdout.decode().strip()
        exported = tmp_path / "exported"
        exported.mkdir()
        export = subprocess.run(["docker", "export", container], capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-p", "-C", str(exported)], input=export, check=True)
        assert _without_runtime_files(tree(out)) == _without_runtime_files(tree(exported))
        assert not (out / "etc/drop").exists() and not (out / "usr/share/doc").exists()
        assert sorted(p.name for p in (out / "var/db").iterdir()) == ["new"]
    finally:
        if container:
            docker.run("rm", "-f", container, check=False)
        docker.run("rmi", "-f", f"{tag}:top", f"{tag}:base", check=False)
