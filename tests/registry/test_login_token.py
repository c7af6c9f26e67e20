"""``login`` against a token server: an identity token (OAuth2 refresh token) is fetched with the
password, stored as docker stores it, and used instead of the password from then on."""

from __future__ import annotations

import base64
import json

from layerlab.engine.registry.auth import Credentials, DockerConfig
from layerlab.engine.registry.pull import pull
from layerlab.engine.registry.push import push
from layerlab.engine.store import Store
from tests.registry.images import test_image as make_image
from tests.registry.servers import PASSWORD, USER


def _login(cli, host: str):
    return cli("login", "-u", USER, "--password-stdin", host, stdin=PASSWORD.encode())


def test_login_stores_the_identity_token_and_later_requests_use_it(token_registry, tmp_path, cli, docker_config):
    tokens = token_registry.tokens
    tokens.offline_refresh = True
    result = _login(cli, token_registry.host)
    assert result.code == 0 and "Login Succeeded" in result.out, result.err
    asked = tokens.queries[-1]
    assert asked["offline_token"] == ["true"] and asked["account"] == [USER] and asked["client_id"]
    entry = json.loads((docker_config / "config.json").read_text())["auths"][token_registry.host]
    identity = entry["identitytoken"]
    assert identity in tokens.refresh_tokens
    assert base64.b64decode(entry["auth"]).decode() == f"{USER}:"       # the password is not kept
    assert DockerConfig().get(token_registry.host) == Credentials("<token>", identity)

    grants_at_login = len(tokens.grants)
    store = Store.open(tmp_path / "a")
    built = store.put_image(make_image([1000], seed=61), tags=["idtok:1"])
    push(f"{token_registry.host}/idtok/app:1", store, source="idtok:1")
    assert pull(f"{token_registry.host}/idtok/app:1", Store.open(tmp_path / "b")).id == built.id
    later = tokens.grants[grants_at_login:]
    assert later and set(later) == {"refresh_token"}                    # no password after login


def test_login_keeps_the_password_when_no_identity_token_is_offered(token_registry, cli, docker_config):
    result = _login(cli, token_registry.host)
    assert result.code == 0, result.err
    assert token_registry.tokens.queries[-1]["offline_token"] == ["true"]
    entry = json.loads((docker_config / "config.json").read_text())["auths"][token_registry.host]
    assert "identitytoken" not in entry
    assert base64.b64decode(entry["auth"]).decode() == f"{USER}:{PASSWORD}"
