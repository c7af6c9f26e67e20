"""The one reader of layer entries (tarscan): hostile headers get one line naming the layer and the offset."""

from __future__ import annotations

import io
import tarfile

import pytest

from layerlab.engine.errors import CorruptLayer
from layerlab.engine.layers.tarscan import scan


@pytest.mark.parametrize("record", [b"size=abc", b"uid=-4", b"gid=1e3"])
def test_the_entry_reader_names_a_bad_pax_number(record: bytes):
    body = b"%d %s\n" % (len(record) + 3 + len(str(len(record) + 3)), record)
    while len(body) != int(body.split(b" ", 1)[0]):  # the record's length counts its own digits
        body = b"%d %s\n" % (len(body), record)
    header = tarfile.TarInfo("PaxHeaders/x")
    header.type, header.size = tarfile.XHDTYPE, len(body)
    blob = header.tobuf(format=tarfile.USTAR_FORMAT) + body.ljust(512, b"\0")
    blob += tarfile.TarInfo("x").tobuf(format=tarfile.USTAR_FORMAT) + b"\0" * 1024
    with pytest.raises(CorruptLayer, match=r"layer\.tar: tar header at offset 1024: bad PAX (size|uid|gid)"):
        list(scan(io.BytesIO(blob), where="layer.tar"))
