"""The bubblewrap runtime: as root over an overlay, and as an unprivileged user over a layer stack."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

from layerlab.engine.errors import ContainerError
from layerlab.engine.runtime import BubblewrapRuntime, ProcessSpec, run_in_layers
from layerlab.engine.runtime.bubblewrap import userns_unavailable_reason
from tests.peers import need_program
from tests.runtime.conftest import make_busybox_rootfs, mounts_under, tree_state, upper_entries
from tests.runtime.netpeers import token_service
from tests.unprivileged import NOBODY, as_user, python_for, stage_code

pytestmark = pytest.mark.peers

DOCKER_DEFAULT_CAPS_MASK = 0x00000000A80425FB
PROBE = ("echo pid=$$; echo host=$(hostname); "
         "echo ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ,); "
         "grep -E '^(CapEff|NoNewPrivs):' /proc/self/status | tr -d '\\t' | tr : =")


def parse_values(lines: list[str]) -> dict[str, str]:
    return dict(line.split("=", 1) for line in lines if "=" in line)


@pytest.fixture
def bwrap_runtime() -> BubblewrapRuntime:
    need_program("bwrap")
    runtime = BubblewrapRuntime()
    problem = runtime.works()
    if problem:
        pytest.fail(f"bubblewrap cannot run here: {problem}")
    return runtime


@pytest.mark.skipif(os.geteuid() != 0, reason="this one mounts the overlay itself")
def test_bubblewrap_as_root_over_overlay(bwrap_runtime, busybox_rootfs, tmp_path):
    before = tree_state(busybox_rootfs)
    lines = []
    spec = ProcessSpec(["/bin/sh", "-c", PROBE + "; echo data > /new.txt; rm /bin/vi; exit 5"],
                       env=["PATH=/bin"], hostname="bw")
    result, upper = run_in_layers([busybox_rootfs], spec, tmp_path / "ws", runtime=bwrap_runtime,
                                  on_output=lambda stream, line: lines.append(line))
    assert result.exit_code == 5
    values = parse_values(result.output_tail)
    assert int(values["pid"]) <= 2  # bwrap's own reaper may be pid 1
    assert values["host"] == "bw" and values["ifaces"] == "lo,"
    assert int(values["CapEff"], 16) == DOCKER_DEFAULT_CAPS_MASK and values["NoNewPrivs"] == "1"
    assert lines[0].startswith(b"pid=")
    assert upper_entries(upper) == {"new.txt", "bin", "bin/vi"}
    assert os.lstat(upper / "bin" / "vi").st_rdev == 0
    assert tree_state(busybox_rootfs) == before
    assert mounts_under(tmp_path) == []


@pytest.fixture
def unprivileged_area():
    """A world-traversable scratch dir with a busybox rootfs owned by nobody; removed afterwards."""
    if os.geteuid() != 0:
        pytest.skip("needs root to switch to an unprivileged user")
    reason = userns_unavailable_reason()
    if reason:
        pytest.fail(f"cannot test bubblewrap for an unprivileged user: {reason}")
    area = Path(tempfile.mkdtemp(prefix="layerlab-unpriv-"))
    area.chmod(0o755)
    rootfs = make_busybox_rootfs(area / "rootfs")
    (rootfs / "data" / "old").mkdir(parents=True)
    (rootfs / "data" / "old" / "a.txt").write_text("a")
    (area / "secret").write_text("hunter2")
    for path in [area, *area.rglob("*")]:
        os.lchown(path, NOBODY, NOBODY)
    yield area
    shutil.rmtree(area)


def run_as_nobody(area: Path, script: str, *, network: str = "none", expect_failure: bool = False, **extra):
    setpriv = need_program("setpriv")
    need_program("bwrap")
    python = python_for(NOBODY, setpriv)
    code = stage_code(area, "tests/runtime/unprivileged_run.py")
    request = {"lowers": [str(area / "rootfs")], "workspace": str(area / "ws"),
               "spec": {"args": ["/bin/sh", "-c", script], "env": ["PATH=/bin"], "hostname": "rootless",
                        "network": network}, **extra}
    done = subprocess.run([*as_user(NOBODY, setpriv), python, str(code / "tests" / "runtime" / "unprivileged_run.py"), str(code),
                           json.dumps(request)], capture_output=True, text=True, cwd="/")
    if expect_failure:
        assert done.returncode != 0
        return done.stderr
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_unprivileged_user_runs_over_layers_with_bubblewrap(unprivileged_area):
    before = tree_state(unprivileged_area / "rootfs")
    script = (PROBE + "; echo uid=$(id -u); cat /run/secrets/token; echo; echo new > /data/new.txt; "
              "rm -rf /data/old; mkdir /data/old; rm /bin/vi; echo tmp > /scratch/t; exit 3")
    report = run_as_nobody(unprivileged_area, script, mounts=[
        {"kind": "secret", "target": "/run/secrets/token", "source": str(unprivileged_area / "secret"),
         "readonly": True, "mode": 0o400},
        {"kind": "tmpfs", "target": "/scratch"},
    ])
    assert report["runtime"] == "bubblewrap"
    assert report["exit_code"] == 3
    values = parse_values(report["tail"])
    assert values["uid"] == "0" and values["host"] == "rootless" and values["ifaces"] == "lo,"
    assert int(values["pid"]) <= 2
    assert int(values["CapEff"], 16) == DOCKER_DEFAULT_CAPS_MASK and values["NoNewPrivs"] == "1"
    assert "hunter2" in report["tail"]
    upper = Path(report["upper"])
    assert upper_entries(upper) == {"data", "data/new.txt", "data/old", "bin", "bin/vi"}
    whiteout = os.lstat(upper / "bin" / "vi")
    assert stat.S_ISCHR(whiteout.st_mode) and whiteout.st_rdev == 0
    # Inside a user namespace overlayfs marks opaque directories with the user. xattr.
    assert os.getxattr(upper / "data" / "old", "user.overlay.opaque") == b"y"
    assert os.lstat(upper / "data" / "new.txt").st_uid == NOBODY
    assert tree_state(unprivileged_area / "rootfs") == before
    # The overlay lived in the run's own mount namespace: nothing is left mounted here.
    assert mounts_under(unprivileged_area) == []


@pytest.mark.parametrize("sysctl, value, reported", [
    ("kernel/unprivileged_userns_clone", "0", "kernel.unprivileged_userns_clone=0"),
    ("user/max_user_namespaces", "0", "user.max_user_namespaces=0"),
    ("kernel/apparmor_restrict_unprivileged_userns", "1", "kernel.apparmor_restrict_unprivileged_userns=1"),
    ("kernel/unprivileged_userns_clone", "1", None),
])
def test_disabled_user_namespaces_are_reported_with_the_sysctl(tmp_path, sysctl, value, reported):
    (tmp_path / sysctl).parent.mkdir(parents=True)
    (tmp_path / sysctl).write_text(value + "\n")
    reason = userns_unavailable_reason(tmp_path, unprivileged=True)
    assert (reason is None) if reported is None else (reported in reason)


def test_this_host_allows_unprivileged_user_namespaces_or_says_why():
    reason = userns_unavailable_reason(unprivileged=True)
    if reason:
        pytest.skip(reason)
    setpriv = need_program("setpriv")
    unshare = need_program("unshare")
    probe = subprocess.run([setpriv, f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", unshare,
                            "--user", "--map-root-user", "id", "-u"], capture_output=True, text=True)
    assert probe.stdout.strip() == "0", probe.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="this one mounts the overlay itself")
def test_bubblewrap_missing_executable_is_a_container_error(bwrap_runtime, busybox_rootfs, tmp_path):
    with pytest.raises(ContainerError, match="no-such-program"):
        run_in_layers([busybox_rootfs], ProcessSpec(["/bin/no-such-program"]), tmp_path / "ws",
                      runtime=bwrap_runtime)
    assert mounts_under(tmp_path) == []


def test_unprivileged_private_network_stays_off_the_hosts_loopback(unprivileged_area):
    need_program("slirp4netns")
    tun_usable = subprocess.run([*as_user(NOBODY, need_program("setpriv")), "test", "-r", "/dev/net/tun", "-a",
                                 "-w", "/dev/net/tun"]).returncode == 0
    with token_service("127.0.0.1") as (port, token):
        script = PROBE + f"; nc -w 3 10.0.2.2 {port}; echo done"
        if not tun_usable:
            # slirp4netns cannot work for this user here: the run must say why, not fall back to the host's network.
            failed = run_as_nobody(unprivileged_area, script, network="private", expect_failure=True)
            assert "ContainerError: the default network needs /dev/net/tun" in failed
            return
        report = run_as_nobody(unprivileged_area, script, network="private")
    values = parse_values(report["tail"])
    assert report["exit_code"] == 0, report["tail"]
    assert values["ifaces"] == "lo,tap0,"
    assert "done" in report["tail"] and not any(token in line for line in report["tail"])


def test_unprivileged_runs_get_the_seccomp_profile_too(unprivileged_area):
    from tests.runtime.test_seccomp import PROBES

    script = "grep '^Seccomp:' /proc/self/status; " + "; ".join(
        f"{command} >/dev/null 2>&1 && echo 'ESCAPED {name}'" for name, command in PROBES.items()) + "; true"
    report = run_as_nobody(unprivileged_area, script)
    assert report["exit_code"] == 0, report["tail"]
    assert "Seccomp:\t2" in report["tail"]
    assert [line for line in report["tail"] if line.startswith("ESCAPED")] == []
