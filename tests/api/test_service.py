"""The service layer both front ends call: rows, history with layers, the save tag rule, sizes."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerlab.engine.api.image_rows import image_rows
from layerlab.engine.api.layer_history import history_rows
from layerlab.engine.api.saving import images_to_save, save
from layerlab.engine.api.sizes import human_size
from layerlab.engine.image import layer_content_size
from layerlab.engine.oci.digest import Digest
from layerlab.engine.store import Store
from layerlab.engine.transports.docker_archive import read_docker_archive
from tests.tui.conftest import app_image, plain_base


@pytest.fixture
def store(tmp_path: Path):
    with Store.open(tmp_path / "root") as store:
        base = plain_base()
        store.put_image(base, tags=["plain:1"])
        store.put_image(app_image(base), tags=["demo/app:1.0", "demo/app:latest"])
        yield store


def test_rows_one_per_tag_with_digest_ids(store: Store) -> None:
    rows = {(row.repository, row.tag): row for row in image_rows(store.images())}
    assert set(rows) == {("plain", "1"), ("demo/app", "1.0"), ("demo/app", "latest")}
    app = rows["demo/app", "1.0"]
    assert isinstance(app.image_id, Digest) and app.image_id == store.image("demo/app:1.0").id
    assert app.ref == "demo/app:1.0" and app.short_id == app.image_id.hex[:12]
    store.untag("plain:1")
    [untagged] = [row for row in image_rows(store.images()) if row.repository == "<none>"]
    assert untagged.ref == str(untagged.image_id) and untagged.tag == "<none>"


def test_history_pairs_entries_with_their_layers(store: Store) -> None:
    image = store.image("demo/app:1.0")
    rows = history_rows(image)
    layers = list(image.layers())
    # ADD, CMD (empty), COPY, ENV (empty), RUN: five entries, three layers
    assert [row.layer_index for row in rows] == [0, None, 1, None, 2]
    assert [row.empty_layer for row in rows] == [False, True, False, True, False]
    assert rows[2].created_by == "COPY app /app # buildkit" and rows[2].layer is layers[1]
    assert rows[2].size == layer_content_size(layers[1]) and rows[1].size == 0
    assert all(row.recorded for row in rows)


def test_save_keeps_the_name_it_was_asked_by_and_none_for_an_id(store: Store, tmp_path: Path) -> None:
    image = store.image("demo/app:1.0")
    assert [tags for _, tags in images_to_save(store, ["demo/app:1.0", "demo/app:1.0", str(image.id)])] == [
        ["demo/app:1.0"]]
    assert [tags for _, tags in images_to_save(store, [str(image.id)])] == [[]]
    save(store, ["demo/app:latest"], tmp_path / "app.tar")
    [(saved, tags)] = read_docker_archive(tmp_path / "app.tar")
    assert tags == ["demo/app:latest"] and saved.config_digest == image.id


@pytest.mark.parametrize("size, text", [(0, "0B"), (999, "999B"), (1000, "1kB"), (4_160, "4.16kB"),
                                        (6_270_000, "6.27MB"), (1_234_567_890, "1.23GB")])
def test_human_size_is_dockers(size: int, text: str) -> None:
    assert human_size(size) == text
