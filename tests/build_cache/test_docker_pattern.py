"""The same edits, replayed against Docker's classic builder: same hits, same misses.

Builds a small context with `docker build` (DOCKER_BUILDKIT=0) on a base
imported from the static busybox, applies a series of edits, and checks
that the step loop over our keys and records sees exactly Docker's pattern.
"""

from __future__ import annotations

import io
import os
import re
import tarfile
from pathlib import Path

import pytest

from layerlab.engine.builder.cache_records import CacheRecords
from tests.build_cache.builder_sim import build
from tests.peers import need_program

pytestmark = pytest.mark.peers

BASE = "layerlab-test/busybox-base:cache"
STEPS = """
ARG VERSION=1.0
COPY requirements.txt /app/
RUN echo installing
COPY src /app/src
RUN echo making
ENV MODE=prod
"""


def ignored(rel: str) -> bool:
    return rel.endswith(".log")


def import_base(docker) -> None:
    busybox = need_program("busybox")
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(busybox, arcname="bin/busybox")
        link = tarfile.TarInfo("bin/sh")
        link.type, link.linkname = tarfile.SYMTYPE, "busybox"
        tar.addfile(link)
        for name in ("tmp", "app"):
            folder = tarfile.TarInfo(name)
            folder.type, folder.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(folder)
    docker.run("import", "-", BASE, input=buffer.getvalue())


def docker_pattern(docker, ctx: Path, *args: str) -> str:
    output = docker.run("build", "--rm", "--force-rm", *args, str(ctx)).stdout.decode()
    chunks = re.split(r"^Step \d+/\d+ : ", output, flags=re.M)[2:]  # drop the preamble and FROM
    return "".join("H" if "Using cache" in chunk else "M" for chunk in chunks)


@pytest.fixture
def series(docker, tmp_path):
    import_base(docker)
    ctx = tmp_path / "ctx"
    (ctx / "src").mkdir(parents=True)
    (ctx / "requirements.txt").write_text("flask\n")
    (ctx / "src" / "app.py").write_text("print('hi')\n")
    (ctx / "src" / "run.sh").write_text("#!/bin/sh\n")
    (ctx / "src" / "debug.log").write_text("log\n")
    (ctx / ".dockerignore").write_text("**/*.log\n")
    (ctx / "Dockerfile").write_text(f"FROM {BASE}\n" + STEPS.strip() + "\n")
    for path in [ctx, *ctx.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    return ctx, tmp_path


def test_edits_hit_and_miss_as_in_docker(docker, series):
    ctx, tmp_path = series
    # a fresh layer of Docker images for this context: a unique line busts Docker's old cache
    (ctx / "requirements.txt").write_text(f"flask\n# {os.getpid()} {tmp_path.name}\n")
    edits = [
        ("first", lambda: None, {}),
        ("unchanged", lambda: None, {}),
        ("touch", lambda: os.utime(ctx / "src" / "app.py", ns=(10**9, 10**9)), {}),
        ("ignored file", lambda: (ctx / "src" / "debug.log").write_text("more log\n"), {}),
        ("content", lambda: (ctx / "src" / "app.py").write_text("print('hello')\n"), {}),
        ("mode", lambda: (ctx / "src" / "run.sh").chmod(0o755), {}),
        ("arg", lambda: None, {"VERSION": "1.1"}),
        ("owner", lambda: os.chown(ctx / "src" / "app.py", 1000, 1000) if os.geteuid() == 0 else None,
         {"VERSION": "1.1"}),
    ]
    seen = []
    with CacheRecords(tmp_path / "root") as records:
        for name, edit, build_args in edits:
            edit()
            flags = [f"--build-arg={k}={v}" for k, v in build_args.items()]
            expected = docker_pattern(docker, ctx, *flags)
            # docker's client sends every file as 0:0, hence owner="root" here
            ours = build(ctx, STEPS, records, build_args=build_args, excluder=ignored, owner="root").pattern
            seen.append((name, expected))
            assert ours == expected, f"after the {name!r} edit docker says {expected}, we say {ours}"
    assert seen == [("first", "MMMMMM"), ("unchanged", "HHHHHH"), ("touch", "HHHHHH"), ("ignored file", "HHHHHH"),
                    ("content", "HHHMMM"), ("mode", "HHHMMM"), ("arg", "HHMMMM"), ("owner", "HHHHHH")]
