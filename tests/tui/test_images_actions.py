"""Images panel: intermediate images hidden as ``images`` hides them, history sizes, save and push."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Label, RadioSet

from layerlab.engine.bootstrap import busybox_image
from layerlab.engine.image import layer_content_size
from layerlab.engine.oci.config import ImageConfig
from layerlab.engine.transports.docker_archive import read_docker_archive
from layerlab.engine.transports.memory import BytesLayer, ConfigImage
from layerlab.engine.transports.oci_layout import read_oci_layout
from tests.registry.servers import Registry
from tests.tui.conftest import BINARY, HELLO_PY, layer_tar, open_store
from layerlab.tui.messages import ImageSelected
from layerlab.tui.catalog import StoreCatalog, human_size

pytestmark = pytest.mark.anyio

SIZE = (120, 40)


def column(table: DataTable, key: str) -> list[str]:
    return [str(table.get_cell(row_key, key)) for row_key in table.rows]


async def wait_for(pilot, condition, tries: int = 400) -> None:
    for _ in range(tries):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition never became true")


def on_top(base, files: dict[str, bytes], created_by: str) -> ConfigImage:
    """``base`` plus one layer, as a build step would commit it."""
    layer = BytesLayer(layer_tar(files))
    layers = (*base.layers(), layer)
    data = json.loads(base.config_bytes())
    data["rootfs"] = {"type": "layers", "diff_ids": [str(item.diff_id) for item in layers]}
    data["history"] = data["history"] + [{"created": "2024-05-01T10:00:00Z", "created_by": created_by}]
    return ConfigImage(ImageConfig.from_dict(data).to_bytes(), layers)


@pytest.fixture
def build_store(root: Path):
    """busybox, two untagged build steps under a tagged top, and a dangling image nothing builds on."""
    store = open_store(root)
    base = busybox_image()
    base_id = store.put_image(base, tags=["busybox:latest"]).id
    step1 = on_top(base, {"one.txt": b"1\n"}, "COPY one.txt /")
    step1_id = store.put_image(step1, parent=str(base_id)).id
    step2 = on_top(step1, {"two.txt": b"22\n"}, "COPY two.txt /")
    step2_id = store.put_image(step2, parent=str(step1_id)).id
    store.put_image(on_top(step2, {"three.txt": b"333\n"}, "COPY three.txt /"), tags=["built:1"],
                    parent=str(step2_id))
    store.put_image(on_top(base, {"old.txt": b"old\n"}, "COPY old.txt /"))  # a tag moved away: dangling
    yield store
    store.close()


async def test_intermediate_images_hidden_until_all_is_asked_for(build_store, root: Path, config):
    from layerlab.tui.app import LayerlabApp

    app = LayerlabApp(StoreCatalog(build_store, root), config=config)
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one("#images-table", DataTable)
        await wait_for(pilot, lambda: table.row_count > 0)
        # What `layerlab images` lists: the two tags and the dangling image without children.
        assert sorted(column(table, "repository")) == ["<none>", "built", "busybox"]
        assert "intermediate hidden" in str(app.query_one("#images-status", Label).content)
        await pilot.press("A")
        await wait_for(pilot, lambda: table.row_count == 5)
        assert column(table, "repository").count("<none>") == 3
        await pilot.press("A")
        await wait_for(pilot, lambda: table.row_count == 3)


async def test_history_sizes_are_layer_contents(make_app, store):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.post_message(ImageSelected("demo/app:1.0"))
        history = app.query_one("#history-table", DataTable)
        await wait_for(pilot, lambda: history.row_count == 5)
        passwd = b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n"
        copy_contents = len(HELLO_PY) + len(BINARY) + len(passwd)
        sizes = column(history, "size")
        assert sizes[2] == human_size(copy_contents)  # the COPY: its three files, not its tar
        assert sizes[4] == "0B"  # a whiteout ships no file contents
        base_layer = store.image("busybox:latest").layers()[0]
        assert sizes[0] == human_size(layer_content_size(base_layer))
        assert layer_content_size(base_layer) < base_layer.uncompressed_size


async def select_ref(pilot, app, ref: str) -> None:
    table = app.query_one("#images-table", DataTable)
    await wait_for(pilot, lambda: table.row_count > 0)
    keys = [str(key.value) for key in table.rows]
    table.focus()
    table.move_cursor(row=keys.index(ref))


async def test_save_writes_a_docker_archive_or_an_oci_layout(make_app, store, tmp_path: Path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await select_ref(pilot, app, "demo/app:1.0")
        archive = tmp_path / "app.tar"
        await pilot.press("S")
        path = app.screen.query_one("#save-path", Input)
        assert path.value == "demo_app_1.0.tar"
        path.value = str(archive)
        await pilot.press("enter")
        await wait_for(pilot, lambda: "saved" in str(app.query_one("#transfer-status", Label).content))
        [(image, tags)] = read_docker_archive(archive)
        assert tags == ["demo/app:1.0"]
        assert image.config_digest == store.image("demo/app:1.0").id

        layout = tmp_path / "layout"
        await pilot.press("S")
        screen = app.screen
        screen.query_one("#save-format", RadioSet).focus()
        await pilot.press("down", "enter")  # the second format: an OCI layout
        assert screen.format == "oci"
        assert screen.query_one("#save-path", Input).value == "demo_app_1.0"  # the suggestion follows the format
        screen.query_one("#save-path", Input).value = str(layout)
        screen.query_one("#save-path", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: (layout / "index.json").exists()
                       and "saved" in str(app.query_one("#transfer-status", Label).content))
        [(image, tags)] = read_oci_layout(layout)
        assert image.config_digest == store.image("demo/app:1.0").id


async def test_save_into_a_missing_directory_fails_in_one_line(make_app, tmp_path: Path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await select_ref(pilot, app, "busybox:latest")
        await pilot.press("S")
        app.screen.query_one("#save-path", Input).value = str(tmp_path / "missing" / "out.tar")
        await pilot.press("enter")
        status = app.query_one("#transfer-status", Label)
        await wait_for(pilot, lambda: "save failed" in str(status.content))
        assert "\n" not in str(status.content)
        assert not (tmp_path / "missing").exists()


@pytest.fixture
def registry(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))  # never the user's credentials
    server = Registry(tmp_path / "registry").start()
    yield server
    server.stop()


def registry_manifest(registry: Registry, repository: str, tag: str) -> dict:
    import urllib.request

    request = urllib.request.Request(f"http://{registry.host}/v2/{repository}/manifests/{tag}", headers={
        "Accept": "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


async def test_push_to_a_real_registry_shows_each_layer(make_app, store, registry: Registry):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await select_ref(pilot, app, "demo/app:1.0")
        await pilot.press("p")
        target = app.screen.query_one("#prompt-input", Input)
        assert target.value == "demo/app:1.0"  # prefilled with the tag
        target.value = f"{registry.host}/demo/app:pushed"
        await pilot.press("enter")
        status = app.query_one("#transfer-status", Label)
        await wait_for(pilot, lambda: str(status.content).startswith("pushed to"))
        lines = str(status.content).splitlines()
        image = store.image("demo/app:1.0")
        assert len(lines) == 1 + len(image.layers()) + 1  # a line per layer and the config
        assert all(" done " in line for line in lines[1:])
        manifest = registry_manifest(registry, "demo/app", "pushed")
        assert manifest["config"]["digest"] == str(image.id)
        assert len(manifest["layers"]) == len(image.layers())


async def test_push_failure_is_one_line(make_app, registry: Registry):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await select_ref(pilot, app, "busybox:latest")
        registry.stop()  # nothing answers there now
        await pilot.press("p")
        app.screen.query_one("#prompt-input", Input).value = f"{registry.host}/gone/busybox:1"
        await pilot.press("enter")
        status = app.query_one("#transfer-status", Label)
        await wait_for(pilot, lambda: "failed" in str(status.content))
        head = str(status.content).splitlines()[0]
        assert head.startswith(f"push to {registry.host}/gone/busybox:1 failed: ")


async def test_history_fits_size_and_bar_beside_a_long_instruction(make_app, store):
    long_step = on_top(store.image("busybox:latest"), {"x.txt": b"x" * 500},
                       "RUN " + " && ".join(f"echo step{number}" for number in range(40)))
    image_id = str(store.put_image(long_step).id)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.post_message(ImageSelected(image_id))
        history = app.query_one("#history-table", DataTable)
        await wait_for(pilot, lambda: history.row_count == 3)
        await pilot.pause()
        assert column(history, "created_by")[2].endswith("…")
        # Every column's right edge inside the screen: Size and the size bar are visible.
        assert sum(column.get_render_width(history) for column in history.columns.values()) <= SIZE[0]
        assert str(app.query_one("#history-title", Label).content).startswith(image_id[7:19] + ": 2 layers")
