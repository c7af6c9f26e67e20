"""Benchmark: write and apply a 100,000-file layer.

    python bench/layers_apply.py [--runs 3] [--quick] [--workdir DIR] [--json FILE]

Builds a tree of 100,000 small files over 1,000 directories, then times
two scenarios, each run in a child:

- layer-write: ``write_layer_from_dir`` (tree -> tar, diff ID computed on
  the way) against ``tar -c | sha256sum`` (the floor);
- layer-apply: ``apply_layer`` of the plain tar and of its gzip form onto an
  empty target against ``tar -x`` of the same tar (the floor).
"""

from __future__ import annotations

import os
import random
import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Measure, Options, Scenario, command, python_call, script_main, shell  # noqa: E402

SCRIPT = Path(__file__).resolve()
SEED = 100_000
MTIME = 1_700_000_000


def generate(source: Path, files: int, dirs: int, size: int) -> None:
    """The same tree every time, down to the mtimes, so the layer tar is the same bytes every time."""
    payload = random.Random(SEED).randbytes(size)
    for index in range(files):
        directory = source / f"d{index % dirs:04d}"
        if index < dirs:
            directory.mkdir(parents=True)
        path = directory / f"f{index:06d}"
        path.write_bytes(payload)
        os.utime(path, (MTIME, MTIME))
    for directory in [*sorted(source.iterdir()), source]:
        os.utime(directory, (MTIME, MTIME))


def scenarios(options: Options) -> list[Scenario]:
    files, dirs, size = (2_000, 20, 256) if options.quick else (100_000, 1_000, 256)
    work = options.workdir / f"layers-{files}"
    source, tar_path, gz_path = work / "source", work / "layer.tar", work / "layer.tar.gz"
    made: dict = {}

    def setup() -> dict:
        if not made:
            generate(source, files, dirs, size)
            from layerlab.engine.layers.compression import compress_to
            from layerlab.engine.layers.write import write_layer_from_dir

            with open(tar_path, "wb") as out:
                made["diff_id"] = str(write_layer_from_dir(source, out).diff_id)
            with open(tar_path, "rb") as src, open(gz_path, "wb") as dst:
                compress_to(src, dst)
            made.update(files=files, tar_bytes=tar_path.stat().st_size, gzip_bytes=gz_path.stat().st_size)
        facts = {k: v for k, v in made.items() if k != "diff_id"}
        return {**facts, "diff_id": made["diff_id"][:19] + "…"}  # the same every run: deterministic data

    # A new target per run, all removed at the end: 100,000 files deleted between runs
    # would slow the next run's creates (ext4 without a journal walks past inodes freed in
    # the last minutes on every create).
    targets = work / "targets"

    def target_for(label: str):
        return lambda n: targets / f"{label}-{n}"

    def empty_target(label: str):
        return lambda n: target_for(label)(n).mkdir(parents=True)

    def write_measures() -> list[Measure]:
        return [
            Measure("layerlab write_layer_from_dir", "layerlab", python_call(SCRIPT, "write_work", source, work / "out.tar")),
            Measure("tar -c | sha256sum", "floor",
                    command(shell('tar -C "$1" -cf - . | sha256sum', source)), needs=("tar", "sha256sum")),
        ]

    def apply_measures() -> list[Measure]:
        return [
            Measure("layerlab apply_layer (tar)", "layerlab",
                    python_call(SCRIPT, "apply_work", tar_path, target_for("tar"), made["diff_id"]),
                    prepare=empty_target("tar")),
            Measure("layerlab apply_layer (tar.gz)", "layerlab",
                    python_call(SCRIPT, "apply_work", gz_path, target_for("gz"), made["diff_id"]),
                    prepare=empty_target("gz")),
            Measure("tar -x", "floor", command(lambda n: ["tar", "-x", "-f", tar_path, "-C", target_for("floor")(n)]),
                    prepare=empty_target("floor"), needs=("tar",)),
        ]

    def cleanup() -> None:
        shutil.rmtree(targets, ignore_errors=True)

    return [
        Scenario("layer-write", f"write a {files:,}-file directory as a layer tar", setup, write_measures),
        Scenario("layer-apply", f"apply a {files:,}-file layer to an empty directory", setup, apply_measures,
                 cleanup=cleanup),
    ]


def write_work(source: str, out_path: str):
    from layerlab.engine.layers.write import write_layer_from_dir

    def work() -> None:
        with open(out_path, "wb") as out:
            write_layer_from_dir(Path(source), out)

    return work


def apply_work(blob_path: str, target: str, diff_id: str):
    from layerlab.engine.layers.apply import apply_layer

    def work() -> None:
        with open(blob_path, "rb") as blob:
            stats = apply_layer(blob, Path(target))
        if str(stats.diff_id) != diff_id:
            raise SystemExit(f"diff ID changed on the way: {stats.diff_id} != {diff_id}")

    return work


if __name__ == "__main__":
    raise SystemExit(script_main(scenarios, __doc__))
