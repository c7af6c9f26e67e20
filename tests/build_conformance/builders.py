"""The two builders the suite compares, behind one small shape: build, then save for reading.

``DockerBuilder`` drives the classic builder (``DOCKER_BUILDKIT=0``) of a
shared dockerd; ``LayerlabBuilder`` drives ``layerlab`` in-process on one
store root. Both return the build's step pattern keyed by Dockerfile line.
"""

from __future__ import annotations

import io
import json
import sys
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.build_conformance.harness import StepLine, docker_pattern, layerlab_pattern


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


class DockerBuilder:
    def __init__(self, docker, label: str) -> None:
        self.docker = docker
        self.label = label  # every image built on the session base inherits it
        self.tags: list[str] = []  # what this session built, FROM scratch stages (no label) included

    def build(self, context: Path, dockerfile: str, args: dict[str, str], target: str | None, tag: str,
              steps: list[StepLine]) -> Built:
        flags = _build_flags(str(context / dockerfile), args, target, tag)
        self.tags.append(tag)
        result = self.docker.run("build", "--network", "none", "--rm", "--force-rm", *flags, str(context),
                                 check=False)
        output = result.stdout.decode(errors="replace")
        if result.returncode != 0:
            raise BuildFailure(f"docker build failed:\n{output}\n{result.stderr.decode(errors='replace')}")
        return Built(docker_pattern(output, steps), output)

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
    def __init__(self, root: Path) -> None:
        self.root = root

    def run(self, *args: str) -> tuple[int, str, str]:
        return run_layerlab(self.root, *args)

    def build(self, context: Path, dockerfile: str, args: dict[str, str], target: str | None, tag: str,
              steps: list[StepLine]) -> Built:
        flags = _build_flags(str(context / dockerfile), args, target, tag)
        code, out, err = self.run("build", "--progress=json", *flags, str(context))
        events = []
        for line in (out + "\n" + err).splitlines():
            if line.startswith("{"):
                try:
                    events.append(json.loads(line))
                except ValueError:
                    pass
        if code != 0:
            raise BuildFailure(f"layerlab build failed ({code}):\n{err.strip()[-3000:]}", events, err.strip())
        return Built(layerlab_pattern(events, steps), out, events)

    def save(self, tag: str, archive: Path) -> Path:
        code, _, err = self.run("save", "-o", str(archive), tag)
        if code != 0:
            raise BuildFailure(f"layerlab save {tag} failed: {err}")
        return archive


def unique_tag(prefix: str) -> str:
    return f"layerlab-conformance-{prefix}:{uuid.uuid4().hex[:10]}"
