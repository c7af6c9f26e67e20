from __future__ import annotations

import gzip
import io
import json
import lzma
from pathlib import Path

import pytest

from layerlab.engine.errors import ArchiveError
from layerlab.engine.oci.digest import Digest
from layerlab.engine.transports.tarball import import_tarball
from tests.transports.helpers import layer_tar


@pytest.mark.parametrize("compress", [lambda b: b, gzip.compress, lzma.compress])
def test_import_any_compression_gives_the_plain_tar_as_layer(tmp_path: Path, compress) -> None:
    plain = layer_tar({"etc/hostname": b"box\n"})
    source = tmp_path / "rootfs"
    source.write_bytes(compress(plain))
    with import_tarball(source) as imported:
        [layer] = imported.image.layers()
        assert layer.diff_id == Digest.of_bytes(plain)
        assert layer.open_blob().read() == plain
        config = json.loads(imported.image.config_bytes())
    assert config["rootfs"]["diff_ids"] == [str(Digest.of_bytes(plain))]
    assert config["history"][0]["comment"] == f"Imported from {source}"


def test_config_and_message(tmp_path: Path) -> None:
    stream = io.BytesIO(layer_tar({"a": b"1"}))
    with import_tarball(stream, config={"Cmd": ["sh"]}, message="first import") as imported:
        config = json.loads(imported.image.config_bytes())
    assert config["config"]["Cmd"] == ["sh"]
    assert config["comment"] == "first import" and config["history"][0]["comment"] == "first import"


def test_bad_tarball(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(gzip.compress(b"not a tar" * 100))
    with pytest.raises(ArchiveError, match="junk.tar.gz"):
        import_tarball(junk)
