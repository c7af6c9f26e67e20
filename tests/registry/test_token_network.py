"""The token server reached the hard way: through the proxy, and past 429s and 5xxs, as the
registry's own requests are (a real docker-registry with token auth behind both)."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from layerlab.engine.registry.client import RegistryClient
from layerlab.engine.registry.pull import pull
from layerlab.engine.registry.push import push
from layerlab.engine.registry.retry import RetryPolicy
from layerlab.engine.store import Store
from tests.registry.images import test_image as make_image
from tests.registry.middlemen import Fault, FaultInjector, ForwardProxy
from tests.registry.servers import PASSWORD, USER, Registry, TokenServer

REGISTRY_NAME = "registry.layerlab.test"   # resolvable only by the proxy
TOKENS_NAME = "tokens.layerlab.test"


def _password_config(docker_config: Path, host: str) -> None:
    docker_config.mkdir(parents=True, exist_ok=True)
    auth = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    (docker_config / "config.json").write_text(json.dumps({"auths": {host: {"auth": auth}}}))


def test_token_requests_go_through_the_proxy(tmp_path, no_proxy_env, docker_config):
    tokens = TokenServer(tmp_path / "tokens")
    tokens.realm_host = f"{TOKENS_NAME}:{tokens.port}"
    tokens.offer_refresh = True      # the refresh_token POST goes through the proxy too
    tokens.start()
    registry = Registry(tmp_path / "registry", auth=tokens.registry_auth()).start()
    proxy = ForwardProxy({REGISTRY_NAME: registry.port, TOKENS_NAME: tokens.port}).start()
    try:
        domain = f"{REGISTRY_NAME}:{registry.port}"
        no_proxy_env.setenv("HTTP_PROXY", proxy.url)
        no_proxy_env.setenv("HTTPS_PROXY", proxy.url)
        no_proxy_env.setenv("LAYERLAB_INSECURE_REGISTRIES", domain)
        _password_config(docker_config, domain)
        store = Store.open(tmp_path / "a")
        built = store.put_image(make_image([2500], seed=71), tags=["tokproxy:1"])
        client = RegistryClient(domain)
        push(f"{domain}/viaproxy/app:1", store, source="tokproxy:1", client=client)
        assert pull(f"{domain}/viaproxy/app:1", Store.open(tmp_path / "b"), client=client).id == built.id
        token_calls = [(method, target) for method, target in proxy.seen if TOKENS_NAME in target]
        assert ("GET" in {m for m, _ in token_calls}) and ("POST" in {m for m, _ in token_calls}), proxy.seen
        assert tokens.grants[0] == "password" and "refresh_token" in tokens.grants
    finally:
        proxy.stop()
        registry.stop()
        tokens.stop()


def test_token_requests_ride_out_429s_and_5xxs(tmp_path, no_proxy_env, docker_config):
    tokens = TokenServer(tmp_path / "tokens")
    faults = [Fault(r"^GET /token", 503, 2, retry_after="0"), Fault(r"^GET /token", 429, 1, retry_after="2")]
    injector = FaultInjector(tokens.port, faults).start()
    tokens.realm_host = injector.host
    tokens.start()
    registry = Registry(tmp_path / "registry", auth=tokens.registry_auth()).start()
    try:
        _password_config(docker_config, registry.host)
        store = Store.open(tmp_path / "a")
        built = store.put_image(make_image([1800], seed=72), tags=["tokretry:1"])
        delays: list[float] = []
        client = RegistryClient(registry.host, retry=RetryPolicy(attempts=5, sleep=delays.append))
        push(f"{registry.host}/flakytokens/app:1", store, source="tokretry:1", client=client)
        assert pull(f"{registry.host}/flakytokens/app:1", Store.open(tmp_path / "b"), client=client).id == built.id
        assert [fault.served for fault in faults] == [2, 1]
        # Retry-After: 0, 0 and 2 seconds; a push fetches tokens on several threads, so in any order.
        assert sorted(delays) == [0.0, 0.0, 2.0]
        assert tokens.grants                        # the token server was reached in the end
    finally:
        registry.stop()
        injector.stop()
        tokens.stop()
