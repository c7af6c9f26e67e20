"""Hostile layers: every one either stays inside the target or stops with one clear line.

Each case applies into ``target`` next to a sibling ``outside`` directory and
checks that ``outside`` (and the host's /etc/passwd) are exactly as before.
"""

from __future__ import annotations

import bz2
import gzip
import hashlib
import io
import lzma
import os
import tarfile
from dataclasses import dataclass
from pathlib import Path

import pytest
import zstandard

from layerlab.engine.errors import CorruptLayer, DigestMismatch, LayerError, LayerTooLarge, UnsafeLayer
from layerlab.engine.layers.apply import apply_layer
from layerlab.engine.layers.verify import verify_stream
from layerlab.engine.oci.digest import Digest
from tests.layers.helpers import device_, dir_, file_, link_, snapshot, tar_bytes

HOST_PASSWD = Path("/etc/passwd")


@dataclass
class Place:
    target: Path
    outside: Path

    def apply(self, blob: bytes, **options):
        return apply_layer(io.BytesIO(blob), self.target, **options)


@pytest.fixture
def place(tmp_path: Path):
    target, outside = tmp_path / "target", tmp_path / "outside"
    target.mkdir()
    outside.mkdir()
    (outside / "file").write_bytes(b"secret")
    (outside / "passwd").write_bytes(b"decoy")
    (outside / "dir").mkdir()
    before = snapshot(outside)
    passwd_before = hashlib.sha256(HOST_PASSWD.read_bytes()).hexdigest() if HOST_PASSWD.exists() else None
    yield Place(target, outside)
    assert snapshot(outside) == before, "something outside the target changed"
    if passwd_before is not None:
        assert hashlib.sha256(HOST_PASSWD.read_bytes()).hexdigest() == passwd_before


def assert_one_line(error: Exception, *needles: str) -> None:
    text = str(error)
    assert "\n" not in text
    for needle in needles:
        assert needle in text, f"{needle!r} not in {text!r}"


@pytest.mark.parametrize("name", ["../escape", "a/../../x", "./../../escape", "/../../etc/passwd-not"])
def test_dotdot_escape_is_refused(place: Place, name: str):
    if name.startswith("/"):
        # an absolute name cleans to inside the root ("/../x" is "/x"): it must land in the target
        place.apply(tar_bytes(file_(name, b"pwned")))
        assert (place.target / "etc/passwd-not").read_bytes() == b"pwned"
        return
    with pytest.raises(UnsafeLayer) as caught:
        place.apply(tar_bytes(file_(name, b"pwned")))
    assert_one_line(caught.value, name, "escapes")
    assert not (place.target.parent / "escape").exists()


def test_absolute_name_lands_inside_the_target(place: Place):
    place.apply(tar_bytes(file_("/abs/path", b"inside")))
    assert (place.target / "abs/path").read_bytes() == b"inside"
    assert not Path("/abs/path").exists()


def test_symlink_to_an_absolute_dir_then_write_through_it_stays_inside(place: Place):
    # the shape of "link -> /etc, then link/passwd", aimed at a decoy: a broken
    # implementation run as root must not be able to damage the host's /etc
    place.apply(tar_bytes(link_("link", str(place.outside)), file_("link/passwd", b"root::0:0::/:/bin/sh\n")))
    assert (place.target / str(place.outside).lstrip("/") / "passwd").read_bytes() == b"root::0:0::/:/bin/sh\n"
    assert os.readlink(place.target / "link") == str(place.outside)


def test_symlink_to_etc_is_kept_as_data(place: Place):
    place.apply(tar_bytes(link_("link", "/etc")))
    assert os.readlink(place.target / "link") == "/etc"


def test_relative_symlink_climbing_out_is_clamped_at_the_root(place: Place):
    place.apply(tar_bytes(link_("up", "../../outside"), file_("up/file", b"overwritten?")))
    assert (place.target / "outside/file").read_bytes() == b"overwritten?"
    assert (place.outside / "file").read_bytes() == b"secret"


def test_symlinked_parent_made_by_an_earlier_entry_to_the_real_outside_path(place: Place):
    blob = tar_bytes(link_("d", str(place.outside)), dir_("d/sub"), file_("d/evil", b"x"), file_("d/file", b"x"))
    place.apply(blob)
    inside = place.target / str(place.outside).lstrip("/")
    assert (inside / "evil").read_bytes() == b"x"
    assert (inside / "file").read_bytes() == b"x"


def test_symlinked_parent_from_a_lower_layer(place: Place):
    os.symlink(place.outside, place.target / "lower-link")
    place.apply(tar_bytes(file_("lower-link/file", b"x")))
    assert (place.target / str(place.outside).lstrip("/") / "file").read_bytes() == b"x"


def test_existing_symlink_as_final_component_is_replaced_not_followed(place: Place):
    os.symlink(place.outside / "file", place.target / "x")
    os.symlink(place.outside / "dir", place.target / "d")
    place.apply(tar_bytes(file_("x", b"new"), dir_("d", mode=0o700)))
    assert not (place.target / "x").is_symlink()
    assert (place.target / "x").read_bytes() == b"new"
    assert not (place.target / "d").is_symlink() and (place.target / "d").is_dir()


def test_symlink_loop_is_refused(place: Place):
    with pytest.raises(UnsafeLayer) as caught:
        place.apply(tar_bytes(link_("a", "b"), link_("b", "a"), file_("a/x")))
    assert_one_line(caught.value, "a/x", "symbolic links")


@pytest.mark.parametrize("target_name", ["../outside/file", "a/../../outside/file"])
def test_hardlink_out_of_the_target_is_refused(place: Place, target_name: str):
    with pytest.raises(UnsafeLayer) as caught:
        place.apply(tar_bytes(link_("h", target_name, hard=True)))
    assert_one_line(caught.value, "h", "escapes")
    assert not (place.target / "h").exists()


def test_hardlink_to_absolute_host_path_is_resolved_inside(place: Place):
    with pytest.raises(LayerError) as caught:
        place.apply(tar_bytes(link_("h", "/etc/passwd", hard=True)))
    assert_one_line(caught.value, "'h'", "does not exist")
    # with the file present inside the target, the link is made to that copy
    place.apply(tar_bytes(file_("etc/passwd", b"inner"), link_("h", "/etc/passwd", hard=True)))
    assert os.stat(place.target / "h").st_ino == os.stat(place.target / "etc/passwd").st_ino


def test_hardlink_through_a_symlinked_parent_stays_inside(place: Place):
    with pytest.raises(LayerError) as caught:
        place.apply(tar_bytes(link_("o", str(place.outside)), link_("h", "o/file", hard=True)))
    assert_one_line(caught.value, "'h'")
    assert os.stat(place.outside / "file").st_nlink == 1


def test_hardlink_to_a_symlink_links_the_symlink_itself(place: Place):
    place.apply(tar_bytes(link_("s", str(place.outside / "file")), link_("h", "s", hard=True)))
    assert os.readlink(place.target / "h") == str(place.outside / "file")
    assert os.stat(place.outside / "file").st_nlink == 1


def test_devices_refused_when_not_allowed(place: Place):
    with pytest.raises(UnsafeLayer) as caught:
        place.apply(tar_bytes(device_("dev/mem", 1, 1)), allow_devices=False)
    assert_one_line(caught.value, "dev/mem", "device")
    assert not (place.target / "dev/mem").exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="only root may create device nodes")
def test_devices_created_as_root_by_default(place: Place):
    place.apply(tar_bytes(device_("dev/null", 1, 3), device_("dev/loop9", 7, 9, tarfile.BLKTYPE)))
    st = os.lstat(place.target / "dev/null")
    assert (os.major(st.st_rdev), os.minor(st.st_rdev)) == (1, 3)
    assert os.path.exists(place.target / "dev/loop9")


def test_parent_that_is_a_file_is_an_error_naming_the_entry(place: Place):
    with pytest.raises(LayerError) as caught:
        place.apply(tar_bytes(file_("f"), file_("f/child")))
    assert_one_line(caught.value, "f/child", "not a directory")


def test_tar_bomb_stops_at_the_limit(place: Place):
    bomb = gzip.compress(tar_bytes(file_("zeros", b"\0" * (8 << 20))))
    assert len(bomb) < 64 << 10
    with pytest.raises(LayerTooLarge) as caught:
        place.apply(bomb, max_uncompressed=1 << 20)
    assert_one_line(caught.value, "limit", str(1 << 20))


def test_truncated_gzip_is_corrupt(place: Place):
    blob = gzip.compress(tar_bytes(file_("a", os.urandom(200_000)), file_("b", b"b")))
    with pytest.raises(CorruptLayer) as caught:
        place.apply(blob[: len(blob) // 2])
    assert_one_line(caught.value, "gzip")


def test_gzip_cut_inside_the_trailer_is_corrupt(place: Place):
    blob = gzip.compress(tar_bytes(file_("a", b"a")))
    with pytest.raises(CorruptLayer):
        place.apply(blob[:-4])


@pytest.mark.parametrize("compress", [lambda d: d, zstandard.ZstdCompressor().compress, bz2.compress, lzma.compress])
def test_truncated_stream_in_every_compression_is_corrupt(place: Place, compress):
    raw = tar_bytes(file_("big", os.urandom(300_000)), file_("after", b"x"))
    blob = compress(raw)
    with pytest.raises(CorruptLayer) as caught:
        place.apply(blob[: len(blob) // 2])
    assert "\n" not in str(caught.value)


def test_truncated_tar_names_the_entry(place: Place):
    raw = tar_bytes(file_("first", b"1"), file_("second", b"2" * 5000))
    with pytest.raises(CorruptLayer) as caught:
        place.apply(raw[: 512 * 4])
    assert_one_line(caught.value, "second")


def test_garbage_is_not_a_tar(place: Place):
    with pytest.raises(CorruptLayer) as caught:
        place.apply(b"this is not a tar archive at all" * 40)
    assert "\n" not in str(caught.value)


def test_blob_whose_digest_lies(place: Place):
    blob = gzip.compress(tar_bytes(file_("a", b"a")))
    claimed = Digest.of_bytes(b"something else")
    with pytest.raises(DigestMismatch) as caught:
        apply_layer(verify_stream(io.BytesIO(blob), claimed, "layer"), place.target)
    assert_one_line(caught.value, str(claimed))
    stats = apply_layer(verify_stream(io.BytesIO(blob), Digest.of_bytes(blob)), place.target)
    assert stats.entries == 1
