"""Builds meet registries: FROM pulls a missing base; --cache-to/--cache-from share the cache between stores."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

from layerlab.engine.bootstrap import busybox_image
from layerlab.engine.registry.push import push
from layerlab.engine.store import Store
from tests.peers import need_program
from layerlab.cli.main import main


def layerlab(root: Path, *args: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["--root", str(root), *args])
    return code, out.getvalue(), err.getvalue()


def _context(tmp_path: Path, dockerfile: str) -> Path:
    context = tmp_path / "context"
    context.mkdir()
    (context / "Dockerfile").write_text(dockerfile)
    (context / "app.txt").write_text("app\n")
    return context


def _step_cache(output: str) -> list[str]:
    events = [json.loads(line) for line in output.splitlines() if line.startswith("{")]
    return [e["cache"] for e in events if e["type"] == "step.end" and not e["instruction"].startswith("FROM")]


def test_from_pulls_a_base_missing_from_the_store(registry, tmp_path: Path):
    need_program("busybox")
    base = f"{registry.host}/base/busybox:1"
    with Store.open(tmp_path / "pusher") as pusher:
        pusher.put_image(busybox_image(), tags=[base])
        push(base, pusher)
    root = tmp_path / "builder"
    context = _context(tmp_path, f"FROM {base}\nCOPY app.txt /app.txt\nRUN cat /app.txt > /copy.txt\n")
    code, out, err = layerlab(root, "build", "-q", "-t", "app:1", str(context))
    assert code == 0, err
    with Store.open(root) as store:
        assert str(store.image(base).id) == str(busybox_image().config_digest)
        assert store.image("app:1").config.history[-1].created_by.endswith("cat /app.txt > /copy.txt")


def test_build_with_pull_fails_clearly_when_the_registry_is_gone(tmp_path: Path):
    need_program("busybox")
    root = tmp_path / "root"
    with Store.open(root) as store:
        store.put_image(busybox_image(), tags=["127.0.0.1:9/base/busybox:1"])  # nothing listens on port 9
    context = _context(tmp_path, "FROM 127.0.0.1:9/base/busybox:1\nCOPY app.txt /\n")
    code, _, err = layerlab(root, "build", "--pull", "--progress", "plain", str(context))
    assert code == 1
    message = err.strip().splitlines()[0]
    assert message.startswith("layerlab: Dockerfile:1: FROM 127.0.0.1:9/base/busybox:1: --pull: pulling it failed:")
    # without --pull the stored base is used and nothing is asked of the registry
    assert layerlab(root, "build", "-q", str(context))[0] == 0


def test_cache_to_and_cache_from_give_a_fresh_store_every_hit(registry, tmp_path: Path):
    need_program("busybox")
    context = _context(tmp_path, "FROM busybox\nCOPY app.txt /app.txt\nRUN cat /app.txt > /copy.txt\nENV DONE=1\n")
    cache = f"registry:{registry.host}/cache/app:main"
    first, second = tmp_path / "machine-a", tmp_path / "machine-b"
    for root in (first, second):
        assert layerlab(root, "bootstrap", "busybox")[0] == 0
    code, out, err = layerlab(first, "build", "--progress", "json", "--cache-to", cache, "-t", "app:1", str(context))
    assert code == 0, err
    assert _step_cache(out) == ["miss", "miss", "miss"]
    code, out, err = layerlab(second, "build", "--progress", "json", "--cache-from", cache, "-t", "app:1", str(context))
    assert code == 0, err
    assert _step_cache(out) == ["hit", "hit", "hit"]
    with Store.open(first) as a, Store.open(second) as b:
        assert a.image("app:1").id == b.image("app:1").id
