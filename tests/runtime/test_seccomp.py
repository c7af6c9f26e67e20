"""The default seccomp profile, applied by runc: what a RUN must not be able to do."""

from __future__ import annotations

import pytest

from layerlab.engine.runtime import BubblewrapRuntime
from layerlab.engine.runtime.seccomp import default_profile
from tests.peers import need_program
from tests.runtime.conftest import run_lines

pytestmark = pytest.mark.peers

# Each probe prints its name only when the forbidden thing worked.
PROBES = {
    "user namespace": "unshare -U true",
    "user+mount namespaces": "unshare -Urm true",
    "network namespace": "unshare -n true",
    "mount tmpfs": "mkdir -p /mnt/t && mount -t tmpfs none /mnt/t",
    "join a namespace": "nsenter -t 1 -m true",
}


def run_probes(runtime, rootfs, tmp_path) -> list[str]:
    script = "grep '^Seccomp:' /proc/self/status; " + "; ".join(
        f"{command} >/dev/null 2>&1 && echo 'ESCAPED {name}'" for name, command in PROBES.items()) + "; true"
    return run_lines(runtime, rootfs, tmp_path / "ws", script)


@pytest.fixture(params=["runc", "bubblewrap"])
def runtime(request):
    if request.param == "runc":
        return request.getfixturevalue("runc_runtime")
    need_program("bwrap")
    return BubblewrapRuntime()


def test_root_in_a_container_cannot_make_namespaces_or_mount(runtime, busybox_rootfs, tmp_path):
    lines = run_probes(runtime, busybox_rootfs, tmp_path)
    assert "Seccomp:\t2" in lines  # a filter is in force
    assert [line for line in lines if line.startswith("ESCAPED")] == []


def test_the_profile_refuses_docker_s_dangerous_calls():
    profile = default_profile()
    refused = {name for rule in profile["syscalls"] if not rule.get("args") and rule["action"] == "SCMP_ACT_ERRNO"
               for name in rule["names"]}
    assert {"unshare", "setns", "mount", "keyctl", "add_key", "request_key", "bpf", "kexec_load",
            "kexec_file_load", "init_module", "finit_module", "delete_module", "ptrace",
            "process_vm_readv", "process_vm_writev", "open_by_handle_at"} <= refused
    # clone is refused only with a namespace flag; plain fork/threads must keep working.
    clone_masks = {rule["args"][0]["value"] for rule in profile["syscalls"] if rule["names"] == ["clone"]}
    assert 0x10000000 in clone_masks and 0x00020000 in clone_masks  # CLONE_NEWUSER, CLONE_NEWNS
