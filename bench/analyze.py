"""Benchmark: analyse a generated 100,000-file, 10-layer image.

    python bench/analyze.py [--files 100000] [--layers 10] [--workdir DIR] [--runs 3]

Generates deterministic layer tars (files added, rewritten and deleted,
a whiteout of a directory, an opaque directory), plus a docker-archive of
them, then runs in a child process each (so peak RSS is that run's alone):

- floor:    just reading every layer with ``tarfile`` in streaming mode
- analyze:  ``engine.analysis.analyze`` + ``waste_report`` (what `layerlab analyze` does)

and prints the median wall time of ``--runs`` runs and the peak RSS.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _add_file(tar: tarfile.TarFile, path: str, size: int, rng: random.Random) -> None:
    info = tarfile.TarInfo(path)
    info.size, info.mode, info.mtime = size, 0o644, 1_700_000_000
    tar.addfile(info, io.BytesIO(rng.randbytes(size)) if size else None)


def _add_dir(tar: tarfile.TarFile, path: str) -> None:
    info = tarfile.TarInfo(path + "/")
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
    tar.addfile(info)


def generate(workdir: Path, files: int, layers: int) -> list[Path]:
    """Layer 0 holds 30% of the files; each later layer adds its share, rewrites
    some earlier files, deletes a directory and (once) makes one opaque."""
    rng = random.Random(20240601)
    workdir.mkdir(parents=True, exist_ok=True)
    per_layer = [int(files * 0.3)] + [int(files * 0.7) // (layers - 1)] * (layers - 1)
    per_layer[-1] += files - sum(per_layer)
    made: list[str] = []
    paths = []
    for layer, count in enumerate(per_layer):
        path = workdir / f"layer{layer}.tar"
        paths.append(path)
        with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as tar:
            dirs_done: set[str] = set()
            layer_files = []
            for i in range(count):
                directory = f"usr/share/l{layer}/pkg{i % 200:03d}/sub{i % 7}"
                layer_files.append(f"{directory}/file{i:06d}.dat")
            for file_path in layer_files:
                parts = file_path.split("/")[:-1]
                for depth in range(1, len(parts) + 1):
                    directory = "/".join(parts[:depth])
                    if directory not in dirs_done:
                        dirs_done.add(directory)
                        _add_dir(tar, directory)
                _add_file(tar, file_path, rng.choice((0, 64, 200, 700, 1500, 4000)), rng)
            if layer:
                for file_path in rng.sample(made, min(len(made), count // 20)):
                    _add_file(tar, file_path, 1024, rng)
                gone = f"usr/share/l{layer - 1}/pkg{layer:03d}"
                tar.addfile(tarfile.TarInfo(f"usr/share/l{layer - 1}/.wh.pkg{layer:03d}"))
                made = [p for p in made if not p.startswith(gone + "/")]
                if layer == layers // 2:
                    opaque = "usr/share/l0/pkg199"
                    tar.addfile(tarfile.TarInfo(f"{opaque}/.wh..wh..opq"))
                    made = [p for p in made if not p.startswith(opaque + "/")]
            made.extend(layer_files)
    return paths


def write_docker_archive(workdir: Path, layer_paths: list[Path]) -> Path:
    diff_ids = []
    for path in layer_paths:
        with open(path, "rb") as handle:
            diff_ids.append("sha256:" + hashlib.file_digest(handle, "sha256").hexdigest())
    config = json.dumps({
        "architecture": "amd64", "os": "linux", "config": {},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created_by": f"/bin/sh -c make layer {i}"} for i in range(len(layer_paths))],
    }).encode()
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    archive = workdir / "image.tar"
    with tarfile.open(archive, "w") as tar:
        info = tarfile.TarInfo(config_name)
        info.size = len(config)
        tar.addfile(info, io.BytesIO(config))
        names = []
        for index, path in enumerate(layer_paths):
            name = f"{diff_ids[index][7:]}/layer.tar"
            names.append(name)
            tar.add(path, arcname=name)
        manifest = json.dumps([{"Config": config_name, "RepoTags": ["bench:latest"], "Layers": names}]).encode()
        info = tarfile.TarInfo("manifest.json")
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
    return archive


_FLOOR = """
import resource, sys, tarfile, time, json
start = time.perf_counter()
count = 0
for path in sys.argv[1:]:
    with tarfile.open(path, "r|") as tar:
        for member in tar:
            count += 1
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "n": count}))
"""

_ANALYZE = """
import resource, sys, time, json
start = time.perf_counter()
from engine.analysis import LayerSource, analyze, waste_report
sources = [LayerSource(open=(lambda p=p: open(p, "rb")), instruction=f"RUN layer {i}")
           for i, p in enumerate(sys.argv[1:])]
analysis = analyze(sources)
report = waste_report(analysis)
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "n": len(analysis.entries), "paths": len(analysis.paths),
                  "efficiency": analysis.dive.efficiency, "reclaimable": report.reclaimable_bytes}))
"""

_ARCHIVE = """
import resource, sys, time, json
start = time.perf_counter()
from engine.analysis import analyze, waste_report
from engine.analysis.sources import open_source
image = open_source("docker-archive:" + sys.argv[1], store=None)
analysis = analyze(image.layer_sources(), base_layers=image.base_layers())
report = waste_report(analysis)
elapsed = time.perf_counter() - start
print(json.dumps({"seconds": elapsed, "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
                  "n": len(analysis.entries), "efficiency": analysis.dive.efficiency,
                  "reclaimable": report.reclaimable_bytes}))
"""


def run_child(code: str, args: list[str]) -> dict:
    result = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, cwd=REPO,
                            env=dict(os.environ, PYTHONPATH=str(REPO)))
    if result.returncode:
        raise SystemExit(f"child failed:\n{result.stderr}")
    return json.loads(result.stdout)


def measure(name: str, code: str, args: list[str], runs: int) -> dict:
    results = [run_child(code, args) for _ in range(runs)]
    median = statistics.median(r["seconds"] for r in results)
    peak = max(r["rss_kb"] for r in results) / 1024
    extra = {k: v for k, v in results[0].items() if k not in ("seconds", "rss_kb")}
    print(f"{name:<10} median {median:6.2f} s   peak RSS {peak:6.1f} MB   {extra}")
    return {"name": name, "median_seconds": median, "peak_rss_mb": peak, **extra}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--layers", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--workdir", type=Path, default=None)
    options = parser.parse_args()
    workdir = options.workdir or Path(tempfile.gettempdir()) / f"layerlab-bench-analyze-{options.files}-{options.layers}"
    layer_paths = sorted(workdir.glob("layer*.tar"), key=lambda p: int(p.stem[5:])) if workdir.exists() else []
    if len(layer_paths) != options.layers:
        started = time.perf_counter()
        layer_paths = generate(workdir, options.files, options.layers)
        print(f"generated {options.layers} layers in {time.perf_counter() - started:.1f} s at {workdir}")
    archive = workdir / "image.tar"
    if not archive.exists():
        write_docker_archive(workdir, layer_paths)
    size_mb = sum(p.stat().st_size for p in layer_paths) / 1e6
    print(f"image: {options.files} files, {options.layers} layers, {size_mb:.0f} MB of layer tars")
    args = [str(p) for p in layer_paths]
    measure("floor", _FLOOR, args, options.runs)
    measure("analyze", _ANALYZE, args, options.runs)
    try:
        measure("archive", _ARCHIVE, [str(archive)], options.runs)
    except SystemExit as failure:
        print(f"archive    skipped: {failure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
