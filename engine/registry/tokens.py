"""Asking a token server for a Bearer token, as the distribution token spec describes.

Two ways in:

- ``GET realm?service=…&scope=…`` with Basic credentials (or none, for
  anonymous pulls). The answer has ``token`` (or ``access_token``),
  ``expires_in`` and, when the server offers one, a ``refresh_token``.
- ``POST realm`` with the form ``grant_type=refresh_token``: the OAuth2 flow,
  used when we hold a refresh token, either an identity token from
  ``docker login`` (config.json's ``identitytoken``) or one a token server
  gave us earlier in this run. It saves sending the password for every scope.

When a refresh token is refused and a password is at hand, the password is
tried once; that is what Docker does too.

``login`` asks for an identity token: its password grant adds
``offline_token=true`` and ``client_id`` (as docker login does), and a token
server that answers with a ``refresh_token`` has given one.
"""

from __future__ import annotations

import json
import urllib.parse
from typing import Callable

from layerlab.engine.errors import RegistryError
from layerlab.engine.record_type import record
from layerlab.engine.registry.auth import Credentials

CLIENT_ID = "layerlab"


@record(frozen=True)
class TokenGrant:
    token: str
    lifetime: int                   # seconds
    refresh_token: str | None       # a new refresh token, when the server gave one


# (method, url, headers, body) -> (status, body): the client's proxied, retried request
Send = Callable[[str, str, dict, bytes | None], tuple[int, bytes]]


def request_token(send: Send, domain: str, realm: str, service: str, scope: str,
                  credentials: Credentials | None, refresh_token: str | None, *, offline: bool = False) -> TokenGrant:
    refresh = refresh_token or (credentials.secret if credentials is not None and credentials.is_token else None)
    if refresh:
        form = {"grant_type": "refresh_token", "refresh_token": refresh, "client_id": CLIENT_ID}
        form.update({k: v for k, v in (("service", service), ("scope", scope)) if v})
        status, body = send("POST", realm, {"Content-Type": "application/x-www-form-urlencoded"},
                            urllib.parse.urlencode(form).encode())
        if status == 200:
            return _grant(domain, realm, body)
        if status not in (400, 401, 403, 404, 405) or credentials is None or credentials.is_token:
            raise _refused(domain, realm, status)
    params = {k: v for k, v in (("service", service), ("scope", scope)) if v}
    if offline:
        params.update(offline_token="true", client_id=CLIENT_ID)
        if credentials is not None and not credentials.is_token:
            params["account"] = credentials.username
    query = urllib.parse.urlencode(params)
    url = realm + ("&" if "?" in realm else "?") + query if query else realm
    headers = {"Authorization": credentials.basic_header()} if credentials is not None \
        and not credentials.is_token else {}
    status, body = send("GET", url, headers, None)
    if status != 200:
        raise _refused(domain, realm, status)
    return _grant(domain, realm, body)


def _grant(domain: str, realm: str, body: bytes) -> TokenGrant:
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise RegistryError(f"{domain}: token server {realm} answered something that is not JSON")
    token = data.get("token") or data.get("access_token")
    if not token or not isinstance(token, str):
        raise RegistryError(f"{domain}: token server {realm} sent no token")
    try:
        lifetime = int(data.get("expires_in") or 60)
    except (TypeError, ValueError):
        lifetime = 60
    refresh = data.get("refresh_token")
    return TokenGrant(token, lifetime, refresh if isinstance(refresh, str) and refresh else None)


def _refused(domain: str, realm: str, status: int) -> RegistryError:
    if status in (400, 401, 403):
        return RegistryError(f"{domain}: the token server refused the credentials (run: layerlab login {domain})")
    return RegistryError(f"{domain}: token server {realm} answered {status}")
