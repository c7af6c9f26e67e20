"""Network peers for runtime tests: a TCP service on the host's loopback, and one in a namespace
the test makes itself (a veth pair into a fresh network namespace), so outbound reach is
proven without any address outside this machine."""

from __future__ import annotations

import secrets
import socket
import subprocess
import threading
from contextlib import contextmanager
from typing import Iterator

from tests.peers import need_program


@contextmanager
def token_service(host: str) -> Iterator[tuple[int, str]]:
    """A TCP service on ``host`` that sends a fresh token to whoever connects: (port, token)."""
    token = f"token-{secrets.token_hex(8)}"
    server = socket.create_server((host, 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                return
            with connection:
                connection.sendall(token.encode() + b"\n")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1], token
    finally:
        stop.set()
        server.close()
        thread.join(timeout=5)


@contextmanager
def namespace_service() -> Iterator[tuple[str, int, str]]:
    """A token service in a new network namespace reached from the host over a veth pair: (address, port, token).

    The namespace lives as long as its holder process; when that ends the veth pair goes with it.
    """
    ip = need_program("ip")
    suffix = secrets.token_hex(3)
    host_side, ns_side = f"llh{suffix}", f"lln{suffix}"
    subnet = f"10.{200 + secrets.randbelow(50)}.{secrets.randbelow(250)}"
    host_address, ns_address = f"{subnet}.1", f"{subnet}.2"
    holder = subprocess.Popen(["unshare", "--net", "--", "/bin/sh", "-c", "echo ready && exec cat >/dev/null"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline() == b"ready\n"
    enter = ["nsenter", f"--net=/proc/{holder.pid}/ns/net", "--"]
    server = None
    try:
        for command in ([ip, "link", "add", host_side, "type", "veth", "peer", "name", ns_side,
                         "netns", str(holder.pid)],
                        [ip, "addr", "add", f"{host_address}/30", "dev", host_side],
                        [ip, "link", "set", host_side, "up"],
                        [*enter, ip, "addr", "add", f"{ns_address}/30", "dev", ns_side],
                        [*enter, ip, "link", "set", ns_side, "up"],
                        [*enter, ip, "link", "set", "lo", "up"]):
            subprocess.run(command, check=True, capture_output=True)
        token = f"token-{secrets.token_hex(8)}"
        code = ("import socket,sys\n"
                f"s=socket.create_server(({ns_address!r},0))\n"
                "print(s.getsockname()[1],flush=True)\n"
                "while True:\n c,_=s.accept(); c.sendall(sys.argv[1].encode()+b'\\n'); c.close()\n")
        server = subprocess.Popen([*enter, "python3", "-c", code, token], stdout=subprocess.PIPE, text=True)
        assert server.stdout is not None
        port = int(server.stdout.readline())
        yield ns_address, port, token
    finally:
        if server is not None:
            server.kill()
            server.wait()
            if server.stdout is not None:
                server.stdout.close()
        subprocess.run([ip, "link", "del", host_side], capture_output=True)
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.stdout.close()
        holder.wait()
