"""Failures: a failing RUN, a missing COPY source, a build killed half-way, a bad base."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from layerlab.engine.store import Store
from tests.build.conftest import write_context
from tests.conftest import REPO


def image_ids(root) -> set[str]:
    with Store.open(root) as store:
        return {str(record.id) for record in store.images()}


def test_failing_run_names_line_command_code_and_output(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", """FROM busybox
RUN echo ok > /ok.txt
RUN echo before-failing; echo oops >&2; exit 3
RUN echo never
""")
    before = image_ids(root)
    result = cli("build", "--progress", "plain", str(context))
    assert result.code == 1
    first = result.err.splitlines()[0]
    assert first == 'layerlab: Dockerfile:3: RUN failed: "echo before-failing; echo oops >&2; exit 3" exited with code 3'
    assert "  before-failing" in result.err and "  oops" in result.err
    assert "#3 ERROR:" in result.out and "#4" not in result.out
    after = image_ids(root)
    assert len(after - before) == 1  # the first RUN only; nothing of the failed step
    assert not any(p.name.startswith("build-") for p in (root / "tmp").iterdir())


def test_missing_copy_source(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", """FROM busybox
ENV A=1
ENV B=2
ENV C=3
ENV D=4
WORKDIR /app
COPY missing.txt .
""")
    result = cli("build", str(context))
    assert result.code == 1
    assert result.err.strip() == ("layerlab: Dockerfile:7: COPY failed: file not found in build context or "
                                  "excluded by .dockerignore: stat missing.txt: file does not exist")


def test_missing_base_image(cli, root, tmp_path):
    context = write_context(tmp_path / "ctx", "FROM nothere:1\nRUN true\n")
    result = cli("build", str(context))
    assert result.code == 1 and "Dockerfile:1: FROM nothere:1: no such image in the store" in result.err


def test_killed_build_leaves_no_partial_image_and_the_next_build_succeeds(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", """FROM busybox
RUN echo started; sleep 30
RUN echo after > /after.txt
""")
    before = image_ids(root)
    env = dict(os.environ, LAYERLAB_ROOT=str(root))
    process = subprocess.Popen([sys.executable, "-m", "layerlab", "build", "--progress", "plain", str(context)],
                               cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    for line in process.stdout:
        if b"started" in line:
            break
    process.kill()
    process.wait()
    assert image_ids(root) == before
    time.sleep(0.2)
    context.joinpath("Dockerfile").write_text("FROM busybox\nRUN echo quick > /q.txt\n")
    result = cli("build", "-q", str(context))
    assert result.code == 0, result.err
    assert not any(p.name.startswith("build-") for p in (root / "tmp").iterdir())
    with Store.open(root) as store:
        # a kill mid-write may leave scratch, which fsck notes (never as an error) and gc clears
        assert [str(p) for p in store.fsck() if p.is_error] == []
        store.gc()
        assert store.fsck() == []


def test_sigterm_cleans_up(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN echo started; sleep 30\n")
    env = dict(os.environ, LAYERLAB_ROOT=str(root))
    process = subprocess.Popen([sys.executable, "-m", "layerlab", "build", "--progress", "plain", str(context)],
                               cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    for line in process.stdout:
        if b"started" in line:
            break
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) == 130
    assert not any(p.name.startswith("build-") for p in (root / "tmp").iterdir())
    with open("/proc/self/mountinfo") as mountinfo:
        assert str(root) not in mountinfo.read()


def test_a_bad_line_late_in_the_file_is_refused_before_any_step_runs(cli, root, base, tmp_path):
    padding = "".join(f"# {n}\n" for n in range(4, 9))
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN touch /ran\nRUN sleep 30\n" + padding
                            + "EXPOSE 8080 70000/tcp\n")
    before = image_ids(root)
    result = cli("build", "--progress", "plain", str(context))
    assert result.code != 0
    assert result.err == "layerlab: Dockerfile:9: EXPOSE: invalid containerPort: 70000\n"
    assert "#2" not in result.out and image_ids(root) == before
