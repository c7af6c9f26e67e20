"""Docker's classic builder and ``layerlab build``, side by side, case by case.

Each case (see ``harness.py``) is built by both after every edit of its
script; the cache patterns must agree at every build, and after the first
and the last build the images must agree: files (path, type, mode, owner,
content, link target), config, layer and history counts, CREATED BY strings
and empty_layer flags. A case whose differences are known bugs carries
``xfail = reason`` in its ``case`` file, strictly: fixing the bug flips it.
"""

from __future__ import annotations

import pytest

from tests.build_conformance.builders import BuildFailure, unique_tag
from tests.build_conformance.harness import (
    Case, all_cases, apply_edit, differences, letters, read_archive, stage_context, step_lines,
)

pytestmark = pytest.mark.peers


def build_command_missing() -> str | None:
    """Why every case must fail for now, when ``layerlab build`` is not a command yet."""
    from layerlab.cli.command_table import BY_NAME

    return None if "build" in BY_NAME else "layerlab build is not a command yet"


SEMANTICS = ("classic", "buildkit")


def _params(failing: bool = False):
    missing = build_command_missing()
    for case in all_cases():
        if (case.fails is not None) != failing:
            continue
        for semantics in SEMANTICS:
            reason = missing or (case.buildkit_xfail if semantics == "buildkit" else case.xfail)
            marks = [pytest.mark.xfail(strict=True, reason=reason)] if reason else []
            yield pytest.param(case, semantics, id=f"{case.name}-{semantics}", marks=marks)


def _compare_images(docker, ours, case: Case, tags: tuple[str, str], tmp_path, when: str) -> list[str]:
    docker_view = read_archive(docker.save(tags[0], tmp_path / f"docker-{when}.tar"))
    our_view = read_archive(ours.save(tags[1], tmp_path / f"layerlab-{when}.tar"))
    found = differences(docker_view, our_view, history=case.docker_dockerfile is None)
    return [f"[{when}] {line}" for line in found]


@pytest.mark.parametrize(("case", "semantics"), list(_params()))
def test_case_matches_docker(conformance, case: Case, semantics: str, tmp_path) -> None:
    """Under ``classic`` against the classic builder; under ``buildkit`` (``build --semantics buildkit``)
    against BuildKit, where only RUN/COPY/ADD/WORKDIR show in the cache pattern."""
    docker_builder, our_builder = conformance.builders(semantics)
    context = stage_context(case, tmp_path / "context", conformance.case_base(case.name))
    docker_file = case.docker_dockerfile or case.dockerfile
    build_args = {**conformance.build_args, **case.args}
    tags = unique_tag(f"{case.name}-{semantics}-docker"), unique_tag(f"{case.name}-{semantics}-ours")
    found: list[str] = []
    builds = [edit for edit in case.edits if edit.builds]
    ours_failed = False
    for number, edit in enumerate(case.edits):
        apply_edit(edit, context, build_args)
        if not edit.builds:
            continue
        docker_steps = step_lines((context / docker_file).read_text())
        our_steps = step_lines((context / case.dockerfile).read_text())
        docker = docker_builder.build(context, docker_file, build_args, case.target, tags[0], docker_steps)
        if edit.expect is not None and semantics == "classic":
            assert letters(docker.pattern) == edit.expect, f"docker itself, after {edit.line!r}: {docker.output}"
        if ours_failed:
            continue  # docker's side still runs, so its pinned patterns are checked
        try:
            ours = our_builder.build(context, case.dockerfile, build_args, case.target, tags[1], our_steps)
        except BuildFailure as failure:
            found.append(f"after {edit.line!r}: {failure}")
            ours_failed = True
            continue
        if case.docker_dockerfile is None:
            extra = sorted(set(ours.pattern) - set(docker.pattern))
            if extra:
                found.append(f"after {edit.line!r}: layerlab ran steps docker did not, lines {extra}")
            missing = sorted(set(docker.pattern) - set(ours.pattern))
            if missing:
                found.append(f"after {edit.line!r}: docker ran steps layerlab did not, lines {missing}")
            shared = sorted(set(ours.pattern) & set(docker.pattern))
            theirs = "".join(docker.pattern[line] for line in shared)
            mine = "".join(ours.pattern[line] for line in shared)
            if theirs != mine:
                found.append(f"after {edit.line!r}: cache pattern docker {theirs} / layerlab {mine} (lines {shared})")
        if edit is builds[0] or edit is builds[-1]:
            found += _compare_images(docker_builder, our_builder, case, tags, tmp_path,
                                     "first" if edit is builds[0] else "last")
    assert not found, f"{case.name}: layerlab differs from docker:\n" + "\n".join(found)


@pytest.mark.parametrize(("case", "semantics"), list(_params(failing=True)))
def test_refused_case_is_refused_like_docker(conformance, case: Case, semantics: str, tmp_path) -> None:
    """Docker refuses the Dockerfile too (each builder); layerlab refuses it before any step runs,
    naming the line."""
    docker_builder, our_builder = conformance.builders(semantics)
    context = stage_context(case, tmp_path / "context", conformance.case_base(case.name))
    steps = step_lines((context / case.dockerfile).read_text())
    tags = unique_tag(f"{case.name}-{semantics}-docker"), unique_tag(f"{case.name}-{semantics}-ours")
    build_args = {**conformance.build_args, **case.args}
    with pytest.raises(BuildFailure):
        docker_builder.build(context, case.dockerfile, build_args, case.target, tags[0], steps)
    with pytest.raises(BuildFailure) as refused:
        our_builder.build(context, case.dockerfile, build_args, case.target, tags[1], steps)
    assert case.fails in refused.value.error and refused.value.error.count("\n") == 0, refused.value.error
    ran = [event for event in refused.value.events if event.get("type") == "step.start"]
    assert ran == [], f"{case.name}: layerlab started steps before refusing: {ran}"
