"""Benchmark: building a 20,000-file (~200 MB) context with layerlab, docker and buildah, in one run.

    python bench/build.py [--files 20000] [--megabytes 200] [--runs 3] [--dir DIR] [--json]

The context is deterministic (``bench/context_hash.py``'s generator) and the
Dockerfile is ``FROM busybox`` / ``COPY . /ctx`` / ``RUN ls /ctx | wc -l > /count``.
Every builder starts from the same busybox image (our bootstrap, docker-loaded,
buildah-pulled from the same archive; buildah's chroot isolation allows only
the host network, the others run with none). Medians over ``--runs`` of:

- cold: no cache (layerlab: a fresh store root, base loaded untimed; docker and
  buildah: ``--no-cache``);
- no-op: a rebuild with nothing changed;
- one file: a rebuild after one file's content changed.

Ratios are layerlab / docker (targets: no-op <= 0.5, cold <= 1.0). layerlab
runs as a child process, so its peak RSS is ``getrusage(RUSAGE_CHILDREN)``
taken before any other builder runs. Docker uses the classic builder
(``DOCKER_BUILDKIT=0``); the images made here are removed afterwards.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.context_hash import generate  # noqa: E402

DOCKERFILE = "FROM {base}\nCOPY . /ctx\nRUN ls /ctx | wc -l > /count\n"
SCENARIOS = ("cold", "noop", "one_file")


def timed(command: list[str], **kwargs) -> tuple[float, str]:
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, **kwargs)
    elapsed = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"{' '.join(command[:4])}… failed:\n{result.stdout.decode()[-2000:]}{result.stderr.decode()[-2000:]}")
    return elapsed, (result.stdout + result.stderr).decode(errors="replace")


def layerlab_command(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "tui.cli", "--root", str(root), *args]


class Layerlab:
    name = "layerlab"

    def __init__(self, work: Path, context: Path) -> None:
        self.work, self.context, self.fresh = work, context, 0
        self.root = self._new_root()

    def _new_root(self) -> Path:
        self.fresh += 1
        root = self.work / f"root{self.fresh}"
        if root.exists():
            shutil.rmtree(root)
        subprocess.run(layerlab_command(root, "bootstrap", "busybox"), check=True, capture_output=True, cwd=REPO)
        return root

    def build(self, cold: bool) -> float:
        if cold:
            shutil.rmtree(self.root)
            self.root = self._new_root()
        return timed(layerlab_command(self.root, "build", "-q", "--network", "none", "-t", "bench:latest",
                                      "-f", str(self.context / "Dockerfile"), str(self.context)), cwd=REPO)[0]

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


class Docker:
    name = "docker"

    def __init__(self, work: Path, context: Path, archive: Path) -> None:
        self.context, self.made = context, set()
        self.tag = f"layerlab-bench-build:{uuid.uuid4().hex[:8]}"
        loaded = subprocess.run(["docker", "load", "-i", str(archive)], check=True, capture_output=True).stdout
        self.base = loaded.decode().split("Loaded image:")[-1].strip()
        self.env = dict(os.environ, DOCKER_BUILDKIT="0")

    def build(self, cold: bool) -> float:
        flags = ["--no-cache"] if cold else []
        elapsed, out = timed(["docker", "build", "--network", "none", "--rm", *flags, "-t", self.tag,
                              "-f", str(self.context / "Dockerfile.docker"), str(self.context)], env=self.env)
        self.made.update(re.findall(r"^ ---> ([0-9a-f]{12})$", out, flags=re.M))
        return elapsed

    def close(self) -> None:
        subprocess.run(["docker", "rmi", "-f", self.tag], capture_output=True)
        for _ in range(3):  # children before parents; what is still in use elsewhere stays
            subprocess.run(["docker", "rmi", "-f", *self.made], capture_output=True)
        subprocess.run(["docker", "rmi", self.base], capture_output=True)


class Buildah:
    name = "buildah"

    def __init__(self, work: Path, context: Path, archive: Path) -> None:
        self.context, self.made = context, set()
        self.tag = f"localhost/layerlab-bench-build:{uuid.uuid4().hex[:8]}"
        self.base = f"localhost/layerlab-bench-busybox:{uuid.uuid4().hex[:8]}"
        pulled = subprocess.run(["buildah", "pull", "-q", f"docker-archive:{archive}"], check=True,
                                capture_output=True).stdout.decode().split()[-1]
        subprocess.run(["buildah", "tag", pulled, self.base], check=True, capture_output=True)
        (context / "Dockerfile.buildah").write_text(DOCKERFILE.format(base=self.base))

    def build(self, cold: bool) -> float:
        flags = ["--no-cache"] if cold else []
        elapsed, out = timed(["buildah", "bud", "--layers", *flags, "--isolation", "chroot", "--runtime", "runc",
                              "--network", "host", "-t", self.tag, "-f", str(self.context / "Dockerfile.buildah"),
                              str(self.context)])
        self.made.update(re.findall(r"^(?:--> |COMMIT.*\n--> )?([0-9a-f]{12,64})$", out, flags=re.M))
        return elapsed

    def close(self) -> None:
        subprocess.run(["buildah", "rmi", "-f", self.tag], capture_output=True)
        for _ in range(3):  # only the images this run made, children before parents
            subprocess.run(["buildah", "rmi", "-f", *self.made], capture_output=True)
        subprocess.run(["buildah", "rmi", "-f", self.base], capture_output=True)


def measure(builder, context: Path, runs: int) -> dict[str, float]:
    victim = context / "d000" / "f00.bin"
    original = victim.read_bytes()
    times: dict[str, list[float]] = {name: [] for name in SCENARIOS}
    try:
        for run in range(runs):
            times["cold"].append(builder.build(cold=True))
        builder.build(cold=False)  # settle: the no-op runs follow a build of this exact context
        for run in range(runs):
            times["noop"].append(builder.build(cold=False))
        for run in range(runs):
            victim.write_bytes(original + f"edit {builder.name} {run}\n".encode())
            times["one_file"].append(builder.build(cold=False))
    finally:
        victim.write_bytes(original)
    return {name: statistics.median(values) for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=20_000)
    parser.add_argument("--megabytes", type=int, default=200)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--dir", type=Path, help="keep the generated context here (reused when identical)")
    parser.add_argument("--json", action="store_true", help="print the results as one JSON object")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="layerlab-bench-build-"))
    context = args.dir or work / "context"
    generate(context, args.files, args.megabytes)
    (context / ".dockerignore").write_text(".generated\n")
    (context / "Dockerfile").write_text(DOCKERFILE.format(base="busybox"))

    results: dict[str, dict[str, float]] = {}
    ours = Layerlab(work, context)
    archive = work / "busybox.tar"
    subprocess.run(layerlab_command(ours.root, "save", "-o", str(archive), "busybox:latest"), check=True, cwd=REPO)
    try:
        results["layerlab"] = measure(ours, context, args.runs)
        peak_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        if shutil.which("docker") and subprocess.run(["docker", "info"], capture_output=True).returncode == 0:
            docker = Docker(work, context, archive)
            (context / "Dockerfile.docker").write_text(DOCKERFILE.format(base=docker.base))
            try:
                results["docker"] = measure(docker, context, args.runs)
            finally:
                docker.close()
        if shutil.which("buildah"):
            buildah = Buildah(work, context, archive)
            try:
                results["buildah"] = measure(buildah, context, args.runs)
            finally:
                buildah.close()
    finally:
        ours.close()
        shutil.rmtree(work, ignore_errors=True)

    ratios = {name: results["layerlab"][name] / results["docker"][name] for name in SCENARIOS} \
        if "docker" in results else {}
    report = {"files": args.files, "megabytes": args.megabytes, "runs": args.runs, "seconds": results,
              "layerlab_over_docker": ratios, "layerlab_peak_rss_mb": round(peak_rss_mb, 1),
              "targets": {"noop": 0.5, "cold": 1.0}}
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"context: {args.files} files, ~{args.megabytes} MB; medians of {args.runs} runs (seconds)")
    print(f"{'builder':10} {'cold':>8} {'no-op':>8} {'one file':>9}")
    for name, row in results.items():
        print(f"{name:10} {row['cold']:8.2f} {row['noop']:8.2f} {row['one_file']:9.2f}")
    for name, ratio in ratios.items():
        target = report["targets"].get(name)
        verdict = "" if target is None else ("  (target <= %.1f: %s)" % (target, "met" if ratio <= target else "MISSED"))
        print(f"layerlab/docker {name:9} {ratio:5.2f}{verdict}")
    print(f"layerlab peak RSS: {peak_rss_mb:.0f} MB")


if __name__ == "__main__":
    main()
