"""Registry credentials and the auth handshake (anonymous, Basic, Bearer tokens).

Credentials come from Docker's own ``config.json`` (``$DOCKER_CONFIG`` or
``~/.docker``): ``credHelpers[host]`` first, then ``credsStore``, then the
base64 ``auths[host].auth`` entry, exactly the order the docker CLI uses, so
a ``docker login`` works for layerlab and a ``layerlab login`` for docker.

The handshake follows the distribution token spec: a 401 carries
``WWW-Authenticate: Bearer realm=…,service=…,scope=…``; we ask the realm for a
token for that service and scope (sending Basic credentials when we have
them) and retry with ``Authorization: Bearer``. ``Basic realm=…`` means the
registry takes the credentials directly.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import threading
import time
from pathlib import Path

from layerlab.engine.errors import RegistryError
from layerlab.engine.record_type import record

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
_CHALLENGE_PARAM = re.compile(r'(\w+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]+))')


@record(frozen=True)
class Credentials:
    username: str
    secret: str

    @property
    def is_token(self) -> bool:
        """An identity token (docker's ``<token>`` username) is sent as an OAuth2 refresh token."""
        return self.username == "<token>"

    def basic_header(self) -> str:
        return "Basic " + base64.b64encode(f"{self.username}:{self.secret}".encode()).decode()


@record(frozen=True)
class Challenge:
    scheme: str                 # "basic" or "bearer"
    params: dict[str, str]

    @classmethod
    def parse(cls, header: str) -> "Challenge | None":
        scheme, _, rest = header.strip().partition(" ")
        if not scheme:
            return None
        params = {m.group(1).lower(): (m.group(2) if m.group(2) is not None else m.group(3))
                  for m in _CHALLENGE_PARAM.finditer(rest)}
        return cls(scheme.lower(), params)


def config_dir() -> Path:
    return Path(os.environ.get("DOCKER_CONFIG") or Path.home() / ".docker")


def config_key(domain: str) -> str:
    """The key Docker files a registry's credentials under (Docker Hub keeps its legacy URL)."""
    return DOCKER_HUB_KEY if domain == "docker.io" else domain


class DockerConfig:
    """Read and write the credential parts of Docker's ``config.json``; other keys are kept as they are."""

    def __init__(self, directory: Path | None = None):
        self.directory = directory or config_dir()
        self.path = self.directory / "config.json"

    def load(self) -> dict:
        try:
            data = json.loads(self.path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as error:
            raise RegistryError(f"{self.path}: cannot read the Docker config: {error}") from None
        if not isinstance(data, dict):
            raise RegistryError(f"{self.path}: the Docker config is not a JSON object")
        return data

    def save(self, data: dict) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        # A symlinked config.json (dotfiles kept elsewhere) stays a symlink: write where it points,
        # as docker's own client does.
        target = Path(os.path.realpath(self.path))
        temp = target.with_name(f".{target.name}.{os.getpid()}")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent="\t")
            out.write("\n")
        os.replace(temp, target)

    def helper_for(self, domain: str, data: dict | None = None) -> str | None:
        data = self.load() if data is None else data
        key = config_key(domain)
        helpers = data.get("credHelpers") or {}
        return helpers.get(key) or helpers.get(domain) or data.get("credsStore") or None

    def get(self, domain: str) -> Credentials | None:
        data = self.load()
        key = config_key(domain)
        helper = self.helper_for(domain, data)
        if helper:
            found = helper_get(helper, key)
            if found is not None:
                return found
        entry = (data.get("auths") or {}).get(key) or (data.get("auths") or {}).get(f"https://{key}")
        if not entry:
            return None
        if entry.get("identitytoken"):
            return Credentials("<token>", entry["identitytoken"])
        if entry.get("auth"):
            try:
                user, _, secret = base64.b64decode(entry["auth"]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise RegistryError(f"{self.path}: auths[{key!r}].auth is not base64 of user:password") from None
            return Credentials(user, secret)
        if entry.get("username"):
            return Credentials(entry["username"], entry.get("password", ""))
        return None

    def store(self, domain: str, credentials: Credentials, identity_token: str | None = None) -> str:
        """Remember credentials; returns where they went ("helper NAME" or the config file).

        With an ``identity_token`` (a refresh token the registry's token server gave ``login``) the
        password is not kept, as docker keeps it: a helper gets ``<token>`` and the token, the file
        ``auth`` with the user name alone and ``identitytoken``."""
        data = self.load()
        key = config_key(domain)
        helper = self.helper_for(domain, data)
        if identity_token is None and credentials.is_token:
            identity_token = credentials.secret
        if helper:
            username, secret = ("<token>", identity_token) if identity_token else (credentials.username,
                                                                                   credentials.secret)
            helper_run(helper, "store", json.dumps({"ServerURL": key, "Username": username, "Secret": secret}))
            data.setdefault("auths", {}).setdefault(key, {})
            data["auths"][key].pop("auth", None)
            data["auths"][key].pop("identitytoken", None)
            self.save(data)
            return f"credential helper docker-credential-{helper}"
        entry: dict[str, str] = {}
        previous = (data.get("auths") or {}).get(key) or {}
        if identity_token:
            if not credentials.is_token:
                entry["auth"] = base64.b64encode(f"{credentials.username}:".encode()).decode()
            elif previous.get("auth"):
                entry["auth"] = previous["auth"]   # logging in again with the token keeps the user name
            entry["identitytoken"] = identity_token
        else:
            entry["auth"] = base64.b64encode(f"{credentials.username}:{credentials.secret}".encode()).decode()
        data.setdefault("auths", {})[key] = entry
        self.save(data)
        return str(self.path)

    def erase(self, domain: str) -> bool:
        """Forget credentials; False when there were none."""
        data = self.load()
        key = config_key(domain)
        helper = self.helper_for(domain, data)
        found = False
        if helper:
            try:
                helper_run(helper, "erase", key)
                found = True
            except RegistryError:
                pass
        auths = data.get("auths") or {}
        if key in auths:
            del auths[key]
            self.save(data)
            found = True
        return found


def helper_run(helper: str, action: str, stdin: str) -> str:
    program = f"docker-credential-{helper}"
    try:
        result = subprocess.run([program, action], input=stdin.encode(), capture_output=True, timeout=60)
    except FileNotFoundError:
        raise RegistryError(f"credential helper {program} is not installed") from None
    except subprocess.TimeoutExpired:
        raise RegistryError(f"credential helper {program} {action} timed out") from None
    if result.returncode != 0:
        message = (result.stdout or result.stderr).decode(errors="replace").strip()
        raise RegistryError(f"credential helper {program} {action} failed: {message}")
    return result.stdout.decode()


def helper_get(helper: str, key: str) -> Credentials | None:
    try:
        output = helper_run(helper, "get", key)
    except RegistryError as error:
        if "credentials not found" in str(error).lower():
            return None
        raise
    try:
        data = json.loads(output)
        return Credentials(data["Username"], data["Secret"])
    except (ValueError, KeyError, TypeError):
        raise RegistryError(f"credential helper docker-credential-{helper} gave unreadable output") from None


@record
class _Token:
    value: str
    expires: float


class Authenticator:
    """Per-registry auth state shared by the client's threads: the scheme learnt, tokens by scope."""

    def __init__(self, domain: str, credentials: Credentials | None):
        self.domain = domain
        self.credentials = credentials
        self.challenge: Challenge | None = None
        self._tokens: dict[str, _Token] = {}
        self.refresh_token: str | None = None   # an OAuth2 refresh token a token server gave us
        self._lock = threading.Lock()

    def header(self, scope: str) -> str | None:
        """The Authorization header for a request needing ``scope``, when we already know how."""
        if self.challenge is None:
            return None
        if self.challenge.scheme == "basic":
            return self.credentials.basic_header() if self.credentials else None
        with self._lock:
            token = self._tokens.get(scope)
        if token is not None and token.expires > time.time():
            return f"Bearer {token.value}"
        return None

    def answer(self, header: str, scope: str, fetch_token) -> str:
        """Handle a 401's ``WWW-Authenticate``; returns the header to retry with."""
        challenge = Challenge.parse(header or "")
        if challenge is None or challenge.scheme not in ("basic", "bearer"):
            raise RegistryError(f"{self.domain}: unsupported authentication challenge {header!r}")
        self.challenge = challenge
        if challenge.scheme == "basic":
            if self.credentials is None:
                raise RegistryError(f"{self.domain}: authentication required (run: layerlab login {self.domain})")
            return self.credentials.basic_header()
        realm = challenge.params.get("realm")
        if not realm:
            raise RegistryError(f"{self.domain}: Bearer challenge without a realm")
        wanted = scope or challenge.params.get("scope", "")
        grant = fetch_token(realm, challenge.params.get("service", ""), wanted, self.credentials,
                            self.refresh_token)
        with self._lock:
            # Renew a little early so a token never expires in the middle of a request.
            self._tokens[scope] = _Token(grant.token, time.time() + max(grant.lifetime - 10, 5))
            if grant.refresh_token:
                self.refresh_token = grant.refresh_token
        return f"Bearer {grant.token}"
