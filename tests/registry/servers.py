"""Real registries on 127.0.0.1 for the tests: Debian's ``docker-registry`` (open, htpasswd
Basic auth, or token auth) and a small token server of our own for the Bearer flow."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from tests.peers import need_program

USER, PASSWORD = "tester", "s3cret-pass"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Registry:
    """One ``docker-registry serve`` process with its own storage directory."""

    def __init__(self, workdir: Path, *, auth: dict | None = None, port: int | None = None):
        self.binary = need_program("docker-registry")
        self.workdir = workdir
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        self.auth = auth
        self.process: subprocess.Popen | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _config(self) -> Path:
        lines = [
            "version: 0.1",
            "log:", "  level: error", "  accesslog:", "    disabled: true",
            "storage:", "  filesystem:", f"    rootdirectory: {self.workdir / 'data'}",
            "  delete:", "    enabled: true",
            # A fixed secret keeps upload URLs valid across a restart (a random one is made otherwise).
            "http:", f"  addr: {self.host}", "  secret: layerlab-test-upload-state",
        ]
        if self.auth:
            lines.append("auth:")
            for kind, options in self.auth.items():
                lines.append(f"  {kind}:")
                lines += [f"    {key}: {json.dumps(value)}" for key, value in options.items()]
        path = self.workdir / "config.yml"
        path.write_text("\n".join(lines) + "\n")
        return path

    def start(self) -> "Registry":
        log = open(self.workdir / "registry.log", "ab")
        self.process = subprocess.Popen([self.binary, "serve", str(self._config())], stdout=log, stderr=log,
                                        start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1).close()
                return self
            except urllib.error.HTTPError:
                return self   # 401: up, and asking for auth
            except OSError:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
        raise RuntimeError(f"docker-registry did not start: {(self.workdir / 'registry.log').read_text()[-2000:]}")

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


def htpasswd_file(path: Path, user: str = USER, password: str = PASSWORD) -> Path:
    import bcrypt

    path.write_text(f"{user}:{bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=5)).decode()}\n")
    return path


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class TokenServer:
    """Issues RS256 JWTs (x5c header) that docker-registry's ``auth.token`` accepts.

    It grants whatever scope is asked for when the Basic credentials are right
    (or when ``anonymous_pull`` allows a pull), and keeps the scopes it was
    asked for in ``requests`` so tests can check the handshake happened.
    """

    issuer = "layerlab-test-issuer"
    service = "layerlab-test-registry"

    def __init__(self, workdir: Path):
        self.openssl = need_program("openssl")
        self.workdir = workdir
        workdir.mkdir(parents=True, exist_ok=True)
        self.key = workdir / "token.key"
        self.cert = workdir / "token.crt"
        subprocess.run([self.openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.key),
                        "-out", str(self.cert), "-days", "2", "-subj", "/CN=layerlab-test-token"],
                       check=True, capture_output=True)
        der = subprocess.run([self.openssl, "x509", "-in", str(self.cert), "-outform", "DER"], check=True,
                             capture_output=True).stdout
        self._x5c = base64.b64encode(der).decode()
        self.requests: list[tuple[str, str]] = []   # (user or "", scope)
        self.offer_refresh = False                   # give a refresh_token with each password grant
        self.offline_refresh = False                 # give one when offline_token=true asks (docker login)
        self.queries: list[dict[str, list[str]]] = []   # every password grant's query
        self.refresh_tokens: set[str] = set()        # the ones it accepts in a POST refresh_token grant
        self.grants: list[str] = []                  # "password" or "refresh_token", in order
        self.port = free_port()
        self.realm_host = f"127.0.0.1:{self.port}"  # what the registry sends clients to (a proxy's name, a middleman)
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def realm(self) -> str:
        return f"http://{self.realm_host}/token"

    def registry_auth(self) -> dict:
        return {"token": {"realm": self.realm, "service": self.service, "issuer": self.issuer,
                          "rootcertbundle": str(self.cert)}}

    def start(self) -> "TokenServer":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def token(self, scopes: list[str]) -> str:
        access = []
        for scope in scopes:
            parts = scope.split(":")
            if len(parts) >= 3:
                access.append({"type": parts[0], "name": ":".join(parts[1:-1]), "actions": parts[-1].split(",")})
        now = int(time.time())
        header = {"typ": "JWT", "alg": "RS256", "x5c": [self._x5c]}
        claims = {"iss": self.issuer, "sub": USER, "aud": self.service, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": f"{now}-{len(self.requests)}", "access": access}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        signature = subprocess.run([self.openssl, "dgst", "-sha256", "-sign", str(self.key)],
                                   input=signing_input.encode(), check=True, capture_output=True).stdout
        return f"{signing_input}.{_b64url(signature)}"

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_GET(self) -> None:
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                scopes = " ".join(query.get("scope", [])).split()
                user = ""
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    user, _, password = base64.b64decode(header[6:]).decode().partition(":")
                    if (user, password) != (USER, PASSWORD):
                        self.send_response(401)
                        self.end_headers()
                        return
                if not user:
                    self.send_response(401)
                    self.end_headers()
                    return
                for scope in scopes or [""]:
                    server.requests.append((user, scope))
                server.grants.append("password")
                server.queries.append(query)
                answer = {"token": server.token(scopes), "expires_in": 300}
                offline = server.offline_refresh and query.get("offline_token") == ["true"]
                if server.offer_refresh or offline:
                    answer["refresh_token"] = f"refresh-{len(server.grants)}"
                    server.refresh_tokens.add(answer["refresh_token"])
                self._json(answer)

            def do_POST(self) -> None:
                """The OAuth2 refresh_token grant of the distribution token spec."""
                length = int(self.headers.get("Content-Length") or 0)
                form = urllib.parse.parse_qs(self.rfile.read(length).decode())
                refresh = form.get("refresh_token", [""])[0]
                if form.get("grant_type") != ["refresh_token"] or refresh not in server.refresh_tokens:
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                scopes = " ".join(form.get("scope", [])).split()
                for scope in scopes or [""]:
                    server.requests.append((USER, scope))
                server.grants.append("refresh_token")
                self._json({"access_token": server.token(scopes), "expires_in": 300})

            def _json(self, answer: dict) -> None:
                body = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler
