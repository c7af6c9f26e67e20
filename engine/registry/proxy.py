"""Which proxy a registry request goes through, read from the environment as Docker reads it.

``HTTPS_PROXY`` and ``HTTP_PROXY`` (upper case first, then lower case) name
the proxy for each scheme; a proxy without a scheme is ``http://``.
``NO_PROXY`` is a comma-separated list of hosts that go direct:
``example.com`` matches that host and its subdomains, ``.example.com`` only
the subdomains, an IP or a CIDR matches addresses, ``host:port`` only that
port, and ``*`` turns proxying off. As in Go's ``net/http`` (which Docker's
daemon uses), loopback hosts never go through a proxy.

A proxied https request is a ``CONNECT`` tunnel; a proxied http request is
sent to the proxy with the absolute URL as its target. Credentials in the
proxy URL become a ``Proxy-Authorization`` header.
"""

from __future__ import annotations

import base64
import ipaddress
import os
import urllib.parse

from layerlab.engine.errors import RegistryError
from layerlab.engine.record_type import record

_LOOPBACK_NAMES = ("localhost",)


@record(frozen=True)
class Proxy:
    host: str
    port: int
    authorization: str | None    # the Proxy-Authorization header value, when the URL had credentials

    @property
    def netloc(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"

    def headers(self) -> dict[str, str]:
        return {"Proxy-Authorization": self.authorization} if self.authorization else {}


def _env(name: str) -> str:
    return os.environ.get(name.upper()) or os.environ.get(name.lower()) or ""


def proxy_for(scheme: str, netloc: str) -> Proxy | None:
    """The proxy for a request to ``scheme://netloc``, or None to go direct."""
    url = _env("https_proxy") if scheme == "https" else _env("http_proxy")
    if not url:
        return None
    host, port = split_netloc(netloc, 443 if scheme == "https" else 80)
    if is_loopback_host(host) or bypassed(host, port, _env("no_proxy")):
        return None
    return parse_proxy(url)


def parse_proxy(url: str) -> Proxy:
    if "://" not in url:
        url = "http://" + url
    parts = urllib.parse.urlsplit(url)
    if parts.scheme != "http":
        raise RegistryError(f"proxy {parts.scheme}://{parts.hostname}: only http:// proxies are supported")
    if not parts.hostname:
        raise RegistryError(f"proxy {url!r}: no host")
    try:
        port = parts.port or 80
    except ValueError:
        raise RegistryError(f"proxy {url!r}: bad port") from None
    authorization = None
    if parts.username is not None:
        user = urllib.parse.unquote(parts.username)
        password = urllib.parse.unquote(parts.password or "")
        authorization = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    return Proxy(parts.hostname, port, authorization)


def split_netloc(netloc: str, default_port: int) -> tuple[str, int]:
    if netloc.startswith("["):
        host, _, rest = netloc[1:].partition("]")
        return host, int(rest[1:]) if rest.startswith(":") and rest[1:].isdigit() else default_port
    host, sep, port = netloc.rpartition(":")
    if sep and port.isdigit() and ":" not in host:
        return host, int(port)
    return netloc, default_port


def is_loopback_host(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def bypassed(host: str, port: int, no_proxy: str) -> bool:
    """Whether ``NO_PROXY`` sends ``host:port`` direct."""
    host = host.lower().rstrip(".")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        address = None
    for entry in (item.strip().lower() for item in no_proxy.split(",")):
        if not entry:
            continue
        if entry == "*":
            return True
        if address is not None:
            try:
                if address in ipaddress.ip_network(entry, strict=False):
                    return True
                continue
            except ValueError:
                pass
        name, entry_port = split_netloc(entry, 0)
        if entry_port and entry_port != port:
            continue
        if address is not None:
            if name == host:
                return True
            continue
        if name.startswith("*."):
            name = name[1:]
        if name.startswith("."):
            if host.endswith(name):
                return True
        elif host == name or host.endswith("." + name):
            return True
    return False
