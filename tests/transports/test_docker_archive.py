from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from layerlab.engine.errors import ArchiveError, DigestMismatch
from layerlab.engine.transports.docker_archive import open_docker_archive, read_docker_archive, write_docker_archive
from tests.transports.helpers import manifest_of, rewrite_tar, small_image


@pytest.fixture
def image():
    return small_image({"a.txt": b"hello"}, {"b.txt": b"world", "c/d": b"x" * 5000})


@pytest.mark.parametrize("layout", ["legacy", "oci"])
def test_round_trip_keeps_ids_and_layer_bytes(tmp_path: Path, image, layout: str) -> None:
    path = tmp_path / "a.tar"
    with open(path, "wb") as out:
        write_docker_archive([(image, ["example/app:1"])], out, layout=layout)
    [(loaded, tags)] = read_docker_archive(path)
    assert tags == ["example/app:1"]
    assert loaded.config_digest == image.config_digest
    assert [l.diff_id for l in loaded.layers()] == [l.diff_id for l in image.layers()]
    for ours, theirs in zip(loaded.layers(), image.layers()):
        assert ours.open_uncompressed().read() == theirs.data
    # save -> load -> save gives the same archive bytes
    again = tmp_path / "b.tar"
    with open(again, "wb") as out:
        write_docker_archive([(loaded, tags)], out, layout=layout)
    assert again.read_bytes() == path.read_bytes()


def test_legacy_layout_has_docker_pre25_members(tmp_path: Path, image) -> None:
    path = tmp_path / "a.tar"
    with open(path, "wb") as out:
        write_docker_archive([(image, ["app:1"])], out)
    names = tarfile.open(path).getnames()
    assert f"{image.config_digest.hex}.json" in names
    [entry] = manifest_of(path)
    assert entry["RepoTags"] == ["app:1"] and len(entry["Layers"]) == 2
    for layer in entry["Layers"]:
        directory = layer.split("/")[0]
        assert layer.endswith("/layer.tar") and f"{directory}/VERSION" in names and f"{directory}/json" in names
    assert "repositories" in names and "index.json" not in names


def test_oci_layout_inside_archive(tmp_path: Path, image) -> None:
    path = tmp_path / "a.tar"
    with open(path, "wb") as out:
        write_docker_archive([(image, ["app:1"])], out, layout="oci")
    names = tarfile.open(path).getnames()
    assert {"oci-layout", "index.json", "manifest.json"} <= set(names)
    assert all(layer.startswith("blobs/sha256/") for layer in manifest_of(path)[0]["Layers"])


def test_index_json_only_archive_is_read(tmp_path: Path, image) -> None:
    full = tmp_path / "full.tar"
    with open(full, "wb") as out:
        write_docker_archive([(image, ["app:1"])], out, layout="oci")
    oci_only = tmp_path / "oci.tar"
    rewrite_tar(full, oci_only, lambda m, d: None if m.name == "manifest.json" else (m, d))
    [(loaded, tags)] = read_docker_archive(oci_only)
    assert loaded.config_digest == image.config_digest and tags == ["app:1"]


def test_stream_source_and_gzip_archive(tmp_path: Path, image) -> None:
    buffer = io.BytesIO()
    write_docker_archive([(image, [])], buffer)
    import gzip

    with open_docker_archive(io.BytesIO(gzip.compress(buffer.getvalue()))) as archive:
        [(loaded, tags)] = archive.images
        assert loaded.config_digest == image.config_digest and tags == []
        spooled = archive._temp_path
        assert Path(spooled).exists()
    assert not Path(spooled).exists()


def test_shared_layers_written_once(tmp_path: Path) -> None:
    base = {"base": b"base"}
    first, second = small_image(base, {"one": b"1"}), small_image(base, {"two": b"2"})
    path = tmp_path / "two.tar"
    with open(path, "wb") as out:
        write_docker_archive([(first, ["a:1"]), (second, ["b:1"])], out)
    layer_tars = [n for n in tarfile.open(path).getnames() if n.endswith("layer.tar")]
    assert len(layer_tars) == 3
    assert [tags for _, tags in read_docker_archive(path)] == [["a:1"], ["b:1"]]


# -- hostile archives --------------------------------------------------------------------------

@pytest.fixture
def archive(tmp_path: Path, image) -> Path:
    path = tmp_path / "good.tar"
    with open(path, "wb") as out:
        write_docker_archive([(image, ["app:1"])], out)
    return path


def test_layer_that_does_not_match_diff_id(tmp_path: Path, archive: Path) -> None:
    bad = tmp_path / "bad.tar"
    layer = manifest_of(archive)[0]["Layers"][1]
    rewrite_tar(archive, bad, lambda m, d: (m, d[:-1] + b"!") if m.name == layer else (m, d))
    with pytest.raises(DigestMismatch) as caught:
        read_docker_archive(bad)
    assert layer in str(caught.value) and "diff_id" in str(caught.value)


def test_config_whose_digest_lies(tmp_path: Path, archive: Path, image) -> None:
    bad = tmp_path / "bad.tar"
    name = f"{image.config_digest.hex}.json"
    rewrite_tar(archive, bad, lambda m, d: (m, d.replace(b'"sh"', b'"ls"')) if m.name == name else (m, d))
    with pytest.raises(DigestMismatch) as caught:
        read_docker_archive(bad)
    assert name in str(caught.value) and str(image.config_digest) in str(caught.value)


def test_member_name_with_dotdot(tmp_path: Path, archive: Path) -> None:
    bad = tmp_path / "bad.tar"

    def edit(member, data):
        if member.name == "repositories":
            member.name = "../escape"
        return member, data

    rewrite_tar(archive, bad, edit)
    with pytest.raises(ArchiveError, match=r"unsafe member name '\.\./escape'"):
        read_docker_archive(bad)


def test_symlink_leaving_the_archive(tmp_path: Path, archive: Path) -> None:
    bad = tmp_path / "bad.tar"
    layer = manifest_of(archive)[0]["Layers"][0]

    def edit(member, data):
        if member.name == layer:
            member.type, member.linkname = tarfile.SYMTYPE, "../../etc/passwd"
        return member, data

    rewrite_tar(archive, bad, edit)
    with pytest.raises(ArchiveError, match="leaves the archive"):
        read_docker_archive(bad)


def test_truncated_archive(tmp_path: Path, archive: Path) -> None:
    bad = tmp_path / "cut.tar"
    data = archive.read_bytes()
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchiveError, match="cut.tar"):
        read_docker_archive(bad)


def test_not_an_archive(tmp_path: Path) -> None:
    junk = tmp_path / "junk.tar"
    junk.write_bytes(b"this is not a tar file at all" * 40)
    with pytest.raises(ArchiveError, match="junk.tar"):
        read_docker_archive(junk)
