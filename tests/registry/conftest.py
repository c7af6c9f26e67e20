"""Registries for the registry tests: open, htpasswd Basic auth, and token (Bearer) auth."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.registry.servers import Registry, TokenServer, htpasswd_file


@pytest.fixture(autouse=True)
def docker_config(tmp_path: Path, monkeypatch) -> Path:
    """Credentials go to a config.json of the test's own, never the user's."""
    directory = tmp_path / "docker-config"
    monkeypatch.setenv("DOCKER_CONFIG", str(directory))
    return directory


@pytest.fixture
def no_proxy_env(monkeypatch):
    """No proxy variables from the machine: a test sets the ones it means."""
    for name in ("HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY", "https_proxy", "http_proxy", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def registry(tmp_path: Path):
    server = Registry(tmp_path / "registry").start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def shared_registry(tmp_path_factory):
    """One open registry for a module's tests that only add distinct repositories."""
    server = Registry(tmp_path_factory.mktemp("shared-registry")).start()
    yield server
    server.stop()


@pytest.fixture
def basic_registry(tmp_path: Path):
    workdir = tmp_path / "basic-registry"
    workdir.mkdir()
    passwords = htpasswd_file(workdir / "htpasswd")
    server = Registry(workdir, auth={"htpasswd": {"realm": "layerlab-test", "path": str(passwords)}}).start()
    yield server
    server.stop()


@pytest.fixture
def token_registry(tmp_path: Path):
    tokens = TokenServer(tmp_path / "token-server").start()
    server = Registry(tmp_path / "token-registry", auth=tokens.registry_auth()).start()
    server.tokens = tokens
    yield server
    server.stop()
    tokens.stop()
