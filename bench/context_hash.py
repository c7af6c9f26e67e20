"""Benchmark: hashing a 20,000-file (~200 MB) build context, cold and stat-cached.

    python bench/context_hash.py [--runs 3] [--quick] [--workdir DIR] [--json FILE]

Generates a deterministic context (same seed, same bytes every time; also
the context ``bench/build.py`` builds), then times, each run in a child:

- cold: every file read and checksummed (empty stat cache);
- warm: the no-op rebuild case, every file stat'ed, none read (stat cache hit);
- floor: ``tar c . | sha256sum`` of the same context, the least any
  content-reading approach can cost.

The page cache is not dropped, so "cold" measures hashing, not the disk.
"""

from __future__ import annotations

import random
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Measure, Options, Scenario, command, python_call, script_main, shell, tree_size  # noqa: E402
from layerlab.engine.builder.context import hash_context  # noqa: E402
from layerlab.engine.builder.stat_cache import StatCache  # noqa: E402

SCRIPT = Path(__file__).resolve()

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


def scenarios(options: Options) -> list[Scenario]:
    files, megabytes = (1_000, 10) if options.quick else (20_000, 200)
    context = options.workdir / f"context-{files}-{megabytes}"
    cache_path = options.workdir / "context-statcache.db"

    def setup() -> dict:
        generate(context, files, megabytes)
        # Files younger than the racy-timestamp margin are never trusted from the
        # stat cache; let the fresh context age past it.
        time.sleep(max(0.0, 2.5 - (time.time() - (context / ".generated").stat().st_mtime)))
        count, total = tree_size(context)
        return {"files": count, "bytes": total}

    def forget_cache(n: int) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{cache_path}{suffix}").unlink(missing_ok=True)

    def measures() -> list[Measure]:
        return [
            Measure("layerlab hash (cold, every file read)", "layerlab",
                    python_call(SCRIPT, "hash_work", context, cache_path, False), prepare=forget_cache),
            Measure("layerlab re-hash (stat cache, no-op)", "layerlab",
                    python_call(SCRIPT, "hash_work", context, cache_path, True), prepare=forget_cache),
            Measure("tar c | sha256sum", "floor", command(shell('tar -C "$1" -cf - . | sha256sum', context)),
                    needs=("tar", "sha256sum")),
        ]

    return [Scenario("context-hash", f"checksum a {files:,}-file, {megabytes} MB build context", setup, measures)]


def hash_work(context: str, cache_path: str, warm: bool):
    """Hash ``context``; when ``warm``, after an untimed pass that fills the stat cache."""
    if warm:
        with StatCache(Path(cache_path)) as cache:
            hash_context(context, stat_cache=cache)

    def work() -> None:
        with StatCache(Path(cache_path)) as cache:
            result = hash_context(context, stat_cache=cache)
        if warm and result.files_read:
            raise SystemExit(f"stat cache missed {result.files_read} files on a no-op re-hash")

    return work


if __name__ == "__main__":
    raise SystemExit(script_main(scenarios, __doc__))
