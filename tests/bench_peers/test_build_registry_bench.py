"""bench/build.py and bench/registry.py on quick data: every tool measured, and nothing left behind.

The docker daemon and buildah's storage are shared, so the benchmarks must
remove exactly what they made. No timing is asserted.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.peers import need_program

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.harness import Options, load_module, run_scenarios, stop_children  # noqa: E402

pytestmark = pytest.mark.timeout(300)


def run_quick(script: str, workdir: Path) -> dict:
    module = load_module(REPO / "bench" / script)
    try:
        results = run_scenarios(module.scenarios, Options(workdir=workdir, runs=1, quick=True), log=lambda line: None)
    finally:
        stop_children()
    return {result.name: result for result in results}


def docker_images() -> set[str]:
    return set(subprocess.run(["docker", "images", "-a", "-q", "--no-trunc"], capture_output=True, text=True,
                              check=True).stdout.split())


def buildah_images() -> set[str]:
    return set(subprocess.run(["buildah", "images", "-a", "-q", "--no-trunc"], capture_output=True, text=True,
                              check=True).stdout.split())


def inspect(images: set[str]) -> list[dict]:
    if not images:
        return []
    shown = subprocess.run(["docker", "image", "inspect", *images], capture_output=True, text=True)
    return json.loads(shown.stdout or "[]")  # an image another process removed meanwhile is just absent


def assert_all_measured(result, tools: list[str]) -> None:
    assert result.status == "ok", result.reason
    assert [tool.tool for tool in result.tools] == tools
    for tool in result.tools:
        assert tool.status == "ok", (tool.tool, tool.reason)
        assert len(tool.seconds) == 1 and tool.seconds[0] > 0
        if tool.role == "layerlab":
            assert tool.peak_rss_bytes > 1_000_000
    ours = result.tools[0]
    assert ours.vs_best_peer == pytest.approx(ours.median / min(t.median for t in result.tools if t.role == "peer"))


def test_builds_are_measured_against_docker_and_buildah_and_cleaned_up(tmp_path, docker):
    need_program("buildah")
    docker_before, buildah_before = docker_images(), buildah_images()
    results = run_quick("build.py", tmp_path)
    assert list(results) == ["build-cold", "build-noop", "build-one-file"]
    for result in results.values():
        assert result.data["files"] == 1002 and result.data["bytes"] > 9_000_000
        assert_all_measured(result, ["layerlab build", "docker build (DOCKER_BUILDKIT=0)", "buildah bud --layers"])
    # Neither the built images nor their COPY/RUN step images, nor the base tags, stay behind.
    left = inspect(docker_images() - docker_before)
    assert not [image["Id"] for image in left
                if "/ctx" in json.dumps(image.get("ContainerConfig", {}).get("Cmd"))
                or any(tag.startswith("layerlab-bench-build") for tag in image.get("RepoTags") or [])]
    assert buildah_images() <= buildah_before
    # The generated context was restored after the one-file edits, then removed with the work dir's data.
    context = tmp_path / "build-1000-10" / "context"
    assert not list((tmp_path / "build-1000-10").glob("root-*"))  # the warm root and every cold run's own
    assert b"edit " not in (context / "d000" / "f00.bin").read_bytes()


def test_push_and_pull_are_measured_against_skopeo_and_docker_and_cleaned_up(tmp_path, docker):
    need_program("skopeo")
    need_program("docker-registry")
    before = docker_images()
    results = run_quick("registry.py", tmp_path)
    assert list(results) == ["push", "pull"]
    assert_all_measured(results["push"], ["layerlab push (gzip layers stored)", "layerlab push (compress first)",
                                          "skopeo copy oci: docker://", "docker push"])
    assert_all_measured(results["pull"], ["layerlab pull", "skopeo copy docker:// oci:", "docker pull"])
    assert results["push"].data["layers"] == 10 and results["push"].data["layer_bytes"] >= 20_000_000
    left = inspect(docker_images() - before)
    assert not [tag for image in left for tag in image.get("RepoTags") or []
                if "layerlab-bench-registry" in tag or "/bench/registry:" in tag]
    # No registry is left running or stored.
    assert not list((tmp_path / "registry-20").glob("registries/*"))
    running = subprocess.run(["pgrep", "-af", "docker-registry serve"], capture_output=True, text=True).stdout
    assert str(tmp_path) not in running
