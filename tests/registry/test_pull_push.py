"""Pull and push against a real docker-registry on 127.0.0.1."""

from __future__ import annotations

import json

import pytest

from layerlab.engine.errors import NotFound
from layerlab.engine.events import EventList, TransferProgress
from layerlab.engine.oci import mediatypes as mt
from layerlab.engine.oci.descriptor import Descriptor, Platform
from layerlab.engine.oci.manifest import Index
from layerlab.engine.registry.client import RegistryClient
from layerlab.engine.registry.manifests import fetch_manifest, put_manifest
from layerlab.engine.registry.pull import ensure_image, pull
from layerlab.engine.registry.push import push
from layerlab.engine.registry.state import RegistryState
from layerlab.engine.store import Store
from tests.registry.images import test_image as make_image


def _errors(store: Store) -> list:
    return [p for p in store.fsck() if p.is_error]


def test_push_then_pull_gives_the_same_image_and_records_the_repo_digest(registry, tmp_path):
    source = Store.open(tmp_path / "a")
    built = source.put_image(make_image([3000, 5000, 70000], seed=2, compressed=False), tags=["app:1"])
    result = push(f"{registry.host}/team/app:1", source, source="app:1")
    assert set(result.blobs.values()) == {"pushed"}
    assert result.media_type == mt.DOCKER_MANIFEST
    assert source.image("app:1").repo_digests == (f"{registry.host}/team/app@{result.digest}",)

    target = Store.open(tmp_path / "b")
    events = EventList()
    pulled = pull(f"{registry.host}/team/app:1", target, events=events)
    assert pulled.id == built.id
    assert pulled.tags == (f"{registry.host}/team/app:1",)
    assert pulled.repo_digests == (f"{registry.host}/team/app@{result.digest}",)
    assert [layer.diff_id for layer in pulled.layers()] == [layer.diff_id for layer in built.layers()]
    assert all(layer.media_type == mt.DOCKER_LAYER_GZIP for layer in pulled.layers())
    finished = {e.digest for e in events if isinstance(e, TransferProgress) and e.done == e.total}
    assert finished == {str(layer.digest) for layer in pulled.layers()}
    assert _errors(target) == [] and _errors(source) == []


def test_images_digests_shows_the_pulled_manifest_digest(registry, tmp_path, cli):
    source = Store.open(tmp_path / "a")
    source.put_image(make_image([1000], seed=3), tags=["small:1"])
    result = push(f"{registry.host}/small:v1", source, source="small:1")
    assert cli("pull", f"{registry.host}/small:v1").code == 0
    listing = cli("images", "--digests", "--format", "{{.Repository}} {{.Digest}}")
    assert f"{registry.host}/small {result.digest}" in listing.out


def test_a_second_push_neither_recompresses_nor_resends(registry, tmp_path):
    store = Store.open(tmp_path / "a")
    image = store.put_image(make_image([200000], seed=4, compressed=False), tags=["plain:1"])
    first = push(f"{registry.host}/plain:1", store, source="plain:1")
    state = RegistryState(store.root)
    gzip_digest, _ = state.compressed(image.layers()[0].diff_id)
    blob_inode = store.blobs.path(gzip_digest).stat().st_ino
    again = push(f"{registry.host}/plain:1", store, source="plain:1")
    elsewhere = push(f"{registry.host}/copy/plain:2", store, source="plain:1")
    assert again.digest == first.digest == elsewhere.digest
    assert set(again.blobs.values()) == {"exists"}
    assert set(elsewhere.blobs.values()) == {"mounted"}
    assert store.blobs.path(gzip_digest).stat().st_ino == blob_inode   # not rewritten: not recompressed
    assert str(gzip_digest) in again.blobs
    store.gc()
    assert store.blobs.has(gzip_digest), "gc must keep the compressed layer for the next push"


def test_pull_skips_layers_already_in_the_store(registry, tmp_path):
    source = Store.open(tmp_path / "a")
    source.put_image(make_image([4000, 6000], seed=5), tags=["one:1"])
    push(f"{registry.host}/one:1", source, source="one:1")
    target = Store.open(tmp_path / "b")
    first = pull(f"{registry.host}/one:1", target)
    source.tag("one:1", f"{registry.host}/one-again:1")
    push(f"{registry.host}/one-again:1", source)
    events = EventList()
    again = pull(f"{registry.host}/one-again:1", target, events=events)
    assert again.id == first.id
    assert {e.action for e in events} == {"exists"}


def test_chunked_upload_round_trips(registry, tmp_path):
    store = Store.open(tmp_path / "a")
    built = store.put_image(make_image([300000, 10], seed=6), tags=["big:1"])
    events = EventList()
    push(f"{registry.host}/chunked:1", store, source="big:1", chunk_size=64 * 1024, events=events)
    layer = built.layers()[0]
    offsets = [e.done for e in events if isinstance(e, TransferProgress) and e.digest == str(layer.digest)]
    assert len(set(offsets)) > 3    # it went in several chunks
    pulled = pull(f"{registry.host}/chunked:1", Store.open(tmp_path / "b"))
    assert pulled.id == built.id


def _push_index(registry, tmp_path) -> dict[str, str]:
    """Push an amd64 and an arm64 image by digest and an OCI index naming both under ``multi:1``."""
    store = Store.open(tmp_path / "multi-src")
    client = RegistryClient(registry.host)
    entries, ids = [], {}
    for arch, seed in (("amd64", 7), ("arm64", 8)):
        image = store.put_image(make_image([2000], seed=seed, architecture=arch), tags=[f"multi-{arch}:1"])
        result = push(f"{registry.host}/multi:{arch}", store, source=f"multi-{arch}:1")
        platform = Platform("linux", arch, "v8" if arch == "arm64" else "")
        entries.append(Descriptor(result.media_type, result.digest, result.size, platform=platform))
        ids[arch] = str(image.id)
    index = Index.build(entries, media_type=mt.OCI_INDEX)
    put_manifest(client, "multi", "1", index.to_bytes(), mt.OCI_INDEX)
    ids["index"] = str(index.digest)
    return ids


def test_pull_selects_the_platform_from_an_index(registry, tmp_path):
    ids = _push_index(registry, tmp_path)
    store = Store.open(tmp_path / "b")
    arm = pull(f"{registry.host}/multi:1", store, platform="linux/arm64")
    assert str(arm.id) == ids["arm64"]
    assert arm.repo_digests == (f"{registry.host}/multi@{ids['index']}",)
    amd = pull(f"{registry.host}/multi:1", store, platform=Platform("linux", "amd64"))
    assert str(amd.id) == ids["amd64"]
    with pytest.raises(NotFound, match="linux/s390x.*available: linux/amd64, linux/arm64/v8"):
        pull(f"{registry.host}/multi:1", store, platform="linux/s390x")


def test_pull_by_digest_records_no_tag(registry, tmp_path):
    source = Store.open(tmp_path / "a")
    source.put_image(make_image([1500], seed=9), tags=["bydigest:1"])
    result = push(f"{registry.host}/bydigest:1", source, source="bydigest:1")
    pulled = pull(f"{registry.host}/bydigest@{result.digest}", Store.open(tmp_path / "b"))
    assert pulled.tags == ()
    assert pulled.repo_digests == (f"{registry.host}/bydigest@{result.digest}",)


def test_oci_manifest_is_pushed_as_stored(registry, tmp_path):
    from layerlab.engine.transports.memory import ConfigImage, build_manifest

    image = make_image([1200], seed=10)
    oci = ConfigImage(image.config, image.image_layers, oci=True)
    store = Store.open(tmp_path / "a")
    stored = store.put_image(oci, tags=["ocimg:1"])
    result = push(f"{registry.host}/ocimg:1", store, source="ocimg:1")
    assert result.media_type == mt.OCI_MANIFEST
    assert result.digest == stored.manifest_digest
    fetched = fetch_manifest(RegistryClient(registry.host), "ocimg", "1")
    assert fetched.raw == build_manifest(oci.config, oci.image_layers, oci=True)


def test_ensure_image_pulls_only_what_is_missing_or_moved(registry, tmp_path):
    source = Store.open(tmp_path / "a")
    source.put_image(make_image([1000], seed=11), tags=["base:1"])
    push(f"{registry.host}/base:1", source, source="base:1")
    store = Store.open(tmp_path / "b")
    first = ensure_image(f"{registry.host}/base:1", store)
    # The tag moves on the registry: "missing" keeps the local copy, "always" fetches the new one.
    newer = source.put_image(make_image([1000], seed=12), tags=["base:2"])
    push(f"{registry.host}/base:1", source, source="base:2")
    assert ensure_image(f"{registry.host}/base:1", store).id == first.id
    assert ensure_image(f"{registry.host}/base:1", store, pull="always").id == newer.id
    registry.stop()
    assert ensure_image(f"{registry.host}/base:1", store).id == newer.id   # no registry needed
    with pytest.raises(NotFound):
        ensure_image(f"{registry.host}/base:9", store, pull="never")


def test_cli_pull_and_push_print_docker_style_lines(registry, tmp_path, cli, root):
    store = Store.open(root)
    store.put_image(make_image([2500, 3500], seed=13, compressed=False), tags=[f"{registry.host}/cli/app:1"])
    store.close()
    pushed = cli("push", f"{registry.host}/cli/app:1")
    assert pushed.code == 0, pushed.err
    lines = pushed.out.splitlines()
    assert lines[0] == f"The push refers to repository [{registry.host}/cli/app]"
    assert sum(line.endswith(": Pushed") for line in lines) == 2
    assert lines[-1].startswith("1: digest: sha256:") and " size: " in lines[-1]
    again = cli("pull", f"{registry.host}/cli/app:1")
    assert again.code == 0, again.err
    assert "Status: Image is up to date for" in again.out
    other = cli("pull", "-q", f"{registry.host}/cli/app@{lines[-1].split()[2]}")
    assert other.code == 0 and other.out.strip().endswith(lines[-1].split()[2])


def test_cli_errors_are_one_line(registry, cli):
    for args, needle in (
        (("pull", "Bad/Name"), "invalid reference format"),
        (("pull", f"{registry.host}/nothing-here:1"), "not found"),
        (("pull", "--platform", "linux", f"{registry.host}/x:1"), "invalid platform"),
        (("push", f"{registry.host}/never-built:1"), "no such image"),
    ):
        result = cli(*args)
        assert result.code != 0, args
        assert needle in result.err and result.err.count("\n") == 1 and "Traceback" not in result.err, result.err


def test_tags_and_search_list_what_the_registry_holds(registry, tmp_path, cli):
    from layerlab.engine.registry.catalog import catalog, list_tags, search

    store = Store.open(tmp_path / "a")
    store.put_image(make_image([500], seed=14), tags=["disc:1"])
    names = ["disc/alpha", "disc/beta", "other/gamma", "disc/delta", "zeta"]
    for name in names:
        push(f"{registry.host}/{name}:1", store, source="disc:1")
    for tag in ("2", "3", "10"):
        push(f"{registry.host}/disc/alpha:{tag}", store, source="disc:1")
    client = RegistryClient(registry.host)
    assert catalog(client, page_size=2) == sorted(names)     # three pages
    assert search(client, "DISC/", page_size=2) == ["disc/alpha", "disc/beta", "disc/delta"]
    assert sorted(list_tags(client, "disc/alpha", page_size=1)) == ["1", "10", "2", "3"]

    found = cli("search", "disc", "--registry", registry.host)
    assert found.out.splitlines() == ["NAME", *(f"{registry.host}/disc/{n}" for n in ("alpha", "beta", "delta"))]
    as_json = cli("search", "gamma", "--registry", registry.host, "--format", "json")
    assert [json.loads(line)["Name"] for line in as_json.out.splitlines()] == [f"{registry.host}/other/gamma"]
    tags = cli("tags", f"{registry.host}/disc/alpha")
    assert tags.out.splitlines()[0].split() == ["REPOSITORY", "TAG"]
    assert sorted(line.split()[1] for line in tags.out.splitlines()[1:]) == ["1", "10", "2", "3"]
    unreachable_index = cli("search", "x")     # no --registry: the index (a closed local port here)
    assert unreachable_index.code != 0 and "Traceback" not in unreachable_index.err


def test_push_of_a_damaged_layer_fails_naming_it_and_puts_no_manifest(registry, root, cli):
    """An uncompressed layer is gzipped for the push: damage must fail the push, not be compressed and sent."""
    store = Store.open(root)
    image = store.put_image(make_image([20000], seed=9, compressed=False), tags=["dmg:1"])
    digest = image.layers()[0].digest
    blob = store.blobs.path(digest)
    blob.chmod(0o644)
    data = bytearray(blob.read_bytes())
    data[len(data) // 3] ^= 0xFF   # inside the file's content: the tar still reads
    blob.write_bytes(bytes(data))
    store.close()
    assert cli("tag", "dmg:1", f"{registry.host}/dmg:1").code == 0
    result = cli("push", f"{registry.host}/dmg:1")
    assert result.code != 0
    assert str(digest) in result.err and "Traceback" not in result.err, result.err
    client = RegistryClient(registry.host)
    with pytest.raises(NotFound):
        fetch_manifest(client, "dmg", "1")
