"""A build killed in the middle of a RUN leaves no process, mount or secret behind."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.build.conftest import write_context
from tests.conftest import REPO

pytestmark = pytest.mark.peers

SETTLE_SECONDS = 60  # an upper bound for polling, never a measured duration


def processes_with_env(marker: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                environ = Path(f"/proc/{entry}/environ").read_bytes()
            except OSError:
                continue
            if marker.encode() in environ.split(b"\0"):
                found.append(int(entry))
    return found


def children_of(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except (OSError, IndexError):
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def mounts_under(path: Path) -> list[str]:
    prefix = os.path.realpath(path)
    with open("/proc/self/mountinfo") as mountinfo:
        return [line.split()[4] for line in mountinfo if line.split()[4].startswith(prefix)]


def files_holding(text: str, *places: Path) -> list[Path]:
    found = []
    for place in places:
        # os.walk skips a directory that vanishes mid-walk (cleanup may be under way): not a leftover
        for dirpath, _dirnames, filenames in os.walk(place):
            for name in filenames:
                path = Path(dirpath) / name
                try:
                    if path.is_file() and not path.is_symlink() and text.encode() in path.read_bytes():
                        found.append(path)
                except OSError:
                    continue
    return found


def wait_until(condition, seconds: float = SETTLE_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.1)


@pytest.fixture
def sleeping_build(cli, base, root, tmp_path):
    """A build whose RUN (holding a secret) sleeps 300 s, started as its own process; yields it once running."""
    marker = f"LAYERLAB_TEST_MARK={secrets.token_hex(8)}"
    secret_text = f"secret-{secrets.token_hex(8)}"
    (tmp_path / "secret").write_text(secret_text)
    context = write_context(tmp_path / "ctx", "FROM busybox\n"
                            f"RUN --mount=type=secret,id=s {marker} sleep 300\n")
    build = subprocess.Popen([sys.executable, "-m", "layerlab", "build", "--network", "none",
                              "--secret", f"id=s,src={tmp_path / 'secret'}", str(context)],
                             env=dict(os.environ, LAYERLAB_ROOT=str(root)), cwd=REPO,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_until(lambda: processes_with_env(marker) or build.poll() is not None)
    assert processes_with_env(marker), "the RUN never started"
    yield build, marker, secret_text
    for pid in processes_with_env(marker):
        os.kill(pid, signal.SIGKILL)
    if build.poll() is None:
        build.kill()
    build.wait()


def leftovers(root: Path, marker: str, secret_text: str) -> dict[str, list]:
    return {"processes": processes_with_env(marker), "mounts": mounts_under(root),
            "secrets": files_holding(secret_text, root / "tmp", *Path("/tmp").glob("layerlab-bundle-*"))}


@pytest.mark.parametrize("signal_number", [signal.SIGKILL, signal.SIGHUP])
def test_a_killed_build_leaves_no_container_mount_or_secret(sleeping_build, root, signal_number):
    build, marker, secret_text = sleeping_build
    os.kill(build.pid, signal_number)
    build.wait()
    wait_until(lambda: not any(leftovers(root, marker, secret_text).values()))
    assert leftovers(root, marker, secret_text) == {"processes": [], "mounts": [], "secrets": []}


def test_the_next_command_reaps_what_a_killed_build_left(sleeping_build, root, cli_process):
    build, marker, secret_text = sleeping_build
    # Take out the watchdog as well, as a kill of the whole machine's processes might.
    for child in children_of(build.pid):
        if b"-I\0-S\0-c" in Path(f"/proc/{child}/cmdline").read_bytes():
            os.kill(child, signal.SIGKILL)
    os.kill(build.pid, signal.SIGKILL)
    build.wait()
    assert processes_with_env(marker), "nothing survived, so there is nothing to reap"
    assert cli_process("images").returncode == 0
    assert leftovers(root, marker, secret_text) == {"processes": [], "mounts": [], "secrets": []}


def test_run_scratch_lives_in_the_stores_private_tmp(cli, root, base, tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s3cr3t")
    context = write_context(tmp_path / "ctx", "FROM busybox\nUSER nobody\n"
                            "RUN --mount=type=secret,id=s,uid=65534 cat /run/secrets/s > /tmp/seen && "
                            "cat /etc/hostname > /dev/null\n")
    result = cli("build", "-q", "--network", "none", "--secret", f"id=s,src={secret}", str(context))
    assert result.code == 0, result.err
    assert (root / "tmp").stat().st_mode & 0o777 == 0o700
