"""Configs, manifests, indexes, descriptors, chain IDs and canonical JSON."""

from __future__ import annotations

import hashlib
import json

import pytest
from hypothesis import given, strategies as st

from layerlab.engine.errors import ArchiveError, NotFound
from layerlab.engine.oci import mediatypes as mt
from layerlab.engine.oci.canonical import canonical_json, docker_json
from layerlab.engine.oci.chain import chain_id, chain_ids
from layerlab.engine.oci.config import HistoryEntry, ImageConfig, format_time, parse_time
from layerlab.engine.oci.descriptor import Descriptor, Platform
from layerlab.engine.oci.digest import Digest
from layerlab.engine.oci.manifest import Index, Manifest, parse_any

D1 = Digest.of_bytes(b"one")
D2 = Digest.of_bytes(b"two")
D3 = Digest.of_bytes(b"three")

DOCKER_CONFIG = (
    b'{"architecture":"amd64","config":{"Hostname":"","Env":["PATH=/usr/bin"],"Cmd":["sh"],'
    b'"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":30000000000,"Retries":3},'
    b'"OnBuild":["RUN echo hi"],"Labels":{"a":"\\u003cb\\u003e"},"ExposedPorts":{"80/tcp":{}},'
    b'"Volumes":{"/data":{}},"StopSignal":"SIGTERM","Shell":["/bin/bash","-c"],"WorkingDir":"/w","User":"1:2"},'
    b'"container":"abc","created":"2024-05-06T07:08:09.123456789Z","docker_version":"20.10.24",'
    b'"history":[{"created":"2024-05-06T07:08:09.1Z","created_by":"/bin/sh -c #(nop) ADD file:x in / "},'
    b'{"created":"2024-05-06T07:08:09.2Z","created_by":"/bin/sh -c #(nop)  CMD [\\"sh\\"]","empty_layer":true}],'
    b'"os":"linux","rootfs":{"type":"layers","diff_ids":["' + str(D1).encode() + b'"]},"x-future":{"k":[1,2]}}'
)


def test_config_keeps_exact_bytes_and_unknown_fields():
    config = ImageConfig.parse(DOCKER_CONFIG)
    assert config.to_bytes() == DOCKER_CONFIG
    assert config.digest == Digest.of_bytes(DOCKER_CONFIG)
    assert config.data["x-future"] == {"k": [1, 2]}
    evolved = config.with_container_config(User="0")
    assert evolved.data["x-future"] == {"k": [1, 2]} and evolved.data["container"] == "abc"
    assert evolved.config.user == "0" and config.config.user == "1:2"


def test_config_typed_accessors():
    config = ImageConfig.parse(DOCKER_CONFIG)
    c = config.config
    assert (config.os, config.architecture, config.docker_version) == ("linux", "amd64", "20.10.24")
    assert c.env_dict == {"PATH": "/usr/bin"} and c.cmd == ["sh"] and c.entrypoint is None
    assert c.healthcheck.test == ("CMD-SHELL", "true") and c.healthcheck.interval == 30_000_000_000
    assert c.healthcheck.retries == 3
    assert c.on_build == ["RUN echo hi"] and c.labels == {"a": "<b>"}
    assert c.exposed_ports == ["80/tcp"] and c.volumes == ["/data"] and c.stop_signal == "SIGTERM"
    assert c.shell == ["/bin/bash", "-c"] and c.working_dir == "/w"
    assert config.diff_ids == [D1]
    assert [h.empty_layer for h in config.history] == [False, True]
    assert [index for _, index in config.history_by_layer()] == [0, None]
    assert config.created_at.microsecond == 123456


def test_config_builders_add_layers_and_empty_history():
    config = ImageConfig.new(created="2024-01-01T00:00:00Z")
    assert config.diff_ids == [] and config.history == []
    config = config.with_layer(D1, HistoryEntry(created="2024-01-02T00:00:00Z", created_by="COPY a /"))
    config = config.with_layer(None, HistoryEntry(created_by="ENV A=1"))
    assert config.diff_ids == [D1]
    assert [(h.created_by, h.empty_layer) for h in config.history] == [("COPY a /", False), ("ENV A=1", True)]
    assert config.created == "2024-01-02T00:00:00Z"
    assert ImageConfig.parse(config.to_bytes()) == config


@pytest.mark.parametrize("raw, says", [(b"{", "not valid JSON"), (b"[]", "JSON object"),
                                       (b'{"rootfs": 3}', "rootfs")])
def test_bad_configs_raise_archive_errors(raw, says):
    with pytest.raises(ArchiveError, match=says):
        ImageConfig.parse(raw, where="blob x")


def test_bad_diff_id_names_the_config():
    config = ImageConfig.parse(b'{"rootfs":{"type":"layers","diff_ids":["sha256:nope"]}}')
    with pytest.raises(ArchiveError, match="diff_ids"):
        config.diff_ids


def test_docker_json_escapes_like_go():
    assert docker_json({"b": "<&>\u2028", "a": "é"}) == b'{"a":"\xc3\xa9","b":"\\u003c\\u0026\\u003e\\u2028"}'
    assert canonical_json({"b": "<", "a": 1}) == b'{"a":1,"b":"<"}'


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=20))
def test_docker_json_is_json_of_the_same_value(value):
    assert json.loads(docker_json(value)) == value
    assert json.loads(canonical_json(value)) == value


def test_chain_ids_follow_the_spec():
    expected2 = hashlib.sha256(f"{D1} {D2}".encode()).hexdigest()
    expected3 = hashlib.sha256(f"sha256:{expected2} {D3}".encode()).hexdigest()
    assert chain_ids([D1, D2, D3]) == [D1, Digest("sha256", expected2), Digest("sha256", expected3)]
    assert chain_id([]) is None and chain_id([D1]) == D1


def test_time_round_trip():
    moment = parse_time("2024-05-06T07:08:09.123456789Z")
    assert format_time(moment) == "2024-05-06T07:08:09.123456Z"
    assert parse_time("2024-05-06T07:08:09+02:00").hour == 7
    assert parse_time("garbage") is None


def _manifest_bytes(media_type=mt.DOCKER_MANIFEST, extra=""):
    return (f'{{"schemaVersion":2,"mediaType":"{media_type}","config":{{"mediaType":"{mt.DOCKER_CONFIG}",'
            f'"digest":"{D1}","size":10}},"layers":[{{"mediaType":"{mt.DOCKER_FOREIGN_LAYER}","digest":"{D2}",'
            f'"size":20,"urls":["https://example.invalid/l"],"x-layer":1}}]{extra}}}').encode()


def test_manifest_parse_keeps_bytes_and_unknown_fields():
    raw = _manifest_bytes(extra=',"x-top":true')
    manifest = Manifest.parse(raw)
    assert manifest.is_docker and manifest.config.digest == D1 and manifest.digest == Digest.of_bytes(raw)
    layer = manifest.layers[0]
    assert layer.urls == ("https://example.invalid/l",) and layer.extra == {"x-layer": 1}
    assert mt.is_foreign_layer(layer.media_type)
    assert manifest.extra == {"x-top": True}
    assert manifest.to_dict()["x-top"] is True and manifest.to_dict()["layers"][0]["x-layer"] == 1


def test_manifest_build_round_trips():
    config = Descriptor(mt.OCI_CONFIG, D1, 10)
    manifest = Manifest.build(config, [Descriptor(mt.OCI_LAYER_GZIP, D2, 5, annotations={"a": "b"})])
    again = Manifest.parse(manifest.to_bytes())
    assert again == manifest and again.to_bytes() == manifest.to_bytes()


@pytest.mark.parametrize("raw, says", [
    (b'{"schemaVersion":1}', "schemaVersion"),
    (b'{"schemaVersion":2,"layers":[]}', "config"),
    (b'{"schemaVersion":2,"config":{"digest":"sha256:x","size":1},"layers":[]}', "config"),
    (b'{"schemaVersion":2,"config":{"digest":"' + str(D1).encode() + b'","size":-1},"layers":[]}', "size"),
    (b'{"schemaVersion":2,"manifests":[]}', "index"),
])
def test_bad_manifests(raw, says):
    with pytest.raises(ArchiveError, match=says):
        Manifest.parse(raw)


def test_index_selects_platform_and_names_what_it_has():
    entries = [Descriptor(mt.OCI_MANIFEST, D1, 1, platform=Platform("linux", "amd64")),
               Descriptor(mt.OCI_MANIFEST, D2, 1, platform=Platform("linux", "arm64", "v8")),
               Descriptor(mt.OCI_MANIFEST, D3, 1, platform=Platform("linux", "arm", "v7"))]
    index = Index.build(entries, media_type=mt.DOCKER_MANIFEST_LIST)
    parsed = parse_any(index.to_bytes())
    assert isinstance(parsed, Index) and parsed.media_type == mt.DOCKER_MANIFEST_LIST
    assert parsed.select("linux/amd64").digest == D1
    assert parsed.select("linux/arm64").digest == D2
    assert parsed.select(Platform("linux", "arm", "v7")).digest == D3
    with pytest.raises(NotFound, match="linux/arm/v6.*linux/amd64"):
        parsed.select("linux/arm/v6")
    assert isinstance(parse_any(_manifest_bytes()), Manifest)


def test_platform_round_trip_keeps_os_version():
    data = {"os": "windows", "architecture": "amd64", "os.version": "10.0.17763", "x": 1}
    assert Platform.from_dict(data).to_dict() == {"architecture": "amd64", "os": "windows",
                                                   "os.version": "10.0.17763", "x": 1}
    with pytest.raises(ArchiveError):
        Platform.parse("linux")


def test_media_type_helpers():
    assert mt.layer_compression(mt.DOCKER_LAYER_GZIP) == "gzip"
    assert mt.layer_compression(mt.OCI_LAYER_ZSTD) == "zstd"
    assert mt.layer_compression(mt.OCI_LAYER_TAR) == "none"
    assert mt.layer_media_type("gzip", oci=False) == mt.DOCKER_LAYER_GZIP
    assert mt.is_index(mt.OCI_INDEX) and mt.is_manifest(mt.DOCKER_MANIFEST) and mt.is_layer(mt.OCI_LAYER_TAR)
