"""An HTTP client for the OCI distribution API, on the standard library.

One ``RegistryClient`` per registry host. Each thread keeps its own
keep-alive connection; auth state (the challenge learnt, tokens by scope) is
shared. Plain http is used only for loopback hosts and registries the user
names as insecure, and even then https is tried first, as Docker does.
Every request honours HTTPS_PROXY, HTTP_PROXY and NO_PROXY (``proxy.py``),
and a 429 or passing 5xx is asked again after a bounded pause (``retry.py``).
Every failure becomes a ``RegistryError`` (or ``NotFound``) of one line that
names the registry and what was being fetched.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import ssl
import threading
import urllib.parse
from email.message import Message
from typing import Any, BinaryIO

from layerlab.engine.errors import NotFound, RegistryError, UsageError
from layerlab.engine.record_type import record
from layerlab.engine.registry.auth import Authenticator, Credentials, DockerConfig
from layerlab.engine.registry.proxy import Proxy, proxy_for, split_netloc
from layerlab.engine.registry.retry import RETRY_STATUSES, RetryPolicy
from layerlab.engine.registry.tokens import TokenGrant, request_token

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1", "[::1]")
DOCKER_HUB_HOST = "registry-1.docker.io"
INSECURE_ENV = "LAYERLAB_INSECURE_REGISTRIES"
BLOCK = 1 << 20
_REDIRECTS = (301, 302, 303, 307, 308)
_UNSET: Any = object()


def api_host(domain: str) -> str:
    """The host that serves a reference's domain (Docker Hub's API lives elsewhere)."""
    return DOCKER_HUB_HOST if domain == "docker.io" else domain


def is_loopback(domain: str) -> bool:
    host = domain.rsplit(":", 1)[0] if not domain.startswith("[") else domain.split("]")[0] + "]"
    return host in LOOPBACK_HOSTS


def insecure_from_env() -> set[str]:
    return {name.strip() for name in os.environ.get(INSECURE_ENV, "").split(",") if name.strip()}


@record
class Response:
    status: int
    headers: Message
    body: bytes = b""
    stream: BinaryIO | None = None   # set for streamed GETs; the caller closes it

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name, default)


@record
class _Route:
    """A kept-alive connection, and the proxy it forwards through when plain http goes via one."""
    conn: http.client.HTTPConnection
    forward: Proxy | None = None


class RegistryClient:
    def __init__(self, domain: str, *, insecure: bool = False, credentials: Credentials | None = _UNSET,
                 timeout: float = 60.0, retry: RetryPolicy = RetryPolicy(), offline_token: bool = False):
        try:
            domain.encode("idna")
        except UnicodeError:
            raise UsageError(f"{domain!r} is not a registry host name") from None
        self.domain = domain
        self.host = api_host(domain)
        self.insecure = insecure or domain in insecure_from_env()
        self.allow_http = self.insecure or is_loopback(domain)
        if credentials is _UNSET:
            credentials = DockerConfig().get(domain)
        self.auth = Authenticator(domain, credentials)
        self.timeout = timeout
        self.retry = retry
        self.offline_token = offline_token   # ask token servers for a refresh token (``login``)
        self.scheme: str | None = None
        self._scheme_lock = threading.Lock()
        self._local = threading.local()

    # -- connections ----------------------------------------------------------------
    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.insecure:
            # Docker accepts any certificate from a registry named insecure.
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def _new_connection(self, scheme: str, netloc: str) -> _Route:
        proxy = proxy_for(scheme, netloc)
        if scheme == "https":
            if proxy is None:
                return _Route(http.client.HTTPSConnection(netloc, timeout=self.timeout, context=self._ssl_context(),
                                                          blocksize=BLOCK))
            conn = http.client.HTTPSConnection(proxy.host, proxy.port, timeout=self.timeout,
                                               context=self._ssl_context(), blocksize=BLOCK)
            host, port = split_netloc(netloc, 443)
            conn.set_tunnel(host, port, headers=proxy.headers())
            return _Route(conn)
        if proxy is None:
            return _Route(http.client.HTTPConnection(netloc, timeout=self.timeout, blocksize=BLOCK))
        return _Route(http.client.HTTPConnection(proxy.host, proxy.port, timeout=self.timeout, blocksize=BLOCK),
                      forward=proxy)

    def _connection(self, scheme: str, netloc: str) -> _Route:
        pool = getattr(self._local, "pool", None)
        if pool is None:
            pool = self._local.pool = {}
        route = pool.get((scheme, netloc))
        if route is None:
            route = pool[(scheme, netloc)] = self._new_connection(scheme, netloc)
        return route

    def _drop_connection(self, scheme: str, netloc: str) -> None:
        pool = getattr(self._local, "pool", {})
        route = pool.pop((scheme, netloc), None)
        if route is not None:
            route.conn.close()

    def _choose_scheme(self) -> str:
        with self._scheme_lock:
            if self.scheme is None:
                self.scheme = "https"
                if self.allow_http:
                    try:
                        self._roundtrip("https", self.host, "GET", "/v2/", {}, None, timeout=5)
                    except (ssl.SSLError, OSError, http.client.HTTPException):
                        self.scheme = "http"
            return self.scheme

    def _roundtrip(self, scheme: str, netloc: str, method: str, target: str, headers: dict, body,
                   *, timeout: float | None = None, stream: bool = False) -> Response:
        """One request on the thread's connection; a stale keep-alive connection is retried once."""
        for attempt in (1, 2):
            route = self._connection(scheme, netloc)
            conn = route.conn
            if timeout is not None:
                conn.timeout = timeout
            send_target, send_headers = target, headers
            if route.forward is not None:
                # A plain-http proxy takes the absolute URL as the target.
                send_target, send_headers = f"http://{netloc}{target}", {**headers, **route.forward.headers()}
            try:
                conn.request(method, send_target, body=body, headers=send_headers)
                raw = conn.getresponse()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._drop_connection(scheme, netloc)
                if attempt == 2 or not _rewindable(body):
                    raise
                continue
            except BaseException:
                self._drop_connection(scheme, netloc)
                raise
            finally:
                if timeout is not None:
                    conn.timeout = self.timeout
            if stream and raw.status < 300:
                # The caller owns this connection now; the next request opens another.
                self._local.pool.pop((scheme, netloc), None)
                return Response(raw.status, raw.headers, stream=raw)
            data = raw.read()  # HEAD reads nothing, but the connection must see the response finished
            if raw.will_close:
                self._drop_connection(scheme, netloc)
            return Response(raw.status, raw.headers, data)
        raise AssertionError("unreachable")

    # -- requests ------------------------------------------------------------------
    def request(self, method: str, target: str, *, scope: str, what: str, headers: dict | None = None,
                body: bytes | BinaryIO | None = None, ok: tuple[int, ...] = (200,),
                stream: bool = False) -> Response:
        """Send a request to ``target`` (a ``/v2/…`` path or an absolute URL the registry gave).

        Answers a 401 by authenticating for ``scope`` and trying once more,
        follows redirects (dropping credentials when they leave this host), and
        raises for any status not in ``ok``; ``what`` names the request in errors.
        """
        scheme, netloc, path = self._split(target)
        send_headers = dict(headers or {})
        if body is None and method in ("PUT", "POST", "PATCH"):
            send_headers.setdefault("Content-Length", "0")
        authorization = self.auth.header(scope)
        rounds = tries = 0
        while rounds < 6:
            if authorization and netloc == self.host:
                send_headers["Authorization"] = authorization
            else:
                send_headers.pop("Authorization", None)
            try:
                response = self._roundtrip(scheme, netloc, method, path, send_headers, body, stream=stream)
            except (OSError, http.client.HTTPException) as error:
                raise RegistryError(f"{self.domain}: {what}: {_describe(error)}") from None
            tries += 1
            if self.retry.should_retry(response.status, tries) and _rewindable(body):
                self.retry.wait(tries, response.header("Retry-After"))
                continue
            rounds += 1
            if response.status == 401 and netloc == self.host and "Authorization" not in send_headers \
                    or response.status == 401 and authorization and _expired(response):
                authorization = self.auth.answer(response.header("WWW-Authenticate"), scope, self._fetch_token)
                if not _rewindable(body):
                    raise RegistryError(f"{self.domain}: {what}: authentication needed mid-upload")
                continue
            if response.status in _REDIRECTS and method in ("GET", "HEAD"):
                location = response.header("Location")
                if not location:
                    raise RegistryError(f"{self.domain}: {what}: redirect without a Location")
                scheme, netloc, path = self._split(urllib.parse.urljoin(f"{scheme}://{netloc}{path}", location))
                continue
            if response.status not in ok:
                if response.stream is not None:
                    response.stream.close()
                raise _status_error(self.domain, what, response, tries)
            return response
        raise RegistryError(f"{self.domain}: {what}: too many redirects or authentication rounds")

    def _split(self, target: str) -> tuple[str, str, str]:
        if target.startswith("/"):
            return self._choose_scheme(), self.host, target
        parts = urllib.parse.urlsplit(target)
        if parts.scheme == "http" and parts.netloc == self.host and not self.allow_http:
            raise RegistryError(f"{self.domain}: refusing plain http to a registry not named insecure")
        path = parts.path + (f"?{parts.query}" if parts.query else "")
        return parts.scheme, parts.netloc, path or "/"

    def _fetch_token(self, realm: str, service: str, scope: str, credentials: Credentials | None,
                     refresh_token: str | None) -> TokenGrant:
        return request_token(self._send_to_token_server, self.domain, realm, service, scope, credentials,
                             refresh_token, offline=self.offline_token)

    def _send_to_token_server(self, method: str, url: str, headers: dict, body: bytes | None) -> tuple[int, bytes]:
        """One token request, through the same proxies and retries as the registry's own requests."""
        parts = urllib.parse.urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise RegistryError(f"{self.domain}: token realm {url!r} is not an http(s) URL")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        tries = 0
        while True:
            try:
                response = self._roundtrip(parts.scheme, parts.netloc, method, target, headers, body)
            except (OSError, http.client.HTTPException) as error:
                raise RegistryError(f"{self.domain}: cannot get a token from {url.split('?')[0]}: "
                                    f"{_describe(error)}") from None
            tries += 1
            if not self.retry.should_retry(response.status, tries):
                return response.status, response.body
            self.retry.wait(tries, response.header("Retry-After"))

    def ping(self) -> Response:
        """``GET /v2/`` with whatever credentials we hold: proves the registry answers and accepts them."""
        return self.request("GET", "/v2/", scope="", what="checking the registry")

    def close(self) -> None:
        for route in getattr(self._local, "pool", {}).values():
            route.conn.close()
        self._local.pool = {}


def _rewindable(body) -> bool:
    return body is None or isinstance(body, bytes) or _rewind(body)


def _rewind(body) -> bool:
    try:
        body.seek(0)
        return True
    except (AttributeError, OSError, ValueError):
        return False


def _expired(response: Response) -> bool:
    return 'error="invalid_token"' in response.header("WWW-Authenticate")


def _describe(error: BaseException) -> str:
    if isinstance(error, ConnectionRefusedError):
        return "connection refused (is the registry running?)"
    if isinstance(error, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(error, http.client.RemoteDisconnected):
        return "the registry closed the connection"
    if isinstance(error, http.client.IncompleteRead):
        return "the registry closed the connection mid-transfer"
    if isinstance(error, ssl.SSLError):
        return f"TLS error: {error.reason or error}"
    text = getattr(error, "strerror", None) or str(error) or type(error).__name__
    return text


def _status_error(domain: str, what: str, response: Response, tries: int = 1) -> Exception:
    detail = ""
    try:
        errors = json.loads(response.body).get("errors") or []
        detail = "; ".join(f"{e.get('code', '')}: {e.get('message', '')}".strip(": ") for e in errors)
    except (ValueError, AttributeError, TypeError):
        pass
    detail = detail or response.body[:200].decode(errors="replace").strip() or http.client.responses.get(
        response.status, "")
    if response.status == 404:
        return NotFound(f"{domain}: {what}: not found ({detail})")
    if response.status in (401, 403):
        return RegistryError(f"{domain}: {what}: access denied ({detail}); run: layerlab login {domain}")
    after = f" after {tries} tries" if tries > 1 and response.status in RETRY_STATUSES else ""
    return RegistryError(f"{domain}: {what}: registry answered {response.status} ({detail}){after}")
