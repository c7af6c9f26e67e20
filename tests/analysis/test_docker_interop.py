"""Images built and saved by a real Docker engine, analysed from `docker save` output."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
import uuid

import pytest

from layerlab.engine.analysis import analyze, waste_report
from layerlab.engine.analysis.image_sources import open_source
from tests.peers import need_program

pytestmark = pytest.mark.peers

DOCKERFILE = """\
FROM {base}
RUN mkdir -p /junk/deep && head -c 3000 /dev/zero > /junk/deep/blob && echo hi > /keep
RUN rm -rf /junk
RUN echo changed > /keep
"""


def _base_image(docker) -> str:
    busybox = need_program("busybox")
    tag = f"layerlab-analysis-base:{uuid.uuid4().hex[:8]}"
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        tar.add(busybox, arcname="bin/busybox")
        for name in ("sh", "mkdir", "head", "rm", "echo"):
            info = tarfile.TarInfo(f"bin/{name}")
            info.type, info.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(info)
        for directory in ("dev", "tmp"):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            tar.addfile(info)
    docker.run("import", "-", tag, input=out.getvalue())
    return tag


def test_docker_built_image_matches_hand_computed_waste(docker, tmp_path):
    base = _base_image(docker)
    tag = f"layerlab-analysis-test:{uuid.uuid4().hex[:8]}"
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE.format(base=base))
    try:
        docker.run("build", "-q", "-t", tag, str(context))
        saved = tmp_path / "image.tar"
        docker.run("save", "-o", str(saved), tag)
        history = json.loads(docker.run("image", "inspect", tag).stdout)[0]["RootFS"]["Layers"]
        image = open_source(f"docker-archive:{saved}", store=None)
        try:
            analysis = analyze(image.layer_sources(), base_layers=image.base_layers())
        finally:
            image.close()
        assert [source.diff_id for source in analysis.sources] == history
        assert len(history) == 4
        assert analysis.sources[2].instruction == "RUN rm -rf /junk"
        removed = [(c.code, c.path) for c in analysis.layer_changes(2)]
        assert ("D", "/junk") in removed and ("D", "/junk/deep/blob") in removed
        report = waste_report(analysis)
        # the 3000-byte blob deleted in layer 2, and the first /keep (3 bytes) rewritten in layer 3
        assert report.reclaimable_bytes == 3003
        assert report.stored_waste_by_layer[1] == 3003
        assert analysis.tree().total_size("/keep") == len("changed\n")
    finally:
        subprocess.run(["docker", "rmi", "-f", tag, base], capture_output=True)
