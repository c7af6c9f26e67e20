"""RUN --mount=type=bind sees what COPY sees and keys on it; a Dockerfile cannot widen what the command line gave."""

from __future__ import annotations

import pytest

from layerlab.engine.store import Store
from tests.build.conftest import cache_pattern, write_context

pytestmark = pytest.mark.peers


def built_file(root, image_id: str, name: str) -> str:
    with Store.open(root) as store:
        return (store.merged_tree(store.image(image_id)) / name).read_text()


def test_a_context_bind_hides_what_dockerignore_excludes(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", "FROM busybox\n"
                            "RUN --mount=type=bind,target=/ctx find /ctx | sort > /listing\n"
                            "RUN --mount=type=bind,target=/ctx,rw cp -r /ctx /copied\n",
                            {".dockerignore": ".env\nkeys\n", ".env": "PASSWORD=hunter2\n",
                             "keys/id_rsa": "PRIVATE KEY\n", "app/main.py": "print(1)\n"})
    result = cli("build", "-q", "--network", "none", str(context))
    assert result.code == 0, result.err
    listing = built_file(root, result.out.strip(), "listing").split()
    assert "/ctx/app/main.py" in listing
    assert not [path for path in listing if ".env" in path or "keys" in path]
    with Store.open(root) as store:
        copied = store.merged_tree(store.image(result.out.strip())) / "copied"
        assert (copied / "app" / "main.py").exists()
        assert not (copied / ".env").exists() and not (copied / "keys").exists()


def test_the_bytes_a_context_bind_shows_are_in_the_cache_key(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", "FROM busybox\n"
                            "RUN --mount=type=bind,source=data.txt,target=/d cat /d > /out\n",
                            {"data.txt": "one\n"})
    first = cli("build", "-q", "--network", "none", str(context))
    assert first.code == 0 and built_file(root, first.out.strip(), "out") == "one\n"
    (context / "data.txt").write_text("two\n")
    second = cli("build", "--progress", "json", "--network", "none", str(context))
    assert second.code == 0, second.err
    assert cache_pattern(second.out) == "M"
    image = cli("build", "-q", "--network", "none", str(context)).out.strip()
    assert built_file(root, image, "out") == "two\n"


def test_the_bytes_a_stage_bind_shows_are_in_the_cache_key(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", "FROM busybox AS data\nCOPY data.txt /data.txt\n"
                            "FROM busybox\n"
                            "RUN --mount=type=bind,from=data,source=/data.txt,target=/d cat /d > /out\n",
                            {"data.txt": "one\n"})
    first = cli("build", "-q", "--network", "none", str(context))
    assert first.code == 0 and built_file(root, first.out.strip(), "out") == "one\n"
    (context / "data.txt").write_text("two\n")
    second = cli("build", "-q", "--network", "none", str(context))
    assert second.code == 0, second.err
    assert built_file(root, second.out.strip(), "out") == "two\n"


def test_an_unknown_mount_key_is_an_error_at_its_line(cli, base, tmp_path):
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN true\n"
                            "RUN --mount=type=bind,target=/x,colour=blue true\n")
    result = cli("build", "--network", "none", str(context))
    assert result.code != 0
    assert "Dockerfile:3" in result.err and "colour" in result.err


@pytest.mark.parametrize("build_network, run_network", [("none", "host"), ("default", "host"), ("none", "default")])
def test_a_run_cannot_widen_the_network_without_allow(cli, base, tmp_path, build_network, run_network):
    context = write_context(tmp_path / "ctx", f"FROM busybox\nRUN --network={run_network} true\n")
    refused = cli("build", "--network", build_network, str(context))
    assert refused.code != 0
    assert "Dockerfile:2" in refused.err and "--allow network.host" in refused.err
    allowed = cli("build", "-q", "--network", build_network, "--allow", "network.host", str(context))
    assert allowed.code == 0, allowed.err


def test_a_run_may_narrow_the_network(cli, base, tmp_path):
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN --network=none true\n")
    assert cli("build", "-q", "--network", "host", str(context)).code == 0


def test_insecure_security_needs_its_grant(cli, root, base, tmp_path):
    context = write_context(tmp_path / "ctx", "FROM busybox\n"
                            "RUN --security=insecure grep CapEff /proc/self/status > /caps\n")
    refused = cli("build", "--network", "none", str(context))
    assert refused.code != 0 and "--allow security.insecure" in refused.err
    allowed = cli("build", "-q", "--network", "none", "--allow", "security.insecure", str(context))
    assert allowed.code == 0, allowed.err
    assert int(built_file(root, allowed.out.strip(), "caps").split()[1], 16) > 0xA80425FB
