"""bench/distro_build.py on quick data (the busybox base): every builder, the runc floor, watch mode and the
step costs are measured, and nothing is left behind in the shared docker daemon, buildah or runc.

No timing is asserted.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.bench_peers.test_build_registry_bench import buildah_images, docker_images, inspect
from tests.peers import need_program

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.harness import Options, load_module, run_scenarios, stop_children  # noqa: E402

pytestmark = pytest.mark.timeout(400)

BUILDERS = ["layerlab build", "docker build (DOCKER_BUILDKIT=0)", "docker build (BuildKit)", "buildah bud --layers"]


def test_edit_watch_and_step_costs_are_measured_and_cleaned_up(tmp_path, docker):
    need_program("buildah")
    need_program("runc")
    need_program("busybox")
    docker_before, buildah_before = docker_images(), buildah_images()
    module = load_module(REPO / "bench" / "distro_build.py")
    try:
        found = run_scenarios(module.scenarios, Options(workdir=tmp_path, runs=1, quick=True),
                              ["distro-edit", "distro-watch-edit", "step-cost"], log=lambda line: None)
    finally:
        stop_children()
    results = {result.name: result for result in found}
    assert list(results) == ["distro-edit", "distro-watch-edit", "step-cost"]
    for result in results.values():
        assert result.status == "ok", result.reason
        for tool in result.tools:
            assert tool.status == "ok", (tool.tool, tool.reason)
            assert len(tool.seconds) == 1 and tool.seconds[0] >= 0
    edit = results["distro-edit"]
    assert [tool.tool for tool in edit.tools] == [*BUILDERS, "write the edit + runc run of the RUN"]
    assert edit.floor == "write the edit + runc run of the RUN" and edit.tools[0].vs_floor > 0
    watch = results["distro-watch-edit"]
    assert [tool.tool for tool in watch.tools] == [
        "layerlab watch: a session's first edit to image tagged (in process)",
        "layerlab watch: a later edit to image tagged (in process)", "docker build (BuildKit)"]
    assert all(tool.vs_best_peer > 0 for tool in watch.tools[:2])
    steps = [tool.tool for tool in results["step-cost"].tools]
    assert "cold: 2/8 WORKDIR /app (miss)" in steps and "edit: 6/8 COPY src/ src/ (miss)" in steps
    assert "edit: 4/8 COPY requirements.txt . (hit)" in steps
    assert any(step.startswith("cold: 1/8 FROM BASE") for step in steps)
    # Only our images were made, and they are gone; the floor's bundle and container too.
    left = inspect(docker_images() - docker_before)
    assert not [image["Id"] for image in left
                if any(tag.startswith("layerlab-bench-build") for tag in image.get("RepoTags") or [])]
    assert buildah_images() <= buildah_before
    assert not list((tmp_path / "distro-quick").glob("floor-*"))
    assert not list((tmp_path / "distro-quick").glob("root-*"))  # step-cost builds each run in a root of its own
    runc = subprocess.run(["runc", "list", "-q"], capture_output=True, text=True).stdout
    assert "layerlab-bench-floor" not in runc
    victim = tmp_path / "distro-quick" / "context" / "src" / "mod_000.py"
    assert b"EDIT_MARK" not in victim.read_bytes()
