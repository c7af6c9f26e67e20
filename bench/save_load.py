"""save/load throughput: layerlab vs docker on a deterministic 200 MB, 10-layer image.

Usage: python bench/save_load.py [--runs 3] [--mb 200] [--layers 10]

Every run starts from the same state: for load, the image is absent (a fresh
layerlab root; ``docker rmi`` first); for save, it is present. Prints the
median seconds, MB/s and the layerlab/docker time ratio (lower is better for us).
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from engine.oci.config import ImageConfig  # noqa: E402
from engine.transports.docker_archive import write_docker_archive  # noqa: E402
from engine.transports.memory import BytesLayer, ConfigImage  # noqa: E402
from tests.transports.helpers import layer_tar  # noqa: E402

TAG = "layerlab-bench:200mb"


def make_image(total_mb: int, layer_count: int) -> ConfigImage:
    rng = random.Random(20240101)
    per_layer = total_mb * 1_000_000 // layer_count
    layers = []
    for index in range(layer_count):
        # half random (incompressible), half repeated text, like real layers
        text = f"line {index}\n".encode()
        data = rng.randbytes(per_layer // 2) + (text * (per_layer // 2 // len(text) + 1))[: per_layer - per_layer // 2]
        layers.append(BytesLayer(layer_tar({f"layer{index}/data.bin": data})))
    config = ImageConfig.from_dict({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z", "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [str(layer.diff_id) for layer in layers]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"layer {i}"} for i in range(layer_count)],
    })
    return ConfigImage(config.to_bytes(), tuple(layers))


def timed(command: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--layers", type=int, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="layerlab-bench-"))
    layerlab = [sys.executable, "-m", "tui.cli"]
    try:
        archive = work / "image.tar"
        with open(archive, "wb") as out:
            write_docker_archive([(make_image(args.mb, args.layers), [TAG])], out)
        size_mb = archive.stat().st_size / 1e6
        results: dict[str, list[float]] = {k: [] for k in ("layerlab load", "docker load", "layerlab save",
                                                          "docker save")}
        for run in range(args.runs):
            root = work / f"root{run}"
            env = dict(os.environ, LAYERLAB_ROOT=str(root))
            os.chdir(HERE)
            results["layerlab load"].append(timed(layerlab + ["load", "-i", str(archive)], env))
            subprocess.run(["docker", "rmi", "-f", TAG], capture_output=True)
            results["docker load"].append(timed(["docker", "load", "-i", str(archive)]))
            results["layerlab save"].append(timed(layerlab + ["save", "-o", str(work / "ours.tar"), TAG], env))
            results["docker save"].append(timed(["docker", "save", "-o", str(work / "theirs.tar"), TAG]))
            shutil.rmtree(root)
        print(f"archive: {size_mb:.0f} MB, {args.layers} layers, {args.runs} runs (medians)")
        medians = {name: statistics.median(times) for name, times in results.items()}
        for name, median in medians.items():
            print(f"  {name:14s} {median:6.2f} s  {size_mb / median:7.1f} MB/s   runs: "
                  + ", ".join(f"{t:.2f}" for t in results[name]))
        for verb in ("load", "save"):
            print(f"  {verb} ratio layerlab/docker: {medians['layerlab ' + verb] / medians['docker ' + verb]:.2f}")
    finally:
        subprocess.run(["docker", "rmi", "-f", TAG], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
