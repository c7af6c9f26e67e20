"""Benchmark: write and apply a 100,000-file layer.

    python bench/layers_apply.py [--files 100000] [--dirs 1000] [--size 256] [--workdir DIR]

Builds a tree of ``--files`` small files spread over ``--dirs`` directories,
then times ``write_layer_from_dir`` (tree -> tar), ``apply_layer`` of the
plain tar and of its gzip form onto empty targets, and ``tar -x`` of the
same tar for a floor.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.layers.apply import apply_layer  # noqa: E402
from engine.layers.compression import compress_to  # noqa: E402
from engine.layers.write import write_layer_from_dir  # noqa: E402


def timed(label: str, action) -> object:
    start = time.perf_counter()
    result = action()
    print(f"{label:<28} {time.perf_counter() - start:7.2f} s")
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--files", type=int, default=100_000)
    parser.add_argument("--dirs", type=int, default=1_000)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--workdir")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="layers-bench-", dir=args.workdir))
    try:
        source = work / "source"
        payload = os.urandom(args.size)
        for index in range(args.files):
            directory = source / f"d{index % args.dirs:04d}"
            if index < args.dirs:
                directory.mkdir(parents=True)
            (directory / f"f{index:06d}").write_bytes(payload)
        tar_path, gz_path = work / "layer.tar", work / "layer.tar.gz"
        with open(tar_path, "wb") as out:
            blob = timed("write_layer_from_dir", lambda: write_layer_from_dir(source, out))
        with open(tar_path, "rb") as src, open(gz_path, "wb") as dst:
            timed("compress_to gzip", lambda: compress_to(src, dst))
        print(f"tar: {blob.size / 1e6:.1f} MB, gzip: {gz_path.stat().st_size / 1e6:.1f} MB, {args.files} files")
        for label, path in (("apply_layer (tar)", tar_path), ("apply_layer (tar.gz)", gz_path)):
            target = work / "target"
            with open(path, "rb") as blob_file:
                stats = timed(label, lambda: apply_layer(blob_file, target))
            assert stats.diff_id == blob.diff_id, "diff ID changed on the way"
            shutil.rmtree(target)
        target = work / "tar-x"
        target.mkdir()
        timed("tar -x (floor)", lambda: subprocess.run(["tar", "-x", "-f", str(tar_path), "-C", str(target)], check=True))
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
