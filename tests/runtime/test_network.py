"""Network modes in a real container: private (slirp4netns) by default, none, host.

Outbound reach is shown only towards a namespace the test makes itself; the
host's loopback must stay out of reach, and the host's interfaces out of sight.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

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


@pytest.mark.parametrize("helper", ["slirp4netns", "pasta"])
def test_each_user_mode_helper_gives_the_same_private_network(helper):
    """pasta stands in where slirp4netns is missing: same interface, the host's loopback out of reach,
    outbound connections through, and nothing left once the network is stopped: the helper ends on its
    own (stop does not wait for its tap device to go) and is reaped, no zombie."""
    from layerlab.engine.runtime.network import PrivateNetwork

    need_program(helper)
    busybox = need_program("busybox")
    nc = f"{busybox} timeout 5 {busybox} nc -w 3"   # an address that answers but says nothing must not hang
    with namespace_service() as (address, port, token), token_service("127.0.0.1") as (host_port, host_token):
        before = _descendants(os.getpid())   # what other fixtures keep running
        with PrivateNetwork(helper=helper) as net:
            script = (f"{LINKS.replace('tail', busybox + ' tail')}; {nc} 10.0.2.2 {host_port}; "
                      f"{nc} 127.0.0.1 {host_port}; {nc} {address} {port}; echo done")
            shown = subprocess.run([*net.enter_command(), "/bin/sh", "-c", script], capture_output=True, text=True,
                                   timeout=60)
            running = _descendants(os.getpid()) - before
    lines = shown.stdout.splitlines()
    assert lines[0] == "lo,tap0," and "done" in lines, shown.stdout + shown.stderr
    assert token in shown.stdout and host_token not in shown.stdout
    assert running
    assert _ended_and_reaped(running), f"still there after the network stopped: {sorted(running)}"


def _ended_and_reaped(pids: set[int], within: float = 20.0) -> bool:
    deadline = time.monotonic() + within   # a bound for a wedged helper, never a measurement
    while any(os.path.exists(f"/proc/{pid}") for pid in pids):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _descendants(pid: int) -> set[int]:
    """Live (not zombie) processes below ``pid``."""
    parents: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as stat_file:
                    fields = stat_file.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents[int(entry)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def test_a_helper_that_cannot_start_is_one_error_and_leaves_nothing(tmp_path):
    from layerlab.engine.errors import ContainerError
    from layerlab.engine.runtime.network import PrivateNetwork

    before = _descendants(os.getpid())
    with pytest.raises(ContainerError, match="pasta could not set up the network: .*no-such-pasta"):
        with PrivateNetwork(helper="pasta", pasta=str(tmp_path / "no-such-pasta")):
            pass
    assert not _descendants(os.getpid()) - before
