"""How quickly the app paints, and how quickly it answers keys while a build floods its log.

    python bench/tui_first_paint.py [--images 500] [--lines 50000]

As ``bench/run`` scenarios (``tui-first-paint``, ``tui-key-response``) it
uses 500 images and a 10,000-line log (``--quick``: 50 and 2,000), and
reports the first-paint time and the 95th-percentile key latencies.

1. First paint: a store with N images; time from starting the app (headless,
   120x40) until the Images table shows all N rows.
2. Key response under a log flood: a thread feeds build log lines through the
   same bridge a real build uses, as fast as it can; meanwhile keys switch
   panels, and each key's time to take effect is recorded (p50/p95/max).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Measure, Options, Scenario, python_call, script_main  # noqa: E402
from layerlab.engine import events  # noqa: E402
from layerlab.engine.bootstrap import busybox_image  # noqa: E402
from layerlab.engine.oci.config import ImageConfig  # noqa: E402
from layerlab.engine.store import Store  # noqa: E402
from layerlab.engine.transports.memory import ConfigImage  # noqa: E402
from textual.events import Key  # noqa: E402
from textual.widgets import DataTable, Log, TabbedContent  # noqa: E402
from layerlab.tui.app import LayerlabApp  # noqa: E402
from layerlab.tui.config import TuiConfig  # noqa: E402
from layerlab.tui.messages import EngineEventBridge  # noqa: E402
from layerlab.tui.widgets.build import BuildPanel  # noqa: E402
from layerlab.tui.catalog import StoreCatalog  # noqa: E402


def fill_store(store: Store, count: int) -> None:
    base = busybox_image()
    base_config = json.loads(base.config_bytes())
    for number in range(count):
        config = ImageConfig.from_dict({**base_config, "created": f"2024-01-01T00:{number // 60 % 60:02}:{number % 60:02}Z",
                                        "config": {**base_config["config"], "Labels": {"n": str(number)}}})
        store.put_image(ConfigImage(config.to_bytes(), tuple(base.layers())), tags=[f"bench/image{number}:latest"])


async def first_paint(catalog: StoreCatalog, config: TuiConfig, count: int) -> tuple[float, float]:
    started = time.perf_counter()
    app = LayerlabApp(catalog, config=config)
    async with app.run_test(size=(120, 40)) as pilot:
        mounted = time.perf_counter() - started
        table = app.query_one("#images-table", DataTable)
        while table.row_count < count:
            await pilot.pause(0.005)
        await pilot.pause()
        return mounted, time.perf_counter() - started


async def keys_under_flood(catalog: StoreCatalog, config: TuiConfig, context: Path, lines: int) -> dict:
    app = LayerlabApp(catalog, config=config, context=context)
    latencies: list[float] = []
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("4")
        bridge = EngineEventBridge(app.query_one(BuildPanel))
        step = events.StepRef(1, "", 1, 1, "RUN make", 2)
        bridge(events.StepStarted(step))
        done = threading.Event()

        def flood() -> None:
            for number in range(lines):
                bridge(events.StepLog(step, "stdout", f"compiling unit {number} " + "x" * 60))
            done.set()

        worker = threading.Thread(target=flood)
        flood_started = time.perf_counter()
        worker.start()
        tabs = app.query_one(TabbedContent)
        log = app.query_one("#build-log", Log)
        switch_latencies: list[float] = []
        target = "images"
        while not done.is_set() or len(switch_latencies) < 20:
            # Panel switches: the heaviest common key (a full relayout of the new panel).
            switch_latencies.append(await key_until(app, "1" if target == "images" else "4",
                                                    lambda target=target: tabs.active == target))
            target = "build" if target == "images" else "images"
            if target == "images":
                # An in-panel key on the Build panel itself while lines pour in.
                follow = log.auto_scroll
                latencies.append(await key_until(app, "f", lambda: log.auto_scroll != follow))
        flood_seconds = time.perf_counter() - flood_started
        log = app.query_one("#build-log", Log)
        while bridge.log.lines or bridge.log.pending:  # the Log keeps only its last LOG_LINES_KEPT lines
            await pilot.pause(0.01)
        drained = time.perf_counter() - flood_started
    return {"switch": summary(switch_latencies), "follow": summary(latencies),
            "flood_seconds": flood_seconds, "all_lines_shown_seconds": drained}


def summary(latencies: list[float]) -> dict:
    latencies = sorted(latencies)
    return {"keys": len(latencies), "p50_ms": 1000 * statistics.median(latencies),
            "p95_ms": 1000 * latencies[int(0.95 * (len(latencies) - 1))], "max_ms": 1000 * latencies[-1]}


async def key_until(app: LayerlabApp, key: str, effect) -> float:
    """Deliver ``key`` as the terminal driver does (Pilot minus its wait for idle); seconds until ``effect()``."""
    before = time.perf_counter()
    event = Key(key, key)
    event.set_sender(app)
    app._driver.send_message(event)
    deadline = before + 10
    while not effect() and time.perf_counter() < deadline:
        await asyncio.sleep(0.001)
    elapsed = time.perf_counter() - before
    await asyncio.sleep(0.02)  # a person's gap between keys
    return elapsed


SCRIPT = Path(__file__).resolve()


def scenarios(options: Options) -> list[Scenario]:
    images = 50 if options.quick else 500
    lines = 2_000 if options.quick else 10_000
    area = options.workdir / "tui"
    root, context = area / "root", area / "ctx"

    def setup() -> dict:
        if not (root / "meta.db").exists():
            context.mkdir(parents=True, exist_ok=True)
            (context / "Dockerfile").write_text("FROM busybox\nRUN make\n")
            with Store.open(root) as store:
                fill_store(store, images)
        return {"images": images, "log_lines": lines}

    def paint() -> list[Measure]:
        return [Measure(f"layerlab tui: all {images} images listed", "layerlab",
                        python_call(SCRIPT, "first_paint_work", root, area / "config", images))]

    def keys() -> list[Measure]:
        return [Measure(f"layerlab tui: {which} key p95 during a {lines:,}-line log", "layerlab",
                        python_call(SCRIPT, "key_response_work", root, area / "config", context, lines, which))
                for which in ("switch", "follow")]

    return [Scenario("tui-first-paint", f"TUI time to first paint with {images} images in the store", setup, paint),
            Scenario("tui-key-response", f"TUI key response during a {lines:,}-line build log", setup, keys)]


def _catalog(root: str, config_dir: str) -> tuple[StoreCatalog, TuiConfig]:
    return StoreCatalog(Store.open(Path(root)), Path(root)), TuiConfig(directory=Path(config_dir))


def first_paint_work(root: str, config_dir: str, images: int):
    catalog, config = _catalog(root, config_dir)
    return lambda: asyncio.run(first_paint(catalog, config, images))[1]


def key_response_work(root: str, config_dir: str, context: str, lines: int, which: str):
    """The 95th-percentile latency, in seconds, of ``which`` keys ("switch" or "follow") under the flood."""
    catalog, config = _catalog(root, config_dir)
    return lambda: asyncio.run(keys_under_flood(catalog, config, Path(context), lines))[which]["p95_ms"] / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--lines", type=int, default=50_000)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp) / "root"
        context = Path(temp) / "ctx"
        context.mkdir()
        (context / "Dockerfile").write_text("FROM busybox\nRUN make\n")
        config = TuiConfig(directory=Path(temp) / "config")
        store = Store.open(root)
        started = time.perf_counter()
        fill_store(store, options.images)
        print(f"store: {options.images} images written in {time.perf_counter() - started:.1f}s")
        catalog = StoreCatalog(store, root)
        mounted, painted = asyncio.run(first_paint(catalog, config, options.images))
        print(f"first paint: app mounted in {mounted * 1000:.0f} ms, all {options.images} images listed "
              f"in {painted * 1000:.0f} ms")
        result = asyncio.run(keys_under_flood(catalog, config, context, options.lines))
        print(f"while {options.lines} log lines flood the Build panel "
              f"(flood {result['flood_seconds']:.2f}s, every line on screen after "
              f"{result['all_lines_shown_seconds']:.2f}s):")
        for name, label in (("follow", "in-panel key (f)"), ("switch", "panel switch (1/4)")):
            numbers = result[name]
            print(f"  {label}: p50 {numbers['p50_ms']:.1f} ms, p95 {numbers['p95_ms']:.1f} ms, "
                  f"max {numbers['max_ms']:.1f} ms over {numbers['keys']} keys")
        store.close()


if __name__ == "__main__":
    if {"--images", "--lines"} & set(sys.argv[1:]) or len(sys.argv) == 1:
        main()  # the detailed report (first paint, p50/p95/max per key kind)
    else:
        raise SystemExit(script_main(scenarios, __doc__))
