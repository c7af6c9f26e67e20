"""Header bytes as Go's archive/tar (Docker) writes them: the diff ID depends on every byte."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from layerlab.engine.layers.tarformat import DIRECTORY, REGULAR, TarHeader, TarStreamWriter, encode_header
from layerlab.engine.layers.write import write_layer_from_dir
from layerlab.engine.oci.digest import Digest


def test_plain_header_fields():
    block = encode_header(TarHeader(name="etc/passwd", typeflag=REGULAR, mode=0o4755, uid=1000, gid=50,
                                    size=11, mtime=1_600_000_000))
    assert len(block) == 512
    assert block[:100].rstrip(b"\0") == b"etc/passwd"
    assert block[100:108] == b"0004755\x00"
    assert block[108:116] == b"0001750\x00" and block[116:124] == b"0000062\x00"
    assert block[124:136] == b"00000000013\x00"
    assert block[257:265] == b"ustar\x0000"
    assert block[265:329] == b"\0" * 64  # no user or group names
    assert block[329:345] == b"0000000\x000000000\x00"  # device numbers written even for files
    checksum = sum(block[:148]) + 8 * 32 + sum(block[156:])
    assert block[148:156] == b"%06o\x00 " % checksum


def test_pax_header_only_when_needed_and_named_like_go():
    assert len(encode_header(TarHeader(name="a" * 100, typeflag=REGULAR))) == 512
    long_name = "dir/" + "b" * 120
    blocks = encode_header(TarHeader(name=long_name, typeflag=REGULAR, xattrs={"user.z": b"1", "security.a": b"2"}))
    assert len(blocks) == 3 * 512
    assert blocks[:100].rstrip(b"\0") == b"dir/PaxHeaders.0/" + b"b" * 83
    assert blocks[156:157] == b"x"
    records = blocks[512:1024].rstrip(b"\0").decode()
    keys = [line.split(" ", 1)[1].split("=", 1)[0] for line in records.splitlines()]
    assert keys == ["SCHILY.xattr.security.a", "SCHILY.xattr.user.z", "path"]
    for line in records.splitlines():
        assert int(line.split(" ", 1)[0]) == len(line) + 1
    dir_pax = encode_header(TarHeader(name="ü/", typeflag=DIRECTORY))
    # Go names it "ü/PaxHeaders.0" and keeps only the ASCII bytes
    assert dir_pax[:100].rstrip(b"\0") == b"/PaxHeaders.0"


def test_archive_ends_with_two_zero_blocks_and_no_record_padding(tmp_path: Path):
    (tmp_path / "f").write_bytes(b"x" * 700)
    out = io.BytesIO()
    blob = write_layer_from_dir(tmp_path, out)
    data = out.getvalue()
    assert len(data) == 512 + 1024 + 1024 == blob.size
    assert data.endswith(b"\0" * 1024)
    assert blob.diff_id == Digest.of_bytes(data)


def test_python_tarfile_reads_what_we_write(tmp_path: Path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / ("n" * 180)).write_bytes(b"long")
    os.symlink("t" * 120, tmp_path / "d/l")
    out = io.BytesIO()
    write_layer_from_dir(tmp_path, out, mtime=7)
    out.seek(0)
    with tarfile.open(fileobj=out) as archive:
        members = {m.name: m for m in archive.getmembers()}
    assert members["d/" + "n" * 180].size == 4
    assert members["d/l"].linkname == "t" * 120
    assert all(m.mtime == 7 for m in members.values())


def test_stream_writer_refuses_short_content():
    writer = TarStreamWriter(io.BytesIO())
    try:
        writer.add(TarHeader(name="f", typeflag=REGULAR, size=10), io.BytesIO(b"short"))
    except EOFError as error:
        assert "f" in str(error)
    else:
        raise AssertionError("short content was accepted")


def test_the_one_pass_header_is_byte_for_byte_the_field_by_field_one():
    # Headers that need no PAX record take a faster path; every byte must be what the general one writes.
    from layerlab.engine.layers.tarformat import (
        BLOCK_DEVICE, CHAR_DEVICE, HARDLINK, SYMLINK, _block, _is_plain, _plain_block,
    )

    headers = [
        TarHeader(name="etc/passwd", typeflag=REGULAR, mode=0o4755, uid=1000, gid=50, size=11, mtime=1_600_000_000),
        TarHeader(name="d" * 99 + "/", typeflag=DIRECTORY, mode=0o1777, uid=8 ** 7 - 1, gid=8 ** 7 - 1),
        TarHeader(name="n" * 100, typeflag=SYMLINK, linkname="t" * 100, mtime=8 ** 11 - 1),
        TarHeader(name="big", typeflag=REGULAR, size=8 ** 11 - 1, uname="u" * 32, gname="g"),
        TarHeader(name="hard", typeflag=HARDLINK, linkname="etc/passwd"),
        TarHeader(name="dev/null", typeflag=CHAR_DEVICE, devmajor=1, devminor=3),
        TarHeader(name="dev/sda", typeflag=BLOCK_DEVICE, devmajor=8 ** 7 - 1, devminor=8 ** 7 - 1),
    ]
    for header in headers:
        fields = (header.name.encode(), header.linkname.encode(), header.uname.encode(), header.gname.encode())
        assert _is_plain(header, *fields), header
        general = _block(fields[0], header.typeflag, header.mode, header.uid, header.gid, header.size,
                         header.mtime, fields[1], fields[2], fields[3], header.devmajor, header.devminor)
        assert _plain_block(header, *fields) == general == encode_header(header), header
    for past in (TarHeader(name="n" * 101, typeflag=REGULAR), TarHeader(name="é", typeflag=REGULAR),
                 TarHeader(name="x", typeflag=REGULAR, uid=8 ** 7), TarHeader(name="x", typeflag=REGULAR, size=8 ** 11),
                 TarHeader(name="x", typeflag=REGULAR, xattrs={"user.a": b"1"})):
        assert not _is_plain(past, past.name.encode(), b"", b"", b""), past


def test_small_and_large_files_give_the_tar_python_reads_back(tmp_path: Path):
    # Files up to SMALL_FILE are read in one call and written with their header in one piece.
    from layerlab.engine.layers.write import SMALL_FILE

    tree = tmp_path / "tree"
    tree.mkdir()
    sizes = {"empty": 0, "one": 1, "block": 512, "small": SMALL_FILE, "large": SMALL_FILE + 1, "odd": 3 * 1000 + 7}
    for name, size in sizes.items():
        (tree / name).write_bytes(os.urandom(size))
    out = io.BytesIO()
    blob = write_layer_from_dir(tree, out)
    assert blob.diff_id == Digest.of_bytes(out.getvalue()) and blob.size == len(out.getvalue())
    assert blob.content_size == sum(sizes.values())
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as archive:
        for name in sizes:
            assert archive.extractfile(name).read() == (tree / name).read_bytes(), name
