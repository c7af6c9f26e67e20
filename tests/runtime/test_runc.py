"""RUN with real runc over an overlay of snapshots: output, exit codes, the upperdir, isolation, mounts."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from layerlab.engine.errors import ContainerError, NotFound
from layerlab.engine.runtime import MountSpec, ProcessSpec, run_in_layers
from tests.runtime.conftest import make_busybox_rootfs, mounts_under, tree_state, upper_entries

pytestmark = pytest.mark.peers

DOCKER_DEFAULT_CAPS_MASK = 0x00000000A80425FB


def shell(script: str, **kwargs) -> ProcessSpec:
    return ProcessSpec(["/bin/sh", "-c", script], env=["PATH=/bin"], **kwargs)


def run(runtime, lowers, spec, workspace, *, lines=None):
    def collect(stream, line):
        if lines is not None:
            lines.append((stream, line))
    return run_in_layers(lowers, spec, workspace, runtime=runtime, on_output=collect)


def test_output_is_streamed_line_by_line_with_its_stream(runc_runtime, busybox_rootfs, tmp_path):
    lines = []
    result, _ = run(runc_runtime, [busybox_rootfs], shell("echo one; echo two >&2; printf three"),
                    tmp_path / "ws", lines=lines)
    assert result.exit_code == 0
    # Order within a stream is kept; between two pipes it is not defined.
    assert [line for stream, line in lines if stream == "stdout"] == [b"one", b"three"]
    assert [line for stream, line in lines if stream == "stderr"] == [b"two"]


@pytest.mark.parametrize("code", [0, 1, 42])
def test_exit_code_propagates(runc_runtime, busybox_rootfs, tmp_path, code):
    result, _ = run(runc_runtime, [busybox_rootfs], shell(f"exit {code}"), tmp_path / "ws")
    assert result.exit_code == code


def test_failing_command_keeps_the_last_lines(runc_runtime, busybox_rootfs, tmp_path):
    script = "for i in $(seq 1 30); do echo line$i; done; echo boom; exit 7"
    result, _ = run(runc_runtime, [busybox_rootfs], shell(script), tmp_path / "ws")
    assert result.exit_code == 7
    assert result.output_tail[-2:] == ["line30", "boom"]
    assert "line1" not in result.output_tail and len(result.output_tail) == 20


def test_missing_executable_is_a_container_error(runc_runtime, busybox_rootfs, tmp_path):
    with pytest.raises(ContainerError, match="no-such-program"):
        run(runc_runtime, [busybox_rootfs], ProcessSpec(["/bin/no-such-program"]), tmp_path / "ws")


def test_noop_leaves_an_empty_upperdir(runc_runtime, busybox_rootfs, tmp_path):
    # The rootfs has no /proc, /sys, /dev or /etc/hosts: their mount points must not be committed.
    result, upper = run(runc_runtime, [busybox_rootfs], shell("ls -d /proc/1 /sys/kernel /dev/null /etc/hosts"),
                        tmp_path / "ws")
    assert result.exit_code == 0, result.output_tail
    assert upper_entries(upper) == set()


def test_changes_land_in_upper_and_lowers_stay_untouched(runc_runtime, tmp_path):
    base = make_busybox_rootfs(tmp_path / "base")
    second = tmp_path / "second"
    (second / "data" / "keep").mkdir(parents=True)
    (second / "data" / "keep" / "old.txt").write_text("old")
    (second / "data" / "gone.txt").write_text("gone")
    before = {name: tree_state(path) for name, path in (("base", base), ("second", second))}
    script = ("echo new > /data/new.txt && rm /data/gone.txt && rm /bin/vi && "
              "rm -rf /data/keep && mkdir /data/keep && echo fresh > /data/keep/fresh.txt")
    result, upper = run(runc_runtime, [base, second], shell(script), tmp_path / "ws")
    assert result.exit_code == 0, result.output_tail
    assert (upper / "data" / "new.txt").read_text() == "new\n"
    for whiteout in (upper / "data" / "gone.txt", upper / "bin" / "vi"):
        st = os.lstat(whiteout)
        assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(upper / "data" / "keep", "trusted.overlay.opaque") == b"y"
    assert sorted(os.listdir(upper / "data" / "keep")) == ["fresh.txt"]
    assert {name: tree_state(path) for name, path in (("base", base), ("second", second))} == before


def test_etc_files_are_provided_but_never_committed(runc_runtime, busybox_rootfs, tmp_path):
    spec = shell("cat /etc/hostname; grep -c localhost /etc/hosts; test -f /etc/resolv.conf && echo resolv; "
                 "echo 10.0.0.9 extra >> /etc/hosts; echo other > /etc/hostname; stat -c %a /etc",
                 hostname="builder")
    result, upper = run(runc_runtime, [busybox_rootfs], spec, tmp_path / "ws")
    assert result.exit_code == 0, result.output_tail
    assert result.output_tail[0] == "builder"
    assert int(result.output_tail[1]) >= 1
    assert result.output_tail[2:] == ["resolv", "750"]
    assert upper_entries(upper) == set()


def test_isolation_pid_uts_network_capabilities(runc_runtime, busybox_rootfs, tmp_path):
    script = ("echo pid=$$; echo procs=$(ps -o pid | tail -n +2 | tr '\\n' ,); echo host=$(hostname); "
              "echo ifaces=$(tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort | tr '\\n' ,); "
              "grep -E '^(CapEff|CapBnd|NoNewPrivs):' /proc/self/status")
    result, _ = run(runc_runtime, [busybox_rootfs], shell(script, hostname="sealed"), tmp_path / "ws")
    assert result.exit_code == 0, result.output_tail
    values = dict(line.replace(":\t", "=").split("=", 1) for line in result.output_tail)
    assert values["pid"] == "1"
    # Only this shell and its own pipeline: nothing from the host.
    pids = [int(pid) for pid in values["procs"].strip(",").split(",")]
    assert 1 in pids and len(pids) <= 6 and max(pids) < 20
    assert values["host"] == "sealed"
    assert values["ifaces"] == "lo,"
    assert int(values["CapEff"], 16) == DOCKER_DEFAULT_CAPS_MASK
    assert int(values["CapBnd"], 16) == DOCKER_DEFAULT_CAPS_MASK
    assert values["NoNewPrivs"] == "1"


def test_host_network_sees_the_host_interfaces(runc_runtime, busybox_rootfs, tmp_path):
    with open("/proc/net/dev") as dev:
        host_ifaces = sorted(line.split(":")[0].strip() for line in dev.readlines()[2:])
    script = "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | sort"
    result, _ = run(runc_runtime, [busybox_rootfs], shell(script, network="host"), tmp_path / "ws")
    assert result.output_tail == host_ifaces


def test_user_env_and_cwd_come_from_the_spec(runc_runtime, busybox_rootfs, tmp_path):
    spec = ProcessSpec(["/bin/sh", "-c", "id -u; id -g; pwd; env | sort"], env=["PATH=/bin", "GREETING=hi there"],
                       user="65534:65534", cwd="/etc")
    result, _ = run(runc_runtime, [busybox_rootfs], spec, tmp_path / "ws")
    assert result.exit_code == 0, result.output_tail
    assert result.output_tail[:3] == ["65534", "65534", "/etc"]
    env = set(result.output_tail[3:]) - {"SHLVL=1", "PWD=/etc"}
    # runc adds HOME from the image's /etc/passwd when the spec has none, as Docker does.
    assert env == {"PATH=/bin", "GREETING=hi there", "HOME=/"}


def test_tmpfs_mount_is_not_committed(runc_runtime, busybox_rootfs, tmp_path):
    spec = shell("echo x > /scratch/file && grep ' /scratch ' /proc/mounts | cut -d' ' -f3",
                 mounts=[MountSpec("tmpfs", "/scratch")])
    result, upper = run(runc_runtime, [busybox_rootfs], spec, tmp_path / "ws")
    assert result.output_tail == ["tmpfs"]
    assert upper_entries(upper) == set()


def test_bind_mounts_readonly_discarded_and_through(runc_runtime, busybox_rootfs, tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "in.txt").write_text("context\n")
    spec = shell("cat /ro/in.txt; echo no > /ro/x || echo ro-refused; "
                 "echo yes > /copy/x && echo copy-ok; echo through > /rw/x",
                 mounts=[MountSpec("bind", "/ro", source=source, readonly=True),
                         MountSpec("bind", "/copy", source=source, discard_writes=True),
                         MountSpec("bind", "/rw", source=tmp_path / "through")])
    (tmp_path / "through").mkdir()
    result, upper = run(runc_runtime, [busybox_rootfs], spec, tmp_path / "ws")
    assert result.exit_code == 0, result.output_tail
    assert [line for line in result.output_tail if "Read-only" not in line] == ["context", "ro-refused", "copy-ok"]
    assert sorted(os.listdir(source)) == ["in.txt"]
    assert (tmp_path / "through" / "x").read_text() == "through\n"
    assert upper_entries(upper) == set()


def test_cache_mount_persists_between_runs_and_is_not_committed(runc_runtime, busybox_rootfs, tmp_path):
    cache = tmp_path / "cache"
    cache.mkdir()
    spec = shell("cat /root/.cache/count 2>/dev/null || echo 0; echo 1 > /root/.cache/count",
                 mounts=[MountSpec("cache", "/root/.cache", source=cache)])
    first, upper = run(runc_runtime, [busybox_rootfs], spec, tmp_path / "ws1")
    assert first.output_tail == ["0"] and upper_entries(upper) == set()
    second, _ = run(runc_runtime, [busybox_rootfs], spec, tmp_path / "ws2")
    assert second.output_tail == ["1"]


def test_secret_is_readable_and_never_reaches_the_upperdir(runc_runtime, busybox_rootfs, tmp_path):
    secret = tmp_path / "token"
    secret.write_text("s3cr3t")
    spec = shell("cat /run/secrets/token; echo; stat -c %a /run/secrets/token",
                 mounts=[MountSpec.secret("token", secret)])
    result, upper = run(runc_runtime, [busybox_rootfs], spec, tmp_path / "ws")
    assert result.output_tail == ["s3cr3t", "400"]
    assert upper_entries(upper) == set()


def test_mount_point_under_a_symlinked_directory_keeps_the_symlink(runc_runtime, tmp_path):
    base = make_busybox_rootfs(tmp_path / "base")
    (base / "var" / "run").mkdir(parents=True)
    os.symlink("var/run", base / "run")
    secret = tmp_path / "token"
    secret.write_text("linked")
    spec = shell("cat /run/secrets/token; echo; readlink /run; echo hi > /run/note",
                 mounts=[MountSpec.secret("token", secret)])
    result, upper = run(runc_runtime, [base], spec, tmp_path / "ws")
    assert result.output_tail == ["linked", "var/run"]
    assert upper_entries(upper) == {"var", "var/run", "var/run/note"}


def test_interrupted_run_kills_and_removes_the_container(runc_runtime, busybox_rootfs, tmp_path):
    def interrupt(stream, line):
        assert runc_runtime.list_containers(), "the container should be running now"
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_in_layers([busybox_rootfs], shell("echo ready; sleep 600"), tmp_path / "ws", runtime=runc_runtime,
                      on_output=interrupt)
    assert runc_runtime.list_containers() == []
    assert mounts_under(tmp_path) == []


def test_killed_process_reports_signal_and_leaves_nothing(runc_runtime, busybox_rootfs, tmp_path):
    def kill_it(stream, line):
        (container_id,) = runc_runtime.list_containers()
        subprocess.run(["runc", "--root", str(runc_runtime.state_dir), "kill", container_id, "KILL"], check=True)

    result, _ = run_in_layers([busybox_rootfs], shell("echo ready; sleep 600"), tmp_path / "ws",
                              runtime=runc_runtime, on_output=kill_it)
    assert result.exit_code == 137
    assert runc_runtime.list_containers() == []
    assert mounts_under(tmp_path) == []


def test_each_run_gets_its_own_container_id(runc_runtime, busybox_rootfs, tmp_path):
    # The cgroup path is /layerlab/<container id>.
    cgroups = []
    for index in range(2):
        result, _ = run(runc_runtime, [busybox_rootfs], shell("grep -m1 layerlab /proc/self/cgroup"),
                        tmp_path / f"ws{index}")
        cgroups.append(result.output_tail[0].rsplit("/", 1)[-1])
    assert cgroups[0].startswith("layerlab-") and cgroups[0] != cgroups[1]


def test_zero_lowers_is_an_empty_stack_with_an_upperdir(runc_runtime, tmp_path):
    busybox = MountSpec("bind", "/bin/busybox", source=Path("/bin/busybox"), readonly=True)
    spec = ProcessSpec(["/bin/busybox", "sh", "-c", "echo made > /made; /bin/busybox ls /"], mounts=[busybox])
    result, upper = run(runc_runtime, [], spec, tmp_path / "ws")
    assert result.exit_code == 0, result.output_tail
    assert "made" in result.output_tail
    assert upper_entries(upper) == {"made"}


def test_missing_secret_source_is_named_and_nothing_is_left(runc_runtime, busybox_rootfs, tmp_path):
    spec = shell("true", mounts=[MountSpec.secret("npmrc", tmp_path / "absent")])
    with pytest.raises(NotFound, match="npmrc"):
        run(runc_runtime, [busybox_rootfs], spec, tmp_path / "ws")


def test_renamed_lower_directory_is_copied_not_redirected(runc_runtime, tmp_path):
    base = make_busybox_rootfs(tmp_path / "base")
    (base / "src" / "deep").mkdir(parents=True)
    (base / "src" / "deep" / "f").write_text("payload")
    result, upper = run(runc_runtime, [base], shell("mv /src /dst && cat /dst/deep/f"), tmp_path / "ws")
    assert result.output_tail == ["payload"], result.output_tail
    assert (upper / "dst" / "deep" / "f").read_text() == "payload"
    assert os.lstat(upper / "src").st_rdev == 0 and stat.S_ISCHR(os.lstat(upper / "src").st_mode)
    assert not [name for name in os.listxattr(upper / "dst") if "redirect" in name]
