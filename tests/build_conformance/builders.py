"""The two builders the suite compares, behind one small shape: build, then save for reading.

``DockerBuilder`` drives the classic builder (``DOCKER_BUILDKIT=0``) of a
shared dockerd; ``LayerlabBuilder`` drives ``layerlab`` in-process on one
store root. Both return the build's step pattern keyed by Dockerfile line.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.build_conformance.harness import StepLine, buildkit_pattern, docker_pattern, layer_steps, layerlab_pattern


@dataclass
class Built:
    pattern: dict[int, str]
    output: str
    events: list[dict] = field(default_factory=list)


class BuildFailure(AssertionError):
    def __init__(self, message: str, events: list[dict] | None = None, error: str = ""):
        super().__init__(message)
        self.events = events or []
        self.error = error


def run_layerlab(root: Path, *args: str) -> tuple[int, str, str]:
    """``layerlab --root ROOT ARGS…`` in this process: (exit code, stdout, stderr)."""
    from layerlab.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        try:
            code = main(["--root", str(root), *args])
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 2
    finally:
        sys.stdout, sys.stderr = old
    return code, out.getvalue(), err.getvalue()


def _build_flags(dockerfile: str, args: dict[str, str], target: str | None, tag: str) -> list[str]:
    flags = ["-t", tag, "-f", dockerfile]
    flags += [f"--build-arg={key}={value}" for key, value in args.items()]
    if target:
        flags += ["--target", target]
    return flags


BUILDKIT_DOCKER = "/usr/bin/docker"   # the docker.io package's client: a newer one on PATH wants buildx


class DockerBuilder:
    """The classic builder, or with ``buildkit`` BuildKit through the docker.io package's own client."""

    def __init__(self, docker, label: str, *, buildkit: bool = False) -> None:
        self.buildkit = buildkit
        self.docker = docker
        self.label = label  # every image built on the session base inherits it
        self.tags: list[str] = []  # what this session built, FROM scratch stages (no label) included

    def build(self, context: Path, dockerfile: str, args: dict[str, str], target: str | None, tag: str,
              steps: list[StepLine]) -> Built:
        flags = _build_flags(str(context / dockerfile), args, target, tag)
        self.tags.append(tag)
        if self.buildkit:
            self._refuse_missing_bases((context / dockerfile).read_text())
            env = dict(os.environ, DOCKER_BUILDKIT="1")
            result = subprocess.run([BUILDKIT_DOCKER, "build", "--progress=plain", "--network", "none", *flags,
                                     str(context)], capture_output=True, env=env)
            output = result.stderr.decode(errors="replace") + result.stdout.decode(errors="replace")
            if result.returncode != 0:
                raise BuildFailure(f"docker build (BuildKit) failed:\n{output}")
            return Built(buildkit_pattern(output, (context / dockerfile).read_text()), output)
        result = self.docker.run("build", "--network", "none", "--rm", "--force-rm", *flags, str(context),
                                 check=False)
        output = result.stdout.decode(errors="replace")
        if result.returncode != 0:
            raise BuildFailure(f"docker build failed:\n{output}\n{result.stderr.decode(errors='replace')}")
        return Built(docker_pattern(output, steps), output)

    def _refuse_missing_bases(self, dockerfile_text: str) -> None:
        """BuildKit pulls a base it does not hold: never let it reach for a registry from a test."""
        from layerlab.engine.dockerfile import load_dockerfile

        parsed = load_dockerfile(dockerfile_text, "Dockerfile")
        stages = {stage.name for stage in parsed.stages if stage.name}
        for stage in parsed.stages:
            base = stage.base_name
            if base.lower() == "scratch" or base.lower() in stages or "$" in base:
                continue
            if self.docker.run("image", "inspect", base, check=False).returncode != 0:
                raise BuildFailure(f"base {base} is not in docker; not building with BuildKit (it would pull)")

    def save(self, tag: str, archive: Path) -> Path:
        self.docker.run("save", "-o", str(archive), tag)
        return archive

    def remove_session_images(self) -> None:
        """Remove every image on the session base (children first), never anyone else's; then the images
        this session tagged, with the untagged chain under them: a stage FROM scratch carries no label,
        and left behind it would answer the next session's builds from its cache."""
        for _ in range(5):
            listed = self.docker.run("image", "ls", "-a", "-q", "--no-trunc", "--filter", f"label={self.label}",
                                     check=False).stdout.decode().split()
            if not listed:
                break
            self.docker.run("rmi", "-f", *dict.fromkeys(listed), check=False)
        for tag in self.tags:
            self.docker.run("rmi", tag, check=False)


class LayerlabBuilder:
    def __init__(self, root: Path, semantics: str = "classic") -> None:
        self.root = root
        self.semantics = semantics

    def run(self, *args: str) -> tuple[int, str, str]:
        return run_layerlab(self.root, *args)

    def build(self, context: Path, dockerfile: str, args: dict[str, str], target: str | None, tag: str,
              steps: list[StepLine]) -> Built:
        flags = _build_flags(str(context / dockerfile), args, target, tag)
        code, out, err = self.run("build", "--progress=json", "--semantics", self.semantics, *flags, str(context))
        events = []
        for line in (out + "\n" + err).splitlines():
            if line.startswith("{"):
                try:
                    events.append(json.loads(line))
                except ValueError:
                    pass
        if code != 0:
            raise BuildFailure(f"layerlab build failed ({code}):\n{err.strip()[-3000:]}", events, err.strip())
        pattern = layerlab_pattern(events, steps)
        if self.semantics == "buildkit":  # BuildKit shows no step for ENV, LABEL and the like
            shown = {line for _, lines, _ in layer_steps((context / dockerfile).read_text()) for line in lines}
            pattern = {line: letter for line, letter in pattern.items() if line in shown}
        return Built(pattern, out, events)

    def save(self, tag: str, archive: Path) -> Path:
        code, _, err = self.run("save", "-o", str(archive), tag)
        if code != 0:
            raise BuildFailure(f"layerlab save {tag} failed: {err}")
        return archive


def unique_tag(prefix: str) -> str:
    return f"layerlab-conformance-{prefix}:{uuid.uuid4().hex[:10]}"
