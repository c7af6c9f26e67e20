"""Benchmark: hashing a 20,000-file (~200 MB) build context, cold and stat-cached.

    python bench/context_hash.py [--files 20000] [--megabytes 200] [--runs 5] [--dir DIR]

Generates a deterministic context once (same seed, same bytes every time),
then measures, each ``--runs`` times, and prints medians:

- cold: every file read and checksummed (empty stat cache);
- warm: the no-op rebuild case, every file stat'ed, none read (stat cache hit);
- floor: ``tar c . | sha256sum`` of the same context, the least any
  content-reading approach can cost.

The page cache is not dropped, so "cold" measures hashing, not the disk.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.build.context import StatCache, hash_context  # noqa: E402

SEED = 20_000


def generate(target: Path, files: int, megabytes: int) -> None:
    """Write the context unless an identical one is already there."""
    stamp = target / ".generated"
    spec = f"{files} {megabytes} {SEED}"
    if stamp.is_file() and stamp.read_text() == spec:
        return
    if target.exists():
        shutil.rmtree(target)
    rng = random.Random(SEED)
    # Mostly small files and a few large ones, like a source tree with assets.
    weights = [rng.paretovariate(1.2) for _ in range(files)]
    scale = megabytes * 1_000_000 / sum(weights)
    per_dir = 100
    for i, weight in enumerate(weights):
        path = target / f"d{i // per_dir:03}" / f"f{i % per_dir:02}.bin"
        if i % per_dir == 0:
            path.parent.mkdir(parents=True)
        path.write_bytes(rng.randbytes(max(1, int(weight * scale))))
        if i % 7 == 0:
            path.chmod(0o755)
    (target / ".dockerignore").write_text("")
    stamp.write_text(spec)


def timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()) / "layerlab-bench-context")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)

    context = args.dir / f"ctx-{args.files}-{args.megabytes}"
    generate(context, args.files, args.megabytes)
    # Files younger than the racy-timestamp margin are never trusted from the
    # stat cache; let the fresh context age past it.
    time.sleep(max(0.0, 2.5 - (time.time() - (context / ".generated").stat().st_mtime)))
    total = sum(p.stat().st_size for p in context.rglob("*") if p.is_file())

    cold, warm, floor = [], [], []
    cache_path = args.dir / "statcache.db"
    for _ in range(args.runs):
        for suffix in ("", "-wal", "-shm"):
            Path(f"{cache_path}{suffix}").unlink(missing_ok=True)
        with StatCache(cache_path) as cache:
            cold.append(timed(lambda: hash_context(context, stat_cache=cache)))
        with StatCache(cache_path) as cache:
            result = {}
            warm.append(timed(lambda: result.setdefault("ctx", hash_context(context, stat_cache=cache))))
            if result["ctx"].files_read:
                raise SystemExit(f"stat cache missed {result['ctx'].files_read} files on a no-op re-hash")
        floor.append(timed(lambda: subprocess.run(
            f"tar -C {context} -cf - . | sha256sum", shell=True, check=True, capture_output=True)))

    report = {
        "files": args.files,
        "bytes": total,
        "runs": args.runs,
        "cpus": os.cpu_count(),
        "cold_median_s": round(statistics.median(cold), 3),
        "warm_median_s": round(statistics.median(warm), 3),
        "tar_sha256sum_median_s": round(statistics.median(floor), 3),
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(f"context: {args.files} files, {total / 1e6:.1f} MB, {os.cpu_count()} CPUs, {args.runs} runs")
        print(f"cold hash (no stat cache)   median {report['cold_median_s']:.3f} s")
        print(f"warm re-hash (stat cache)   median {report['warm_median_s']:.3f} s")
        print(f"floor: tar c | sha256sum    median {report['tar_sha256sum_median_s']:.3f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
