"""pasta (Debian ``passt``) as the user-mode network of a private namespace, where slirp4netns is missing.

It gives the namespace what slirp4netns does (``tap0`` at 10.0.2.100, gateway 10.0.2.2, DNS
forwarded at 10.0.2.3), with the host's loopback out of reach (``--no-map-gw``) and no port
forwarded either way (``-t/-u/-T/-U none``: pasta's default would carry ports bound on the
host's loopback into the namespace).

Two things differ from slirp4netns. As root, pasta can only join a namespace that lives in
a user namespace (it gives up its capabilities before opening it), so the holder makes one
even then. And pasta has no exit pipe: it runs in the foreground under a small shell that
kills it when its stdin (our pipe) closes, so it ends with us however we end.
"""

from __future__ import annotations

import os
import subprocess
import time

from layerlab.engine.errors import ContainerError

_SUPERVISE = '"$@" >/dev/null & pasta=$!; echo "$pasta"; cat >/dev/null; kill "$pasta" 2>/dev/null; wait "$pasta"'
_POLL_SECONDS = 0.01


def pasta_arguments(pasta: str, holder_pid: int, *, interface: str, gateway: str, nameserver: str) -> list[str]:
    runas = ["--runas", "0"] if os.geteuid() == 0 else []   # as root it would drop to nobody and lose the namespace
    return [pasta, "--foreground", "--quiet", "--config-net", *runas, "-4", "--address", "10.0.2.100",
            "--netmask", "24", "--gateway", gateway, "--ns-ifname", interface, "--dns-forward", nameserver,
            "--no-map-gw", "-t", "none", "-u", "none", "-T", "none", "-U", "none", str(holder_pid)]


def start_pasta(argv: list[str]) -> subprocess.Popen:
    """pasta under its supervisor; end it as the holder is ended (close its stdin, wait)."""
    return subprocess.Popen(["/bin/sh", "-c", _SUPERVISE, "sh", *argv], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def wait_for_pasta(supervisor: subprocess.Popen, holder_pid: int, timeout: float) -> None:
    """Wait until the namespace has its default route; ``ContainerError`` with pasta's last words if not."""
    assert supervisor.stdout is not None
    pasta_pid = int(supervisor.stdout.readline() or b"0")
    deadline = time.monotonic() + timeout
    while not _has_default_route(holder_pid):
        if not _alive(pasta_pid) or time.monotonic() > deadline:
            raise ContainerError(f"pasta could not set up the network: {_last_words(supervisor)}")
        time.sleep(_POLL_SECONDS)


def _has_default_route(holder_pid: int) -> bool:
    """Whether the namespace of ``holder_pid`` has its default route: pasta's last configuration step."""
    try:
        with open(f"/proc/{holder_pid}/net/route") as routes:
            return any(line.split()[1:2] == ["00000000"] for line in routes.readlines()[1:])
    except OSError:
        return False


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat_file:
            return pid > 0 and stat_file.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _last_words(supervisor: subprocess.Popen) -> str:
    try:  # communicate closes its stdin first: the supervisor ends pasta, then itself
        _, error = supervisor.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        supervisor.kill()
        _, error = supervisor.communicate()
    lines = [line for line in error.decode(errors="replace").splitlines() if "syslog" not in line]
    return lines[-1] if lines else "no reply"
