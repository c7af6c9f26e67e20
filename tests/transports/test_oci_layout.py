from __future__ import annotations

import json
from pathlib import Path

import pytest

from layerlab.engine.errors import DigestMismatch, NotFound
from layerlab.engine.transports.oci_layout import read_oci_layout, write_oci_layout
from tests.transports.helpers import small_image


def test_write_then_read_oci_layout(tmp_path: Path) -> None:
    image = small_image({"x": b"1"}, {"y": b"2"})
    write_oci_layout([(image, ["example/app:v1"])], tmp_path / "layout")
    index = json.loads((tmp_path / "layout" / "index.json").read_text())
    [entry] = index["manifests"]
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "v1"
    assert entry["annotations"]["io.containerd.image.name"] == "docker.io/example/app:v1"
    manifest = json.loads((tmp_path / "layout" / "blobs" / "sha256" / entry["digest"].split(":")[1]).read_text())
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert all(l["mediaType"] == "application/vnd.oci.image.layer.v1.tar" for l in manifest["layers"])
    [(loaded, tags)] = read_oci_layout(tmp_path / "layout")
    assert loaded.config_digest == image.config_digest and tags == ["example/app:v1"]
    [(by_ref, _)] = read_oci_layout(tmp_path / "layout", ref="v1")
    assert by_ref.config_digest == image.config_digest
    with pytest.raises(NotFound):
        read_oci_layout(tmp_path / "layout", ref="v2")


def test_adding_to_a_layout_replaces_the_same_reference(tmp_path: Path) -> None:
    first, second = small_image({"x": b"1"}), small_image({"x": b"2"})
    write_oci_layout([(first, ["app:v1"])], tmp_path / "l")
    write_oci_layout([(second, ["app:v1"]), (first, ["app:old"])], tmp_path / "l")
    images = {tags[0]: image.config_digest for image, tags in read_oci_layout(tmp_path / "l")}
    assert images == {"app:v1": second.config_digest, "app:old": first.config_digest}


def test_tampered_blob_is_named(tmp_path: Path) -> None:
    image = small_image({"x": b"1"})
    write_oci_layout([(image, ["app:v1"])], tmp_path / "l")
    layer_path = tmp_path / "l" / "blobs" / "sha256" / image.layers()[0].digest.hex
    layer_path.write_bytes(layer_path.read_bytes()[:-1] + b"\x01")
    with pytest.raises(DigestMismatch, match=image.layers()[0].digest.hex):
        read_oci_layout(tmp_path / "l")
