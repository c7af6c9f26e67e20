"""``login``: prove credentials against a registry and remember them as ``docker login`` does.

The check is ``GET /v2/`` with the credentials. Behind a token server the password grant asks
for offline access (``offline_token=true``); a server that answers with a ``refresh_token`` has
issued an identity token, and that is what gets stored (config.json ``identitytoken``, or a
credential helper's ``<token>`` secret) instead of the password. Later requests trade it for
access tokens with the OAuth2 ``grant_type=refresh_token`` POST (``tokens.py``).
"""

from __future__ import annotations

from layerlab.engine.record_type import record
from layerlab.engine.registry.auth import Credentials, DockerConfig
from layerlab.engine.registry.client import RegistryClient


@record(frozen=True)
class LoginResult:
    stored_in: str               # the config file, or "credential helper docker-credential-NAME"
    identity_token: bool         # an identity token was stored in place of the password


def log_in(server: str, credentials: Credentials, *, insecure: bool = False,
           config: DockerConfig | None = None) -> LoginResult:
    client = RegistryClient(server, insecure=insecure, credentials=credentials, offline_token=True)
    try:
        client.ping()
    finally:
        client.close()
    identity = client.auth.refresh_token
    if identity is None and credentials.is_token:
        identity = credentials.secret
    stored_in = (config or DockerConfig()).store(server, credentials, identity_token=identity)
    return LoginResult(stored_in, identity is not None)


__all__ = ["LoginResult", "log_in"]
