"""Parse a deterministic 2,000-line Dockerfile N times and print the median time.

    python bench/parse_dockerfile.py [--runs 30] [--lines 2000]

The target is under 50 ms for 2,000 lines (parse only); the typed
instruction pass is timed separately.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine.dockerfile import instructions_from_ast, parse_dockerfile  # noqa: E402

BLOCKS = [
    lambda r, i: [f"# step {i}: install tools"],
    lambda r, i: [f"RUN apt-get update \\", f"    && apt-get install -y pkg{i} tool{r.randint(0, 99)} \\",
                  "    && rm -rf /var/lib/apt/lists/*"],
    lambda r, i: [f"ENV APP_{i}=value{i} PATH=/opt/{i}/bin:$PATH HOME_{i}=\"/home/u {i}\""],
    lambda r, i: [f"COPY --chown=1000:1000 --chmod=644 src/{i}/ /app/{i}/"],
    lambda r, i: [f'LABEL org.example.step{i}="{i}" version="1.{i}"'],
    lambda r, i: [f"ARG BUILD_{i}=default{i}"],
    lambda r, i: [f'CMD ["/app/bin/run", "--port", "{8000 + i}"]'],
    lambda r, i: [f"WORKDIR /app/{i}"],
    lambda r, i: ["RUN <<EOF", f"echo heredoc {i}", "set -e", "EOF"],
    lambda r, i: [f"RUN --mount=type=cache,target=/root/.cache pip install package{i}==1.{i}"],
    lambda r, i: [f"EXPOSE {8000 + i} {9000 + i}/udp"],
    lambda r, i: [""],
]


def generate(lines: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    out = ["# syntax=docker/dockerfile:1", "ARG BASE=debian:12", "FROM $BASE AS build"]
    i = 0
    while len(out) < lines:
        if i and i % 150 == 0:
            out.append(f"FROM build AS stage{i}")
        out.extend(rng.choice(BLOCKS)(rng, i))
        i += 1
    return "\n".join(out[:lines]) + "\n"


def median_ms(func, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        func()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--lines", type=int, default=2000)
    options = parser.parse_args()
    text = generate(options.lines)
    ast = parse_dockerfile(text)  # warm up, and fail loudly if the generator is wrong
    parse = median_ms(lambda: parse_dockerfile(text), options.runs)
    typed = median_ms(lambda: instructions_from_ast(ast), options.runs)
    print(f"{options.lines} lines, {len(ast.children)} instructions, {options.runs} runs")
    print(f"parse_dockerfile:      median {parse:.1f} ms")
    print(f"instructions_from_ast: median {typed:.1f} ms")


if __name__ == "__main__":
    main()
