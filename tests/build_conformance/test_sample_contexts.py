"""Every sample context builds offline with layerlab on the bootstrapped busybox, as its README says."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.build_conformance.builders import LayerlabBuilder
from tests.build_conformance.test_conformance import build_command_missing
from tests.peers import need_program

SAMPLES = Path(__file__).resolve().parents[2] / "sample_contexts"
DOCKERFILES = sorted((d.name, f.name) for d in SAMPLES.iterdir() if d.is_dir() for f in d.glob("Dockerfile*"))

not_yet = pytest.mark.xfail(bool(build_command_missing()), strict=True, reason=str(build_command_missing()))


@pytest.fixture(scope="module")
def sample_builder(tmp_path_factory) -> LayerlabBuilder:
    builder = LayerlabBuilder(tmp_path_factory.mktemp("samples") / "root")
    code, _, err = builder.run("bootstrap", "busybox", "--busybox", need_program("busybox"))
    assert code == 0, err
    return builder


def test_there_are_five_lessons():
    assert {name for name, _ in DOCKERFILES} >= {"hello", "cache-order", "multistage", "whiteouts", "args"}
    assert all((SAMPLES / name / "README.md").exists() for name, _ in DOCKERFILES)


@not_yet
@pytest.mark.parametrize("sample,dockerfile", DOCKERFILES, ids=[f"{s}/{f}" for s, f in DOCKERFILES])
def test_sample_builds_offline(sample_builder, sample, dockerfile):
    tag = f"sample-{sample}:{dockerfile.lower().replace('.', '-')}"
    code, out, err = sample_builder.run("build", "--network", "none", "-q", "-t", tag, "-f",
                                        str(SAMPLES / sample / dockerfile), str(SAMPLES / sample))
    assert code == 0, f"{sample}/{dockerfile}: {err}"
    code, _, err = sample_builder.run("inspect", tag)
    assert code == 0, err
