"""Compression: detected by content, every kind applies, compression is reproducible."""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
from pathlib import Path

import pytest
import zstandard

from layerlab.engine.errors import UsageError
from layerlab.engine.layers.apply import apply_layer
from layerlab.engine.layers.compression import KINDS, compress_to, detect, open_decompressed
from layerlab.engine.oci.digest import Digest
from tests.layers.helpers import dir_, file_, tar_bytes

RAW = tar_bytes(dir_("d"), file_("d/a", b"alpha" * 1000), file_("b", b"beta"))
COMPRESSORS = {
    "gzip": gzip.compress,
    "zstd": zstandard.ZstdCompressor().compress,
    "bzip2": bz2.compress,
    "xz": lzma.compress,
    "none": lambda data: data,
}


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_detected_and_applies(tmp_path: Path, kind: str):
    blob = COMPRESSORS[kind](RAW)
    assert detect(blob[:6]) == kind
    stats = apply_layer(io.BytesIO(blob), tmp_path / "t")
    assert (tmp_path / "t/d/a").read_bytes() == b"alpha" * 1000
    assert (tmp_path / "t/b").read_bytes() == b"beta"
    assert stats.diff_id == Digest.of_bytes(RAW)


@pytest.mark.parametrize("kind", KINDS)
def test_compress_to_round_trips_and_is_deterministic(kind: str):
    outputs = []
    for _ in range(2):
        out = io.BytesIO()
        compress_to(io.BytesIO(RAW), out, kind)
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1]
    assert detect(outputs[0][:6]) == kind
    assert open_decompressed(io.BytesIO(outputs[0])).read() == RAW


def test_gzip_header_has_no_name_and_no_time():
    out = io.BytesIO()
    compress_to(io.BytesIO(RAW), out, "gzip")
    header = out.getvalue()[:10]
    assert header[3] == 0  # FLG: no FNAME, no FEXTRA, no FCOMMENT
    assert header[4:8] == b"\0\0\0\0"  # MTIME


def test_multi_frame_zstd_and_multi_member_gzip_read_whole():
    half = len(RAW) // 2
    for compress in (zstandard.ZstdCompressor().compress, gzip.compress):
        blob = compress(RAW[:half]) + compress(RAW[half:])
        assert open_decompressed(io.BytesIO(blob)).read() == RAW


def test_short_blobs_and_unknown_kinds():
    assert detect(b"") == "none" and detect(b"\x1f") == "none"
    assert open_decompressed(io.BytesIO(b"")).read() == b""
    with pytest.raises(UsageError):
        compress_to(io.BytesIO(RAW), io.BytesIO(), "lz4")


def test_empty_blob_is_an_empty_layer(tmp_path: Path):
    stats = apply_layer(io.BytesIO(b""), tmp_path / "t")
    assert stats.entries == 0 and list((tmp_path / "t").iterdir()) == []


@pytest.mark.parametrize("kind", KINDS)
def test_closing_the_reader_closes_the_blob(kind: str):
    blob = io.BytesIO(COMPRESSORS[kind](RAW))
    with open_decompressed(blob) as reader:
        assert reader.read(10) == RAW[:10]
    assert blob.closed
