"""What a RUN (and ``layerlab run``) can reach: a private network by default, seccomp, no escapes."""

from __future__ import annotations

import socket

import pytest

from layerlab.engine.store import Store
from tests.build.conftest import write_context
from tests.peers import need_program
from tests.runtime.netpeers import token_service

pytestmark = pytest.mark.peers

LINKS = "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ,"


@pytest.fixture
def slirp():
    need_program("slirp4netns")


def built_file(root, image_id: str, name: str) -> str:
    with Store.open(root) as store:
        return (store.merged_tree(store.image(image_id)) / name).read_text()


def test_default_network_cannot_reach_a_service_on_the_hosts_loopback(cli, root, base, slirp, tmp_path):
    with token_service("127.0.0.1") as (port, token):
        context = write_context(tmp_path / "ctx", "FROM busybox\n"
                                f"RUN (nc -w 3 10.0.2.2 {port}; nc -w 3 127.0.0.1 {port}; echo done) > /out 2>&1\n")
        result = cli("build", "-q", str(context))
    assert result.code == 0, result.err
    out = built_file(root, result.out.strip(), "out")
    assert "done" in out and token not in out


def test_default_network_does_not_show_the_hosts_interfaces(cli, root, base, slirp, tmp_path):
    host_interfaces = {name for _, name in socket.if_nameindex()} - {"lo"}
    assert host_interfaces
    context = write_context(tmp_path / "ctx", f"FROM busybox\nRUN {LINKS} > /ifaces\n")
    result = cli("build", "-q", str(context))
    assert result.code == 0, result.err
    assert built_file(root, result.out.strip(), "ifaces") == "lo,tap0,"


def test_run_command_default_network_is_private(cli, base, slirp, capfd):
    result = cli("run", "--rm", "busybox", "sh", "-c", LINKS)
    assert result.code == 0, result.err
    assert "lo,tap0," in result.out + capfd.readouterr().out


def test_a_run_step_cannot_make_a_user_namespace(cli, base, tmp_path):
    context = write_context(tmp_path / "ctx", "FROM busybox\nRUN unshare -Urm true\n")
    result = cli("build", "-q", "--network", "none", str(context))
    assert result.code != 0
    assert "RUN failed" in result.err and "unshare -Urm true" in result.err
