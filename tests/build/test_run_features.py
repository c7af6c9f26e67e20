"""RUN mounts and network, multi-stage builds, stdin contexts, and the ``run`` command."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile

import pytest

from layerlab.engine.store import Store
from tests.build.conftest import cache_pattern, json_events, write_context
from tests.conftest import REPO


def test_secret_and_cache_and_tmpfs_mounts(cli, root, base, tmp_path):
    secret = tmp_path / "token"
    secret.write_text("hunter2")
    context = write_context(tmp_path / "ctx", """FROM busybox
RUN --mount=type=secret,id=token --mount=type=cache,target=/cache --mount=type=tmpfs,target=/scratch \\
    cat /run/secrets/token > /scratch/t && echo run >> /cache/count && wc -l < /cache/count > /runs.txt \\
    && ls /scratch > /scratch-listing.txt
""")
    first = cli("build", "-q", "--secret", f"id=token,src={secret}", str(context))
    assert first.code == 0, first.err
    again = cli("build", "-q", "--no-cache", "--secret", f"id=token,src={secret}", str(context))
    assert again.code == 0, again.err
    with Store.open(root) as store:
        image = store.image(again.out.strip())
        rootfs = store.merged_tree(image)
        assert (rootfs / "runs.txt").read_text().strip() == "2"  # the cache mount outlived the first build
        assert (rootfs / "scratch-listing.txt").read_text() == "t\n"
        assert not (rootfs / "cache").exists() or not any((rootfs / "cache").iterdir())
        with image.layers()[-1].open_uncompressed() as blob:
            data = blob.read()
        assert b"hunter2" not in data and b"run/secrets" not in data
        assert "hunter2" not in image.config.raw.decode()


def test_required_secret_missing_fails(cli, base, tmp_path):
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN --mount=type=secret,id=x,required cat /run/secrets/x\n")
    result = cli("build", str(context))
    assert result.code == 1 and "Dockerfile:2: secret x not provided" in result.err


def test_network_none_has_only_loopback(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx",
                            "FROM busybox\nRUN tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' > /ifaces\n")
    result = cli("build", "-q", "--network", "none", str(context))
    assert result.code == 0, result.err
    with Store.open(root) as store:
        assert (store.merged_tree(store.image(result.out.strip())) / "ifaces").read_text() == "lo\n"


MULTISTAGE = """FROM busybox AS builder
RUN echo compiled > /artifact
FROM busybox AS unused
RUN echo never-built > /x
FROM busybox AS other
RUN echo other > /other
FROM busybox
COPY --from=builder /artifact /app/artifact
COPY --from=2 /other /app/other
"""


def test_multistage_target_skips_unneeded_stages_under_buildkit(cli, root, base, tmp_path):
    """BuildKit builds only the stages the target needs; the classic builder every stage up to it."""
    context = write_context(tmp_path / "ctx", MULTISTAGE)
    classic = cli("build", "--progress", "json", "-t", "classic", str(context))
    assert classic.code == 0, classic.err
    assert "RUN echo never-built > /x" in {e["instruction"] for e in json_events(classic.out)
                                            if e["type"] == "step.start"}
    result = cli("build", "--semantics", "buildkit", "--progress", "json", "-t", "final", str(context))
    assert result.code == 0, result.err
    started = {e["instruction"] for e in json_events(result.out) if e["type"] == "step.start"}
    assert "RUN echo never-built > /x" not in started
    assert "RUN echo compiled > /artifact" in started and "RUN echo other > /other" in started
    with Store.open(root) as store:
        rootfs = store.merged_tree(store.image("final"))
        assert (rootfs / "app" / "artifact").read_text() == "compiled\n"
        assert (rootfs / "app" / "other").read_text() == "other\n"
        assert not (rootfs / "x").exists()
    target = cli("build", "--semantics", "buildkit", "--progress", "json", "--target", "builder", "-t", "b",
                 str(context))
    assert target.code == 0
    assert cache_pattern(target.out) == "H"
    with Store.open(root) as store:
        assert (store.merged_tree(store.image("b")) / "artifact").exists()
    unknown = cli("build", "--target", "nope", str(context))
    assert unknown.code == 1 and "failed to reach build target nope" in unknown.err


def test_no_cache_filter_rebuilds_one_stage(cli, base, tmp_path):
    context = write_context(tmp_path / "ctx", MULTISTAGE)
    assert cli("build", "-q", str(context)).code == 0
    out = cli("build", "--progress", "json", "--no-cache-filter", "other", str(context)).out
    by_step = {e["instruction"]: e["cache"] for e in json_events(out) if e["type"] == "step.cache"}
    assert by_step["RUN echo compiled > /artifact"] == "hit"
    assert by_step["RUN echo other > /other"] == "miss"


def test_context_tar_on_stdin_and_dockerfile_on_stdin(cli, root, base, tmp_path):
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as archive:
        for name, data in (("Dockerfile", b"FROM busybox\nCOPY f.txt /f.txt\n"), ("f.txt", b"from tar")):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    result = cli("build", "-q", "-", stdin=buffer.getvalue())
    assert result.code == 0, result.err
    with Store.open(root) as store:
        assert (store.merged_tree(store.image(result.out.strip())) / "f.txt").read_text() == "from tar"
    context = write_context(tmp_path / "ctx", "FROM scratch\n", {"g.txt": "from dir"})
    result = cli("build", "-q", "-f", "-", str(context), stdin=b"FROM busybox\nCOPY g.txt /g.txt\n")
    assert result.code == 0, result.err
    with Store.open(root) as store:
        assert (store.merged_tree(store.image(result.out.strip())) / "g.txt").read_text() == "from dir"


def test_iidfile_and_quiet(cli, base, tmp_path):
    context = write_context(tmp_path / "ctx", "FROM busybox\nLABEL a=b\n")
    iid = tmp_path / "iid"
    result = cli("build", "-q", "--iidfile", str(iid), str(context))
    assert result.code == 0
    assert result.out.strip() == iid.read_text() and iid.read_text().startswith("sha256:")


def test_run_command(cli, base, tmp_path):
    context = write_context(tmp_path / "ctx", """FROM busybox
ENV GREETING=hello
WORKDIR /tmp
CMD ["sh", "-c", "echo $GREETING from $(pwd) as $(id -u)"]
""")
    assert cli("build", "-q", "-t", "greeter", str(context)).code == 0
    result = cli("run", "--rm", "greeter")
    assert result.code == 0 and result.out == "hello from /tmp as 0\n"
    result = cli("run", "-e", "GREETING=hi", "-w", "/", "-u", "nobody", "greeter")
    assert result.out == "hi from / as 65534\n"
    assert cli("run", "greeter", "sh", "-c", "exit 42").code == 42
    result = cli("run", "--entrypoint", "echo", "greeter", "a", "b")
    assert result.out == "a b\n"
    assert cli("run", "greeter", "sh", "-c", "touch /written").code == 0
    assert cli("run", "greeter", "test", "-e", "/written").code == 1  # nothing is kept between runs


def test_without_f_the_context_dockerfile_is_built_even_with_one_in_the_current_directory(
        cli, root, base, tmp_path, monkeypatch):
    context = write_context(tmp_path / "ctx", "FROM busybox\nLABEL from=context\n")
    here = write_context(tmp_path / "here", "FROM busybox\nLABEL from=cwd\n")
    monkeypatch.chdir(here)
    result = cli("build", "-q", str(context))
    assert result.code == 0, result.err
    with Store.open(root) as store:
        assert store.image(result.out.strip()).config.config.labels == {"from": "context"}


def test_a_relative_f_is_read_from_the_current_directory(cli, root, base, tmp_path, monkeypatch):
    context = write_context(tmp_path / "ctx", "FROM busybox\nLABEL from=context\n")
    here = write_context(tmp_path / "here", "FROM busybox\nLABEL from=cwd\n")
    (context / "other.Dockerfile").write_text("FROM busybox\nLABEL from=context-other\n")
    (here / "other.Dockerfile").write_text("FROM busybox\nLABEL from=cwd-other\n")
    monkeypatch.chdir(here)
    result = cli("build", "-q", "-f", "other.Dockerfile", str(context))
    assert result.code == 0, result.err
    with Store.open(root) as store:
        assert store.image(result.out.strip()).config.config.labels == {"from": "cwd-other"}


def test_the_app_builds_the_context_dockerfile_not_the_current_directorys(root, base, tmp_path, monkeypatch):
    from layerlab.engine.events import discard
    from layerlab.tui.catalog import StoreCatalog

    context = write_context(tmp_path / "ctx", "FROM busybox\nLABEL from=context\n")
    monkeypatch.chdir(write_context(tmp_path / "here", "FROM busybox\nLABEL from=cwd\n"))
    with Store.open(root) as store:
        built = StoreCatalog(store, root).build(context, discard)
        assert store.image(str(built.image_id)).config.config.labels == {"from": "context"}


def test_bytes_that_are_not_utf8_pass_through_run_lines_build_args_and_labels(base, root, tmp_path):
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_bytes(b"FROM busybox\nARG A\nRUN echo caf\xe9 \"$A\" > /out\n")
    # A UTF-8 locale: Python's own streams would then refuse such bytes.
    env = dict(os.environ, LAYERLAB_ROOT=str(root), LANG="C.UTF-8", LC_ALL="C.UTF-8")
    result = subprocess.run([sys.executable, "-m", "layerlab", "build", "--network", "none", "--progress", "plain",
                             "--iidfile", str(tmp_path / "iid"), "--build-arg", os.fsdecode(b"A=\xff\xfe"),
                             "--label", os.fsdecode(b"k=\xfa"), str(context)],
                            capture_output=True, env=env, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert b"Traceback" not in result.stderr and b"caf\xe9" in result.stdout
    with Store.open(root) as store:
        image = store.image((tmp_path / "iid").read_text())
        # As Go's encoding/json writes invalid UTF-8: each bad byte becomes U+FFFD.
        assert image.config.config.labels == {"k": "\ufffd"}
        assert b'"k":"\\ufffd"' in image.config.raw


def test_a_relative_root_builds_a_run_step(cli, root, base, tmp_path, monkeypatch):
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN echo ran > /ran.txt\n")
    monkeypatch.chdir(root.parent)
    result = cli("--root", root.name, "build", "--progress", "plain", "-t", "relative:1", str(context))
    assert result.code == 0, result.err
    with Store.open(root) as store:
        assert len(store.image("relative:1").config.diff_ids) == 2   # the base and the RUN


def test_cache_mount_is_made_with_its_uid_gid_and_mode(cli, root, base, tmp_path):
    """``uid``/``gid``/``mode`` shape the cache directory when it is first made, so a USER can write."""
    if os.geteuid() != 0:
        pytest.skip("owners of a cache directory are mapped by the user namespace without root")
    context = write_context(tmp_path / "ctx", """FROM busybox
USER 1000:1001
RUN --mount=type=cache,id=owned,target=/cache,uid=1000,gid=1001,mode=0750 \\
    echo hi > /cache/x && stat -c '%u:%g %a' /cache > /tmp/cache-owner.txt
""")
    result = cli("build", "-q", str(context))
    assert result.code == 0, result.err
    with Store.open(root) as store:
        rootfs = store.merged_tree(store.image(result.out.strip()))
        assert (rootfs / "tmp" / "cache-owner.txt").read_text() == "1000:1001 750\n"
