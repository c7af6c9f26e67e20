"""Network modes in a real container: private (slirp4netns) by default, none, host.

Outbound reach is shown only towards a namespace the test makes itself; the
host's loopback must stay out of reach, and the host's interfaces out of sight.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from layerlab.engine.runtime import BubblewrapRuntime
from tests.peers import need_program
from tests.runtime.conftest import run_lines
from tests.runtime.netpeers import namespace_service, token_service

pytestmark = pytest.mark.peers

LINKS = "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ,; echo"


def run_script(runtime, rootfs, tmp_path, script: str, network: str) -> list[str]:
    return run_lines(runtime, rootfs, tmp_path / "ws", script, network)


@pytest.fixture(params=["runc", "bubblewrap"])
def any_runtime(request):
    need_program("slirp4netns")
    if request.param == "runc":
        return request.getfixturevalue("runc_runtime")
    need_program("bwrap")
    return BubblewrapRuntime()


def host_interfaces() -> set[str]:
    return {name for _, name in socket.if_nameindex()} - {"lo"}


def test_private_network_cannot_reach_the_hosts_loopback(any_runtime, busybox_rootfs, tmp_path):
    with token_service("127.0.0.1") as (port, token):
        # 10.0.2.2 is slirp4netns' gateway, which would map to the host's 127.0.0.1.
        lines = run_script(any_runtime, busybox_rootfs, tmp_path,
                           f"nc -w 3 10.0.2.2 {port}; nc -w 3 127.0.0.1 {port}; echo done", "private")
    assert "done" in lines
    assert not any(token in line for line in lines)


def test_private_network_shows_its_own_interfaces_not_the_hosts(any_runtime, busybox_rootfs, tmp_path):
    assert host_interfaces(), "the host has no interface besides lo to hide"
    lines = run_script(any_runtime, busybox_rootfs, tmp_path, LINKS, "private")
    assert lines[-1] == "lo,tap0,"
    assert not host_interfaces() & set(lines[-1].split(","))


def test_private_network_reaches_out(any_runtime, busybox_rootfs, tmp_path):
    with namespace_service() as (address, port, token):
        lines = run_script(any_runtime, busybox_rootfs, tmp_path, f"nc -w 5 {address} {port}", "private")
    assert token in lines


def test_no_network_is_loopback_only(any_runtime, busybox_rootfs, tmp_path):
    with namespace_service() as (address, port, token):
        lines = run_script(any_runtime, busybox_rootfs, tmp_path,
                           f"{LINKS}; nc -w 3 {address} {port}; echo done", "none")
    assert "lo," in lines and not any(line.startswith("lo,t") for line in lines)
    assert "done" in lines and not any(token in line for line in lines)


# Docker makes its data root a shared mount and mounts each container's overlay below it. A
# namespace copied from ours holds those mounts as shared peers, so an unmount there unmounts
# them here too: docker then finds an empty directory where the container's root was.
_SHARED_PARENT = r"""
set -e
mount --bind "$1" "$1"
mount --make-shared "$1"
mkdir "$1/child"
mount -t tmpfs tmpfs "$1/child"
shift
exec "$@"
"""
_START_NETWORK = """
import sys
from layerlab.engine.runtime.network import PrivateNetwork
from layerlab.engine.runtime.rootfs import is_mounted
with PrivateNetwork():
    pass
print("mounted" if is_mounted(sys.argv[1]) else "unmounted")
"""


def test_private_network_leaves_the_hosts_shared_mounts_alone(tmp_path):
    # slirp4netns' sandbox makes only / private before it detaches the old root: as real root its
    # detach reached a mount under any shared one (docker's overlay2 merged dirs).
    need_program("slirp4netns")
    unshare = need_program("unshare")
    if os.geteuid() != 0:
        pytest.skip("as another user slirp4netns' mounts are in a user namespace, which cannot propagate back")
    shared = tmp_path / "shared"
    shared.mkdir()
    # In a mount namespace of the test's own, so a failure leaves the machine's mounts untouched.
    result = subprocess.run(
        [unshare, "--mount", "--propagation", "private", "--", "/bin/sh", "-c", _SHARED_PARENT, "sh", str(shared),
         sys.executable, "-c", _START_NETWORK, str(shared / "child")],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["mounted"]
