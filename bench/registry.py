"""Push and pull through a local registry: layerlab vs skopeo copy vs docker, same image, same run.

Usage: python bench/registry.py [--runs 3] [--mb 200] [--layers 10]

The image: 10 layers, 200 MB of layer data (half random, half repeated text).
Every measurement gets a fresh ``docker-registry`` on 127.0.0.1 (empty
storage, so nothing is skipped or mounted) and a fresh destination:

- push: layerlab from a store that holds the image with gzip layers (as a
  pull leaves it), also "cold" from a store that holds it uncompressed (as
  ``docker load`` or a build leaves it: the first push compresses); skopeo
  from an OCI layout with the same gzip layers; docker from its own store
  (it compresses on every push).
- pull: layerlab into an empty store; skopeo into an empty OCI layout;
  docker after ``docker rmi`` of the image (it also unpacks the layers).

Prints median seconds of each, and layerlab's time over the others' (lower
is better for layerlab).
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(HERE))

from engine.oci.config import ImageConfig  # noqa: E402
from engine.store import Store  # noqa: E402
from engine.transports.docker_archive import write_docker_archive  # noqa: E402
from engine.transports.memory import BytesLayer, ConfigImage  # noqa: E402
from engine.transports.oci_layout import write_oci_layout  # noqa: E402
from tests.registry.images import GzipLayer  # noqa: E402
from tests.registry.servers import Registry  # noqa: E402

REPO = "bench/registry"


def layer_tar(name: str, data: bytes) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def make_images(total_mb: int, layer_count: int) -> tuple[ConfigImage, ConfigImage]:
    """The same image twice: with plain tar layers and with gzip layers (same config, same ID)."""
    rng = random.Random(20240102)
    per_layer = total_mb * 1_000_000 // layer_count
    plain, packed = [], []
    for index in range(layer_count):
        text = f"line {index}\n".encode()
        data = rng.randbytes(per_layer // 2) + (text * (per_layer // 2 // len(text) + 1))[: per_layer - per_layer // 2]
        tar = layer_tar(f"layer{index}/data.bin", data)
        layer = BytesLayer(tar)
        plain.append(layer)
        packed.append(GzipLayer(gzip.compress(tar, compresslevel=6, mtime=0), layer.diff_id))
    config = ImageConfig.from_dict({
        "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z", "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [str(layer.diff_id) for layer in plain]},
        "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"layer {i}"} for i in range(layer_count)],
    }).to_bytes()
    return ConfigImage(config, tuple(plain)), ConfigImage(config, tuple(packed))


def run(command: list[str], env: dict | None = None) -> None:
    result = subprocess.run(command, capture_output=True, env=env)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed: {result.stderr.decode(errors='replace')[-2000:]}")


def layerlab(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "tui.cli", "--root", str(root), *args]


class Bench:
    def __init__(self, work: Path):
        self.work = work
        self.counter = 0

    def fresh_registry(self) -> Registry:
        self.counter += 1
        return Registry(self.work / f"registry-{self.counter}").start()

    def measure(self, label: str, runs: int, prepare, command) -> float:
        """Median seconds of ``command(registry, n)`` after ``prepare(registry, n)`` (untimed)."""
        times = []
        for n in range(runs):
            registry = self.fresh_registry()
            try:
                prepare(registry, n)
                start = time.perf_counter()
                run(command(registry, n), env=dict(os.environ, PYTHONPATH=str(HERE)))
                times.append(time.perf_counter() - start)
            finally:
                registry.stop()
                shutil.rmtree(registry.workdir, ignore_errors=True)
        median = statistics.median(times)
        print(f"  {label:<34} {median:7.2f} s   (runs: {', '.join(f'{t:.2f}' for t in times)})", flush=True)
        return median


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mb", type=int, default=200)
    parser.add_argument("--layers", type=int, default=10)
    args = parser.parse_args()
    docker, skopeo = shutil.which("docker"), shutil.which("skopeo")
    work = Path(tempfile.mkdtemp(prefix="layerlab-bench-registry-"))
    bench = Bench(work)
    tag = f"layerlab-bench-registry:{os.getpid()}"
    try:
        print(f"making a {args.mb} MB, {args.layers}-layer image ...", flush=True)
        plain, packed = make_images(args.mb, args.layers)
        warm_root, cold_root = work / "warm", work / "cold"
        with Store.open(warm_root) as store:
            stored = store.put_image(packed, tags=[tag])
            write_oci_layout([(stored, [tag])], str(work / "layout"))
        with Store.open(cold_root) as store:
            store.put_image(plain, tags=[tag])
        archive = work / "image.tar"
        with open(archive, "wb") as out:
            write_docker_archive([(plain, [tag])], out)
        sizes = sum(layer.size for layer in packed.image_layers) / 1e6
        print(f"compressed size {sizes:.0f} MB; medians of {args.runs}\n\npush", flush=True)

        results: dict[str, float] = {}
        nothing = lambda registry, n: None  # noqa: E731
        results["layerlab push"] = bench.measure(
            "layerlab push (gzip layers)", args.runs, nothing,
            lambda r, n: layerlab(warm_root, "push", "-q", f"{r.host}/{REPO}:{n}") if _tag(warm_root, tag, r, n)
            else [])

        def cold_prepare(registry, n):
            shutil.rmtree(cold_root / "registry.db", ignore_errors=True)
            for name in ("registry.db", "registry.db-wal", "registry.db-shm"):
                (cold_root / name).unlink(missing_ok=True)
            _tag(cold_root, tag, registry, n)
        results["layerlab push cold"] = bench.measure(
            "layerlab push (compress first)", args.runs, cold_prepare,
            lambda r, n: layerlab(cold_root, "push", "-q", f"{r.host}/{REPO}:{n}"))
        if skopeo:
            results["skopeo push"] = bench.measure(
                "skopeo copy oci: -> docker://", args.runs, nothing,
                lambda r, n: [skopeo, "copy", "-q", "--dest-tls-verify=false", f"oci:{work / 'layout'}:{tag.split(':')[-1]}",
                              f"docker://{r.host}/{REPO}:{n}"])
        if docker:
            run([docker, "load", "-i", str(archive)])

            def docker_prepare(registry, n):
                run([docker, "tag", tag, f"{registry.host}/{REPO}:{n}"])
            results["docker push"] = bench.measure(
                "docker push", args.runs, docker_prepare, lambda r, n: [docker, "push", f"{r.host}/{REPO}:{n}"])
            _docker_cleanup(docker, tag)

        print("\npull", flush=True)

        def seeded(registry, n):
            run(layerlab(warm_root, "push", "-q", f"{registry.host}/{REPO}:{n}"))
            shutil.rmtree(work / "pull-root", ignore_errors=True)
            shutil.rmtree(work / "pull-layout", ignore_errors=True)

        def _tag_then_seed(registry, n):
            _tag(warm_root, tag, registry, n)
            seeded(registry, n)
        results["layerlab pull"] = bench.measure(
            "layerlab pull", args.runs, _tag_then_seed,
            lambda r, n: layerlab(work / "pull-root", "pull", "-q", f"{r.host}/{REPO}:{n}"))
        if skopeo:
            results["skopeo pull"] = bench.measure(
                "skopeo copy docker:// -> oci:", args.runs, _tag_then_seed,
                lambda r, n: [skopeo, "copy", "-q", "--src-tls-verify=false", f"docker://{r.host}/{REPO}:{n}",
                              f"oci:{work / 'pull-layout'}:x"])
        if docker:
            def docker_pull_prepare(registry, n):
                _tag_then_seed(registry, n)
                _docker_cleanup(docker, tag)
            results["docker pull"] = bench.measure(
                "docker pull", args.runs, docker_pull_prepare, lambda r, n: [docker, "pull", f"{r.host}/{REPO}:{n}"])
            _docker_cleanup(docker, tag)

        print("\nratios (layerlab / other; at most 1.0 is the goal)")
        for direction in ("push", "pull"):
            ours = results[f"layerlab {direction}"]
            for other in ("skopeo", "docker"):
                if f"{other} {direction}" in results:
                    print(f"  {direction} vs {other:<7} {ours / results[f'{other} {direction}']:.2f}")
        if "docker push" in results:
            print(f"  push (compress first) vs docker {results['layerlab push cold'] / results['docker push']:.2f}")
        return 0
    finally:
        if docker:
            _docker_cleanup(docker, tag)
        shutil.rmtree(work, ignore_errors=True)


def _tag(root: Path, tag: str, registry: Registry, n: int) -> bool:
    run(layerlab(root, "tag", tag, f"{registry.host}/{REPO}:{n}"), env=dict(os.environ, PYTHONPATH=str(HERE)))
    return True


def _docker_cleanup(docker: str, tag: str) -> None:
    names = subprocess.run([docker, "images", "--format", "{{.Repository}}:{{.Tag}}"], capture_output=True,
                           text=True).stdout.split()
    doomed = [name for name in names if f"/{REPO}:" in name or name == tag]
    if doomed:
        subprocess.run([docker, "rmi", "-f", *doomed], capture_output=True)


if __name__ == "__main__":
    sys.exit(main())
