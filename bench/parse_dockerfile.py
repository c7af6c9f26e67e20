"""Parse a deterministic 2,000-line Dockerfile: parse alone, and parse plus typed instructions.

    python bench/parse_dockerfile.py [--runs 3] [--quick] [--json FILE]

Each run is one parse in a fresh interpreter after one untimed warm-up
parse. The target is under 50 ms for 2,000 lines (parse only). No peer
parses a Dockerfile on its own, so there is no ratio here.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import Measure, Options, Scenario, python_call, script_main  # noqa: E402
from layerlab.engine.dockerfile import instructions_from_ast, parse_dockerfile  # noqa: E402

SCRIPT = Path(__file__).resolve()

BLOCKS = [
    lambda r, i: [f"# step {i}: install tools"],
    lambda r, i: ["RUN apt-get update \\", f"    && apt-get install -y pkg{i} tool{r.randint(0, 99)} \\",
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


def scenarios(options: Options) -> list[Scenario]:
    lines = 500 if options.quick else 2000
    path = options.workdir / "parse" / "Dockerfile"

    def setup() -> dict:
        path.parent.mkdir(parents=True, exist_ok=True)
        text = generate(lines)
        path.write_text(text)
        return {"lines": lines, "instructions": len(parse_dockerfile(text).children)}

    def measures() -> list[Measure]:
        # No peer parses a Dockerfile on its own; the target is under 50 ms for 2,000 lines.
        return [
            Measure("layerlab parse_dockerfile", "layerlab", python_call(SCRIPT, "parse_work", path, warmup=True)),
            Measure("layerlab parse + typed instructions", "layerlab",
                    python_call(SCRIPT, "typed_work", path, warmup=True)),
        ]

    return [Scenario("parse", f"Dockerfile parse of {lines:,} lines", setup, measures)]


def parse_work(path: str):
    text = Path(path).read_text()
    return lambda: parse_dockerfile(text)


def typed_work(path: str):
    text = Path(path).read_text()
    return lambda: instructions_from_ast(parse_dockerfile(text))


if __name__ == "__main__":
    raise SystemExit(script_main(scenarios, __doc__))
