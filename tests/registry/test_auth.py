"""Basic auth (htpasswd), the Bearer token flow, login/logout and credential helpers."""

from __future__ import annotations

import base64
import json
import os
import stat
import sys

import pytest

from layerlab.engine.errors import RegistryError
from layerlab.engine.registry.auth import Challenge, Credentials, DockerConfig
from layerlab.engine.registry.client import RegistryClient
from layerlab.engine.registry.pull import pull
from layerlab.engine.registry.push import push
from layerlab.engine.store import Store
from tests.registry.images import test_image as make_image
from tests.registry.servers import PASSWORD, USER


def _login(cli, host: str, password: str = PASSWORD):
    return cli("login", "-u", USER, "--password-stdin", host, stdin=password.encode())


def test_basic_auth_needs_login_and_logout_forgets(basic_registry, tmp_path, cli, docker_config):
    store = Store.open(tmp_path / "a")
    store.put_image(make_image([1000], seed=20), tags=["secret:1"])
    target = f"{basic_registry.host}/private/app:1"
    with pytest.raises(RegistryError, match=f"authentication required.*layerlab login {basic_registry.host}"):
        push(target, store, source="secret:1")

    wrong = _login(cli, basic_registry.host, "not-the-password")
    assert wrong.code != 0 and "access denied" in wrong.err
    assert not (docker_config / "config.json").exists()

    good = _login(cli, basic_registry.host)
    assert good.code == 0 and good.out == "Login Succeeded\n", good.err
    config = json.loads((docker_config / "config.json").read_text())
    assert base64.b64decode(config["auths"][basic_registry.host]["auth"]).decode() == f"{USER}:{PASSWORD}"
    assert stat.S_IMODE(os.stat(docker_config / "config.json").st_mode) == 0o600

    push(target, store, source="secret:1")
    assert pull(target, Store.open(tmp_path / "b")).id == store.image("secret:1").id

    out = cli("logout", basic_registry.host)
    assert out.out == f"Removing login credentials for {basic_registry.host}\n"
    assert basic_registry.host not in json.loads((docker_config / "config.json").read_text())["auths"]
    with pytest.raises(RegistryError, match="authentication required"):
        pull(target, Store.open(tmp_path / "c"))
    assert cli("logout", basic_registry.host).out == f"Not logged in to {basic_registry.host}\n"


def test_bearer_token_flow(token_registry, tmp_path, cli):
    store = Store.open(tmp_path / "a")
    store.put_image(make_image([1000, 2000], seed=21), tags=["tok:1"])
    target = f"{token_registry.host}/tokens/app:1"
    with pytest.raises(RegistryError, match="token server refused"):
        push(target, store, source="tok:1")
    assert _login(cli, token_registry.host).code == 0
    push(target, store, source="tok:1")
    pulled = pull(target, Store.open(tmp_path / "b"))
    assert pulled.id == store.image("tok:1").id
    scopes = {scope for _, scope in token_registry.tokens.requests}
    assert "repository:tokens/app:pull,push" in scopes
    assert "repository:tokens/app:pull" in scopes
    assert all(user == USER for user, _ in token_registry.tokens.requests)


def test_credential_helper_is_used_for_get_and_store(basic_registry, tmp_path, cli, docker_config, monkeypatch):
    """``credHelpers`` names a ``docker-credential-*`` program; login stores through it, pulls read from it."""
    bin_dir, vault = tmp_path / "bin", tmp_path / "vault.json"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-layerlabtest"
    helper.write_text(f"""#!{sys.executable}
import json, sys
vault = {str(vault)!r}
try:
    data = json.load(open(vault))
except FileNotFoundError:
    data = {{}}
action, payload = sys.argv[1], sys.stdin.read()
if action == "store":
    entry = json.loads(payload); data[entry["ServerURL"]] = [entry["Username"], entry["Secret"]]
    json.dump(data, open(vault, "w"))
elif action == "get":
    if payload.strip() not in data:
        print("credentials not found in native keychain"); sys.exit(1)
    user, secret = data[payload.strip()]
    print(json.dumps({{"ServerURL": payload.strip(), "Username": user, "Secret": secret}}))
elif action == "erase":
    data.pop(payload.strip(), None); json.dump(data, open(vault, "w"))
""")
    helper.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    docker_config.mkdir()
    (docker_config / "config.json").write_text(json.dumps({"credHelpers": {basic_registry.host: "layerlabtest"}}))

    assert _login(cli, basic_registry.host).code == 0
    assert json.loads(vault.read_text())[basic_registry.host] == [USER, PASSWORD]
    assert "auth" not in json.loads((docker_config / "config.json").read_text())["auths"].get(basic_registry.host, {})
    assert DockerConfig().get(basic_registry.host) == Credentials(USER, PASSWORD)

    store = Store.open(tmp_path / "a")
    store.put_image(make_image([900], seed=22), tags=["helped:1"])
    push(f"{basic_registry.host}/helped:1", store, source="helped:1")
    assert cli("logout", basic_registry.host).code == 0
    assert json.loads(vault.read_text()) == {}


def test_credentials_from_a_docker_written_config(basic_registry, docker_config):
    docker_config.mkdir()
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (docker_config / "config.json").write_text(json.dumps({"auths": {basic_registry.host: {"auth": auth}},
                                                           "detachKeys": "ctrl-e,e"}))
    assert RegistryClient(basic_registry.host).ping().status == 200
    DockerConfig().erase(basic_registry.host)
    assert json.loads((docker_config / "config.json").read_text())["detachKeys"] == "ctrl-e,e"


def test_plain_http_only_for_loopback_or_named_insecure(monkeypatch):
    assert RegistryClient("127.0.0.1:5000").allow_http
    assert RegistryClient("localhost:5000").allow_http
    assert RegistryClient("[::1]:5000").allow_http
    assert not RegistryClient("registry.example:5000").allow_http
    assert RegistryClient("registry.example:5000", insecure=True).allow_http
    monkeypatch.setenv("LAYERLAB_INSECURE_REGISTRIES", "registry.example:5000, other.example")
    assert RegistryClient("registry.example:5000").allow_http
    assert not RegistryClient("third.example").allow_http
    with pytest.raises(RegistryError, match="refusing plain http"):
        RegistryClient("third.example")._split("http://third.example/v2/x/blobs/uploads/1")


def test_challenge_parsing():
    challenge = Challenge.parse('Bearer realm="https://auth.example/token",service="registry.example",'
                                'scope="repository:a/b:pull,push"')
    assert challenge.scheme == "bearer"
    assert challenge.params == {"realm": "https://auth.example/token", "service": "registry.example",
                                "scope": "repository:a/b:pull,push"}
    assert Challenge.parse('Basic realm="Registry Realm"').params == {"realm": "Registry Realm"}
