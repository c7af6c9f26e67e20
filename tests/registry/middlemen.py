"""Two small servers that stand between layerlab and a real registry, on 127.0.0.1.

``ForwardProxy`` is an HTTP proxy (``CONNECT`` tunnels and absolute-URL
requests) that knows some made-up host names, so a request can only reach a
registry under such a name by going through it. ``FaultInjector`` is a
reverse proxy that answers chosen requests with an error status (429, 5xx,
with or without ``Retry-After``) before letting them through.
"""

from __future__ import annotations

import base64
import re
import select
import socket
import socketserver
import threading
import urllib.parse
from dataclasses import dataclass


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    """The request head (up to the blank line) and whatever body bytes came with it."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return b"", b""
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _header(lines: list[str], name: str) -> str:
    for line in lines[1:]:
        key, _, value = line.partition(":")
        if key.strip().lower() == name.lower():
            return value.strip()
    return ""


def _without(lines: list[str], *names: str) -> list[str]:
    lowered = {name.lower() for name in names}
    return [lines[0]] + [line for line in lines[1:] if line.partition(":")[0].strip().lower() not in lowered]


def _relay(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    sockets = [a, b]
    try:
        while True:
            readable, _, _ = select.select(sockets, [], [], 30)
            if not readable:
                return
            for sock in readable:
                chunk = sock.recv(65536)
                if not chunk:
                    return
                (b if sock is a else a).sendall(chunk)
    except OSError:
        return


def _forward(client: socket.socket, lines: list[str], rest: bytes, upstream: tuple[str, int]) -> None:
    """Send one request upstream (closing after it, so each connection carries one request) and relay."""
    with socket.create_connection(upstream, timeout=30) as server:
        head = "\r\n".join(_without(lines, "Connection", "Proxy-Connection", "Proxy-Authorization")
                           + ["Connection: close"]) + "\r\n\r\n"
        server.sendall(head.encode() + rest)
        _relay(client, server)


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class _Base:
    def __init__(self):
        owner = self

        class Handler(socketserver.BaseRequestHandler):
            def handle(self) -> None:
                head, rest = _read_head(self.request)
                if head:
                    owner.handle(self.request, head.decode("latin-1").split("\r\n"), rest)

        self._server = _Server(("127.0.0.1", 0), Handler)
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def handle(self, client: socket.socket, lines: list[str], rest: bytes) -> None:
        raise NotImplementedError


class ForwardProxy(_Base):
    """An HTTP proxy resolving ``names`` (host -> 127.0.0.1 port) itself; keeps (method, target) it served."""

    def __init__(self, names: dict[str, int], *, user: str | None = None, password: str = ""):
        super().__init__()
        self.names = names
        self.required = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode() if user else None
        self.seen: list[tuple[str, str]] = []
        self.refused = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _upstream(self, netloc: str) -> tuple[str, int] | None:
        host, _, port = netloc.rpartition(":")
        if host in self.names and int(port) == self.names[host]:
            return "127.0.0.1", int(port)
        return None

    def handle(self, client: socket.socket, lines: list[str], rest: bytes) -> None:
        method, target, _ = lines[0].split(" ", 2)
        if self.required and _header(lines, "Proxy-Authorization") != self.required:
            self.refused += 1
            client.sendall(b"HTTP/1.1 407 Proxy Authentication Required\r\n"
                           b"Proxy-Authenticate: Basic realm=\"test-proxy\"\r\nContent-Length: 0\r\n"
                           b"Connection: close\r\n\r\n")
            return
        if method == "CONNECT":
            upstream = self._upstream(target)
            if upstream is None:
                client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                return
            self.seen.append((method, target))
            with socket.create_connection(upstream, timeout=30) as server:
                client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
                _relay(client, server)
            return
        parts = urllib.parse.urlsplit(target)
        upstream = self._upstream(parts.netloc) if parts.scheme == "http" else None
        if upstream is None:
            client.sendall(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            return
        self.seen.append((method, target))
        origin = parts.path + (f"?{parts.query}" if parts.query else "")
        _forward(client, [f"{method} {origin} HTTP/1.1"] + lines[1:], rest, upstream)


@dataclass
class Fault:
    """Answer ``times`` requests whose ``METHOD path`` matches ``pattern`` with ``status``."""
    pattern: str
    status: int
    times: int
    retry_after: str | None = None
    served: int = 0


class FaultInjector(_Base):
    """A reverse proxy in front of a registry on 127.0.0.1:``upstream_port``, failing as its faults say."""

    def __init__(self, upstream_port: int, faults: list[Fault]):
        super().__init__()
        self.upstream = ("127.0.0.1", upstream_port)
        self.faults = faults
        self._lock = threading.Lock()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _fault_for(self, request: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.served < fault.times and re.search(fault.pattern, request):
                    fault.served += 1
                    return fault
        return None

    def handle(self, client: socket.socket, lines: list[str], rest: bytes) -> None:
        method, target, _ = lines[0].split(" ", 2)
        fault = self._fault_for(f"{method} {urllib.parse.urlsplit(target).path}")
        if fault is None:
            _forward(client, lines, rest, self.upstream)
            return
        length = int(_header(lines, "Content-Length") or 0)
        while len(rest) < length:      # take the whole body, so the client is not cut off mid-send
            chunk = client.recv(65536)
            if not chunk:
                break
            rest += chunk
        body = b'{"errors":[{"code":"UNAVAILABLE","message":"injected fault"}]}'
        extra = f"Retry-After: {fault.retry_after}\r\n" if fault.retry_after is not None else ""
        client.sendall(f"HTTP/1.1 {fault.status} Injected\r\nContent-Type: application/json\r\n{extra}"
                       f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
