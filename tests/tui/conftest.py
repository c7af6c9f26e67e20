"""A real store with two images for the app's tests: the busybox base and an app built on it."""

from __future__ import annotations

import io
import json
import tarfile
from datetime import datetime, timezone
from pathlib import Path

import pytest

from layerlab.engine.bootstrap import busybox_image
from layerlab.engine.oci.config import ImageConfig
from layerlab.engine.transports.memory import BytesLayer, ConfigImage
from layerlab.tui.app import LayerlabApp
from layerlab.tui.config import TuiConfig
from layerlab.tui.catalog import StoreCatalog

HELLO_PY = b'import sys\n\ndef main():\n    print("hello from a layer")\n\nmain()\n'
BINARY = bytes(range(256)) * 16


def open_store(root: Path):
    try:
        from layerlab.engine.store import Store
    except ImportError:
        from layerlab.engine.store.facade import Store
    return Store.open(root)


def layer_tar(files: dict[str, bytes | None], dirs: tuple[str, ...] = ()) -> bytes:
    """A layer tar: ``None`` content makes a whiteout for that path."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.USTAR_FORMAT) as tar:
        for name in dirs:
            info = tarfile.TarInfo(name)
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
        for name, data in files.items():
            if data is None:
                parent, _, base = name.rpartition("/")
                info = tarfile.TarInfo(f"{parent}/.wh.{base}" if parent else f".wh.{base}")
                tar.addfile(info, io.BytesIO(b""))
                continue
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def app_image(base: ConfigImage) -> ConfigImage:
    """busybox + COPY app (a script, a binary, a changed passwd) + RUN rm of the binary."""
    passwd = b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/app:/bin/sh\n"
    copy = BytesLayer(layer_tar({"app/hello.py": HELLO_PY, "app/data.bin": BINARY, "etc/passwd": passwd},
                                dirs=("app",)))
    remove = BytesLayer(layer_tar({"app/data.bin": None}))
    layers = (*base.layers(), copy, remove)
    base_config = json.loads(base.config_bytes())
    history = base_config["history"] + [
        {"created": "2024-05-01T10:00:00Z", "created_by": "COPY app /app # buildkit"},
        {"created": "2024-05-01T10:00:01Z", "created_by": "ENV MODE=demo", "empty_layer": True},
        {"created": "2024-05-01T10:00:02Z", "created_by": "RUN /bin/sh -c rm /app/data.bin # buildkit"},
    ]
    config = ImageConfig.from_dict({
        **base_config,
        "created": "2024-05-01T10:00:02Z",
        "rootfs": {"type": "layers", "diff_ids": [str(layer.diff_id) for layer in layers]},
        "history": history,
    })
    return ConfigImage(config.to_bytes(), layers)


def plain_base() -> ConfigImage:
    """A tiny base made only of fixed bytes, so screenshots are the same on every machine."""
    layer = BytesLayer(layer_tar({"bin/sh": b"\x7fELF" + bytes(2000), "etc/passwd": b"root:x:0:0:root:/root:/bin/sh\n",
                                  "etc/os-release": b'NAME="plain"\n'}, dirs=("bin", "etc")))
    config = ImageConfig.from_dict({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [str(layer.diff_id)]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": "ADD rootfs.tar /"},
                    {"created": "2024-01-01T00:00:00Z", "created_by": 'CMD ["sh"]', "empty_layer": True}],
    })
    return ConfigImage(config.to_bytes(), (layer,))


@pytest.fixture
def plain_catalog(root: Path):
    """A store holding only machine-independent images (for SVG snapshots)."""
    store = open_store(root)
    base = plain_base()
    store.put_image(base, tags=["plain:1"])
    store.put_image(app_image(base), tags=["demo/app:1.0"])
    # A fixed "now", so the ages shown ("2 years ago") are the same whenever the snapshot is taken.
    yield StoreCatalog(store, root, clock=lambda: datetime(2026, 1, 1, tzinfo=timezone.utc))
    store.close()


@pytest.fixture
def store(root: Path):
    store = open_store(root)
    base = busybox_image()
    store.put_image(base, tags=["busybox:latest"])
    store.put_image(app_image(base), tags=["demo/app:1.0", "demo/app:latest"])
    yield store
    store.close()


@pytest.fixture
def catalog(store, root: Path) -> StoreCatalog:
    return StoreCatalog(store, root)


@pytest.fixture
def config(tmp_path: Path) -> TuiConfig:
    directory = tmp_path / "config"
    directory.mkdir()
    return TuiConfig(directory=directory)


@pytest.fixture
def make_app(catalog, config):
    def make(**kwargs) -> LayerlabApp:
        kwargs.setdefault("config", config)
        return LayerlabApp(catalog, **kwargs)

    return make


async def wait_for(pilot, condition, seconds: float = 15) -> None:
    """Let workers finish: pause until ``condition()`` holds; fail the test if it never does."""
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await pilot.pause(0.02)
    raise AssertionError("condition never became true")


@pytest.fixture
def anyio_backend() -> str:
    # Pilot tests are coroutines; anyio (a dependency of watchfiles) runs them on asyncio.
    return "asyncio"
