"""Real registries reached the hard way: through an HTTP proxy, past injected 429s and 5xxs,
and with OAuth2 refresh tokens instead of passwords."""

from __future__ import annotations

import base64
import email.utils
import json
import time

import pytest

from layerlab.engine.errors import RegistryError
from layerlab.engine.registry.client import RegistryClient
from layerlab.engine.registry.proxy import proxy_for
from layerlab.engine.registry.pull import pull
from layerlab.engine.registry.push import push
from layerlab.engine.registry.retry import RetryPolicy, parse_retry_after
from layerlab.engine.store import Store
from tests.registry.images import test_image as make_image
from tests.registry.middlemen import Fault, FaultInjector, ForwardProxy
from tests.registry.servers import PASSWORD, USER

MADE_UP = "registry.layerlab.test"   # resolvable only by the proxy: a request that arrives went through it


def test_push_and_pull_go_through_the_proxy_with_its_credentials(registry, tmp_path, no_proxy_env):
    proxy = ForwardProxy({MADE_UP: registry.port}, user="proxyuser", password="p@ss").start()
    try:
        domain = f"{MADE_UP}:{registry.port}"
        url = f"http://proxyuser:p%40ss@127.0.0.1:{proxy.port}"
        no_proxy_env.setenv("HTTPS_PROXY", url)
        no_proxy_env.setenv("http_proxy", url)
        no_proxy_env.setenv("LAYERLAB_INSECURE_REGISTRIES", domain)
        store = Store.open(tmp_path / "a")
        built = store.put_image(make_image([3000, 70000], seed=40), tags=["viaproxy:1"])
        push(f"{domain}/proxied/app:1", store, source="viaproxy:1")
        pulled = pull(f"{domain}/proxied/app:1", Store.open(tmp_path / "b"))
        assert pulled.id == built.id
        assert proxy.refused == 0
        methods = {method for method, _ in proxy.seen}
        assert "CONNECT" in methods                              # https is tried first, through a tunnel
        assert {"HEAD", "POST", "PUT", "GET"} <= methods
        paths = [target for method, target in proxy.seen if method != "CONNECT"]
        assert all(target.startswith(f"http://{domain}/v2/") for target in paths)
        assert any(f"/blobs/{layer.digest}" in target for layer in built.layers() for target in paths)
    finally:
        proxy.stop()


def test_a_proxy_refusing_us_is_one_line(registry, tmp_path, no_proxy_env):
    proxy = ForwardProxy({MADE_UP: registry.port}, user="proxyuser", password="right").start()
    try:
        domain = f"{MADE_UP}:{registry.port}"
        no_proxy_env.setenv("HTTP_PROXY", f"http://proxyuser:wrong@127.0.0.1:{proxy.port}")
        client = RegistryClient(domain, insecure=True)
        client.scheme = "http"
        with pytest.raises(RegistryError) as caught:
            client.ping()
        assert caught.value.one_line().startswith(f"{domain}: checking the registry: ")
        assert "407" in caught.value.one_line() and proxy.refused == 1
    finally:
        proxy.stop()


def test_loopback_registries_never_go_through_the_proxy(registry, tmp_path, no_proxy_env):
    proxy = ForwardProxy({}).start()
    try:
        no_proxy_env.setenv("HTTP_PROXY", proxy.url)
        no_proxy_env.setenv("HTTPS_PROXY", proxy.url)
        store = Store.open(tmp_path / "a")
        store.put_image(make_image([1000], seed=41), tags=["direct:1"])
        push(f"{registry.host}/direct:1", store, source="direct:1")
        assert proxy.seen == []
    finally:
        proxy.stop()


@pytest.mark.parametrize(("no_proxy", "netloc", "direct"), [
    ("", "registry.example:5000", False),
    ("registry.example", "registry.example:5000", True),
    ("example", "registry.example:443", True),               # a domain covers its subdomains
    (".registry.example", "registry.example:443", False),    # a leading dot: subdomains only
    (".registry.example", "eu.registry.example:443", True),
    ("registry.example:5001", "registry.example:5000", False),
    ("other.example, registry.example:5000", "registry.example:5000", True),
    ("10.0.0.0/8", "10.1.2.3:5000", True),
    ("10.0.0.0/8", "11.1.2.3:5000", False),
    ("*", "anything.example", True),
    ("", "localhost:5000", True),
    ("", "127.0.0.1:5000", True),
    ("", "[::1]:5000", True),
])
def test_no_proxy_rules(no_proxy_env, no_proxy, netloc, direct):
    no_proxy_env.setenv("HTTPS_PROXY", "proxy.example:3128")
    no_proxy_env.setenv("NO_PROXY", no_proxy)
    chosen = proxy_for("https", netloc)
    assert (chosen is None) == direct
    if chosen is not None:
        assert (chosen.host, chosen.port) == ("proxy.example", 3128)


def test_http_and_https_proxies_are_chosen_by_scheme(no_proxy_env):
    no_proxy_env.setenv("http_proxy", "http://plain.example:8080")
    assert proxy_for("https", "registry.example") is None
    assert proxy_for("http", "registry.example").netloc == "plain.example:8080"


def test_retry_after_reads_seconds_and_dates():
    assert parse_retry_after("3") == 3.0
    now = time.time()
    assert parse_retry_after(email.utils.formatdate(now + 20, usegmt=True), now=now) == pytest.approx(20, abs=1)
    assert parse_retry_after("soon") is None and parse_retry_after("") is None
    policy = RetryPolicy(max_delay=10)
    assert [policy.delay(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]
    assert policy.delay(1, "3600") == 10                     # bounded, whatever the registry asks


def _recording_client(host: str, delays: list[float], attempts: int = 5) -> RegistryClient:
    return RegistryClient(host, retry=RetryPolicy(attempts=attempts, sleep=delays.append))


def test_pull_and_push_ride_out_429s_and_5xxs(registry, tmp_path, no_proxy_env):
    later = email.utils.formatdate(time.time() + 3600, usegmt=True)
    faults = [
        Fault(r"^GET /v2/flaky/manifests/", 503, 2, retry_after="1"),
        Fault(r"^GET /v2/flaky/blobs/", 429, 1, retry_after=later),
        Fault(r"^GET /v2/flaky/blobs/", 502, 1),
        Fault(r"^PUT /v2/flaky/blobs/uploads/", 500, 1),
        Fault(r"^PUT /v2/flaky/manifests/", 504, 1, retry_after="0"),
    ]
    injector = FaultInjector(registry.port, faults).start()
    try:
        store = Store.open(tmp_path / "a")
        built = store.put_image(make_image([2000, 5000], seed=42), tags=["flaky:1"])
        pushed: list[float] = []
        push(f"{injector.host}/flaky:1", store, source="flaky:1", client=_recording_client(injector.host, pushed))
        pulled: list[float] = []
        image = pull(f"{injector.host}/flaky:1", Store.open(tmp_path / "b"),
                     client=_recording_client(injector.host, pulled))
        assert image.id == built.id
        assert [fault.served for fault in faults] == [2, 1, 1, 1, 1]
        assert pushed == [0.5, 0.0]                          # the 500 backs off; the 504 asked for 0 s
        assert pulled[:2] == [1.0, 1.0]                      # Retry-After in seconds
        assert pulled[2:] == [30.0, 1.0]      # an HTTP date an hour ahead, cut to the bound; then the second backoff
    finally:
        injector.stop()


def test_a_registry_that_stays_down_gives_up_after_bounded_tries(registry, tmp_path, no_proxy_env):
    injector = FaultInjector(registry.port, [Fault(r"manifests/", 503, 100)]).start()
    try:
        delays: list[float] = []
        with pytest.raises(RegistryError) as caught:
            pull(f"{injector.host}/down:1", Store.open(tmp_path / "b"), client=_recording_client(injector.host, delays))
        line = caught.value.one_line()
        assert line.endswith("registry answered 503 (UNAVAILABLE: injected fault) after 5 tries"), line
        assert delays == [0.5, 1.0, 2.0, 4.0]
    finally:
        injector.stop()


def test_cli_pull_retries_with_the_default_policy(registry, tmp_path, cli, no_proxy_env):
    store = Store.open(tmp_path / "a")
    built = store.put_image(make_image([1500], seed=43), tags=["cliretry:1"])
    push(f"{registry.host}/cliretry:1", store, source="cliretry:1")
    injector = FaultInjector(registry.port, [Fault(r"manifests/", 429, 2, retry_after="0")]).start()
    try:
        result = cli("pull", f"{injector.host}/cliretry:1")
        assert result.code == 0, result.err
        assert injector.faults[0].served == 2
        assert pull(f"{registry.host}/cliretry:1", Store.open(tmp_path / "b")).id == built.id
    finally:
        injector.stop()


def test_identity_token_from_config_is_used_as_a_refresh_token(token_registry, tmp_path, docker_config):
    tokens = token_registry.tokens
    tokens.refresh_tokens.add("identity-from-login")
    docker_config.mkdir(parents=True, exist_ok=True)
    (docker_config / "config.json").write_text(json.dumps(
        {"auths": {token_registry.host: {"identitytoken": "identity-from-login"}}}))
    store = Store.open(tmp_path / "a")
    built = store.put_image(make_image([1000], seed=44), tags=["oauth:1"])
    push(f"{token_registry.host}/oauth/app:1", store, source="oauth:1")
    assert pull(f"{token_registry.host}/oauth/app:1", Store.open(tmp_path / "b")).id == built.id
    assert tokens.grants and set(tokens.grants) == {"refresh_token"}   # the password was never needed


def test_a_refresh_token_offered_by_the_server_replaces_the_password(token_registry, tmp_path, docker_config):
    tokens = token_registry.tokens
    tokens.offer_refresh = True
    docker_config.mkdir(parents=True, exist_ok=True)
    config = {"auths": {token_registry.host: {"auth": base64.b64encode(
        f"{USER}:{PASSWORD}".encode()).decode()}}}
    (docker_config / "config.json").write_text(json.dumps(config))
    store = Store.open(tmp_path / "a")
    store.put_image(make_image([1000], seed=45), tags=["one:1"])
    store.put_image(make_image([1200], seed=46), tags=["two:1"])
    client = RegistryClient(token_registry.host)
    push(f"{token_registry.host}/first/app:1", store, source="one:1", client=client)
    assert tokens.grants[0] == "password"
    first = len(tokens.grants)
    push(f"{token_registry.host}/second/app:1", store, source="two:1", client=client)
    assert tokens.grants[first:] and set(tokens.grants[first:]) == {"refresh_token"}


def test_a_refused_identity_token_is_one_clear_line(token_registry, tmp_path, docker_config):
    docker_config.mkdir(parents=True, exist_ok=True)
    (docker_config / "config.json").write_text(json.dumps(
        {"auths": {token_registry.host: {"identitytoken": "revoked"}}}))
    with pytest.raises(RegistryError, match="token server refused the credentials"):
        pull(f"{token_registry.host}/oauth/none:1", Store.open(tmp_path / "b"))
