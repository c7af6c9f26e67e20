"""A private network namespace per run, with outbound access through slirp4netns.

Docker gives each container its own network stack behind a bridge; without
a daemon the user-mode stack slirp4netns does the same job: a tap device in
the new namespace (10.0.2.100, gateway 10.0.2.2, DNS 10.0.2.3) whose
packets become ordinary sockets of the calling process. Connections can go
wherever the host can reach, except the host's own loopback:
``--disable-host-loopback`` refuses 10.0.2.2 -> 127.0.0.1, so a service
listening only on the host's 127.0.0.1 stays out of reach, as with Docker's
bridge. The namespace has its own ``lo`` and ``tap0``; the host's
interfaces are not visible.

The namespace is held by a small ``unshare --net cat`` process reading a
pipe from us. When we exit, however we exit, the pipe closes, ``cat`` ends,
and slirp4netns (watching its ``--exit-fd``, the same kind of pipe) ends
too: nothing outlives the run. A runtime joins the namespace by path
(runc) or through ``nsenter`` (bubblewrap). Without root the holder also
makes a user namespace, which slirp4netns joins on its own; as root,
slirp4netns gets a mount namespace of its own, so its sandbox cannot unmount
the host's mounts (``_own_mount_namespace``).

Where slirp4netns is not installed, pasta (Debian ``passt``) does the same job
(``runtime.pasta``); it needs the namespace to live in a user namespace even as root.
"""

from __future__ import annotations

import os
import select
import shutil
import subprocess
import threading

from layerlab.engine.errors import ContainerError
from layerlab.engine.runtime.pasta import pasta_arguments, start_pasta, wait_for_pasta

# Where slirp4netns puts things inside the namespace (its defaults, written down once).
GATEWAY = "10.0.2.2"
NAMESERVER = "10.0.2.3"
INTERFACE = "tap0"
# slirp4netns makes its tap device with this, inside the namespace but with our own rights.
TUN_DEVICE = "/dev/net/tun"
_READY_TIMEOUT = 30.0
# What a user can pass instead when the private network cannot be made here.
ALTERNATIVES = ("pass --network none to run without a network, or --network host to share the host's "
                "(a Dockerfile's RUN --network=host also needs --allow network.host)")
# Say when the namespaces exist, then hold them until our end of stdin closes.
_HOLD = "echo ready && exec cat >/dev/null"


class PrivateNetwork:
    """``with PrivateNetwork() as net:`` a fresh network namespace with outbound access.

    ``net.netns_path`` is the namespace file a runtime joins (runc's
    ``linux.namespaces[].path``); ``net.enter_command()`` is an argv prefix
    that runs a command inside it (and, without root, inside its user namespace).
    """

    def __init__(self, *, slirp4netns: str | None = None, pasta: str | None = None, helper: str | None = None):
        self.slirp4netns = slirp4netns or shutil.which("slirp4netns") or ""
        self.pasta = pasta or shutil.which("pasta") or ""
        # slirp4netns where it is installed, else pasta; ``helper`` names one (tests compare both)
        self.helper = helper or ("slirp4netns" if self.slirp4netns or not self.pasta else "pasta")
        self.rootless = os.geteuid() != 0
        self._holder: subprocess.Popen | None = None
        self._slirp: subprocess.Popen | None = None
        self._pasta: subprocess.Popen | None = None
        self._exit_write = -1

    @property
    def holder_pid(self) -> int:
        if self._holder is None:
            raise ContainerError("the private network is not set up")
        return self._holder.pid

    @property
    def netns_path(self) -> str:
        return f"/proc/{self.holder_pid}/ns/net"

    def enter_command(self) -> list[str]:
        nsenter = shutil.which("nsenter") or "nsenter"
        if self.rootless:
            return [nsenter, f"--target={self.holder_pid}", "--user", "--net", "--"]
        return [nsenter, f"--net={self.netns_path}", "--"]

    def __enter__(self) -> "PrivateNetwork":
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def start(self) -> None:
        """Create the namespace and wait until slirp4netns (or pasta) has configured it."""
        if not (self.slirp4netns if self.helper == "slirp4netns" else self.pasta):
            raise ContainerError("the default network needs slirp4netns or pasta (Debian packages slirp4netns, "
                                 f"passt), and neither is installed; {ALTERNATIVES}")
        if not os.access(TUN_DEVICE, os.R_OK | os.W_OK):
            # Not even inside a user namespace of our own: opening a device node is checked against the
            # host's owner and mode, and only real root may make another.
            raise ContainerError(f"the default network needs {TUN_DEVICE}, which this user cannot open "
                                 f"({_mode(TUN_DEVICE)}; most distributions make it 0666); {ALTERNATIVES}")
        unshare = shutil.which("unshare") or "unshare"
        in_userns = self.rootless or self.helper == "pasta"   # pasta as root joins only a user namespace's
        namespaces = ["--user", "--map-root-user", "--net"] if in_userns else ["--net"]
        try:
            self._holder = subprocess.Popen([unshare, *namespaces, "--", "/bin/sh", "-c", _HOLD],
                                            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.PIPE)
            self._wait_for_namespace()
            if self.helper == "pasta":
                argv = pasta_arguments(self.pasta, self.holder_pid, interface=INTERFACE, gateway=GATEWAY,
                                       nameserver=NAMESERVER)
                self._pasta = start_pasta([*self._own_mount_namespace(), *argv])
                wait_for_pasta(self._pasta, self.holder_pid, _READY_TIMEOUT)
            else:
                self._start_slirp()
        except BaseException:
            self.stop()
            raise

    def _wait_for_namespace(self) -> None:
        # The holder says one line once it runs inside the new namespaces.
        holder = self._holder
        assert holder is not None and holder.stdout is not None
        if holder.stdout.readline() != b"ready\n":
            holder.wait()
            error = holder.stderr.read().decode(errors="replace").strip() if holder.stderr else ""
            raise ContainerError(f"cannot create a network namespace: {error or 'unshare failed'}")

    def _start_slirp(self) -> None:
        ready_read, ready_write = os.pipe()
        exit_read, self._exit_write = os.pipe()
        try:
            self._slirp = subprocess.Popen(
                [*self._own_mount_namespace(), self.slirp4netns, "--configure", "--mtu=65520",
                 "--disable-host-loopback", "--enable-sandbox", "--enable-seccomp", f"--ready-fd={ready_write}", f"--exit-fd={exit_read}",
                 str(self.holder_pid), INTERFACE],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                pass_fds=(ready_write, exit_read))
        finally:
            os.close(ready_write)
            os.close(exit_read)
        try:
            readable, _, _ = select.select([ready_read], [], [], _READY_TIMEOUT)
            ready = os.read(ready_read, 1) if readable else b""
        finally:
            os.close(ready_read)
        if ready != b"1":
            self._slirp.kill()
            error = self._slirp.communicate()[1].decode(errors="replace").strip().splitlines()
            raise ContainerError(f"slirp4netns could not set up the network: {error[-1] if error else 'no reply'}; "
                                 f"{ALTERNATIVES}")

    def _own_mount_namespace(self) -> list[str]:
        """The argv prefix that gives slirp4netns a mount namespace whose unmounts stay in it.

        Its sandbox makes only ``/`` private, pivots into a tmpfs and detaches
        the old root. As real root, every mount below a shared one (Docker
        makes its data root shared and mounts each container's overlay in it)
        is then a peer of the host's, and the detach unmounts the host's
        copy: dockerd finds an empty directory where a container's root was.
        A namespace made recursively slave first keeps those unmounts inside.
        Without root the sandbox is in our user namespace, where the kernel
        already turns shared mounts into slaves.
        """
        if self.rootless:
            return []
        return [shutil.which("unshare") or "unshare", "--mount", "--propagation", "slave", "--"]

    def stop(self) -> None:
        """End slirp4netns (or pasta) and the holder; safe to call more than once.

        The holder is waited for. The network helper is told to end and left to do so on its own,
        reaped by a thread: its exit closes the tap device, and the kernel tears the device down
        within that exit (15-30 ms from exit_group to the process gone, measured; unregistering a
        network device waits for RCU grace periods), which every RUN on the default network would
        otherwise wait out. Nothing of it serves the next run: that gets a namespace, a holder and a
        helper of its own, and this one ends without anything more from us."""
        if self._exit_write >= 0:
            os.close(self._exit_write)   # slirp4netns exits when this pipe closes
            self._exit_write = -1
        helper = self._slirp or self._pasta
        for process in (helper, self._holder):
            if process is None:
                continue
            if process.stdin is not None and not process.stdin.closed:
                process.stdin.close()    # cat exits, and pasta's supervisor kills it, at end of input
            for pipe in (process.stdout, process.stderr):
                if pipe is not None:
                    pipe.close()
            if process is helper:
                threading.Thread(target=_reap, args=(process,), name="network-helper-exit", daemon=True).start()
            else:
                _reap(process)
        self._slirp = self._pasta = self._holder = None


def _reap(process: subprocess.Popen) -> None:
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def resolv_conf_for_private(host_text: str) -> str:
    """The container's resolv.conf: slirp4netns' DNS forwarder, the host's search and options."""
    kept = [line for line in host_text.splitlines() if line.split()[:1] in (["search"], ["domain"], ["options"])]
    return "\n".join([f"nameserver {NAMESERVER}", *kept]) + "\n"



def _mode(path: str) -> str:
    try:
        return f"mode {os.stat(path).st_mode & 0o777:o}"
    except OSError as error:
        return error.strerror or "missing"
