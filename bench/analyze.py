"""Benchmark: analyse a generated 100,000-file, 10-layer image.

    python bench/analyze.py [--runs 3] [--quick] [--workdir DIR] [--json FILE]

Generates deterministic layer tars (files added, rewritten and deleted,
a whiteout of a directory, an opaque directory), plus a docker-archive of
them, then times, each run in a child process (so peak RSS is that run's alone):

- ``layerlab.engine.analysis.analyze`` + ``waste_report`` over the layer tars (the
  engine's work alone, imports not counted);
- ``layerlab analyze --source docker-archive:...`` end to end, as a person runs it;
- the floor: ``cat | tar -t`` of every layer (every byte read, every header
  seen: the least an analysis can do).
"""

from __future__ import annotations

import hashlib
import io
import json
import random
import sys
import tarfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.harness import Measure, Options, Scenario, command, layerlab, python_call, python_env, script_main, shell  # noqa: E402,E501

SCRIPT = Path(__file__).resolve()


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


def scenarios(options: Options) -> list[Scenario]:
    files = 5_000 if options.quick else 100_000
    layers = 10
    workdir = options.workdir / f"analyze-{files}"
    layer_paths = [workdir / f"layer{i}.tar" for i in range(layers)]
    archive = workdir / "image.tar"

    def setup() -> dict:
        generate(workdir, files, layers)
        write_docker_archive(workdir, layer_paths)
        return {"files": files, "layers": layers, "layer_tar_bytes": sum(p.stat().st_size for p in layer_paths)}

    def measures() -> list[Measure]:
        return [
            Measure("layerlab analyze (API, layer tars)", "layerlab", python_call(SCRIPT, "analyze_work", *layer_paths)),
            Measure("layerlab analyze --source docker-archive (CLI)", "layerlab", command(
                layerlab(workdir / "root", "analyze", "--json", "--source", f"docker-archive:{archive}"),
                env=python_env(), cwd=REPO)),
            # The floor: every layer read once, every header seen; no tool can analyse with less.
            # Through a pipe, since tar seeks past file data in a regular file and would read little.
            Measure("cat | tar -t of every layer", "floor",
                    command(shell('for f; do cat "$f" | tar -t; done', *layer_paths)), needs=("tar",)),
        ]

    return [Scenario("analyze", f"analysis of a {files:,}-file, {layers}-layer image", setup, measures)]


def analyze_work(*paths: str):
    from layerlab.engine.analysis import LayerSource, analyze, waste_report

    def work() -> None:
        sources = [LayerSource(open=(lambda p=p: open(p, "rb")), instruction=f"RUN layer {i}")
                   for i, p in enumerate(paths)]
        analysis = analyze(sources)
        waste_report(analysis)

    return work


if __name__ == "__main__":
    raise SystemExit(script_main(scenarios, __doc__))
