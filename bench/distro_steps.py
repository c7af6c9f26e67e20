"""step-cost: what each instruction of the distro Dockerfile costs, as layerlab's ``--progress=json`` reports it.

Each run builds cold on a fresh root holding only the base, then again after
one ``src/`` file changed; every ``step.end`` event's ``duration`` becomes
one row's sample for that run (one row per instruction and phase). A cached
step of the edit rebuild is listed too: what a hit costs. No peer reports
per-step times in a comparable way, so the rows have no ratio.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from bench.harness import BenchError, Measure, Sample, layerlab, python_env, run_checked

if TYPE_CHECKING:
    from bench.build import LayerlabBuilds
    from bench.distro_build import DistroData

PHASES = ("cold", "edit")


class StepCosts:
    """Builds once per run number, on demand, and remembers every step's duration."""

    def __init__(self, data: DistroData, builds: LayerlabBuilds) -> None:
        self.data, self.builds = data, builds
        self.runs: dict[int, list[tuple[str, float]]] = {}

    def durations(self, n: int) -> list[tuple[str, float]]:
        if n not in self.runs:
            self.builds.fresh(n)  # a root per run: see LayerlabBuilds.fresh
            self.data.restore_victim()
            steps = [(f"cold: {label}", seconds) for label, seconds in self._build()]
            self.data.edit_victim("step-cost", n)
            steps += [(f"edit: {label}", seconds) for label, seconds in self._build()]
            self.data.restore_victim()
            self.runs[n] = steps
        return self.runs[n]

    def _build(self) -> list[tuple[str, float]]:
        argv = layerlab(self.builds.root, "build", "--progress=json", "--network", "none", "-t", "bench:latest",
                        "-f", self.data.dockerfile, self.data.context)
        steps = []
        for line in run_checked(argv, env=python_env()).splitlines():
            event = json.loads(line) if line.startswith("{") else {}
            if event.get("type") == "step.end":
                instruction = event["instruction"].replace(self.data.base, "BASE")
                label = f"{event['position']}/{event['stage_steps']} {instruction[:56]} ({event['cache']})"
                steps.append((label, float(event["duration"])))
            elif event.get("type") == "build.end":
                steps.append(("whole build (build.end)", float(event["duration"])))
        if not steps:
            raise BenchError("layerlab build --progress=json reported no step.end events")
        return steps

    def close(self) -> None:
        self.builds.close()
        self.runs.clear()
        self.data.restore_victim()


def step_cost_measures(costs: StepCosts) -> list[Measure]:
    labels = [label for label, _ in costs.durations(0)]

    def row(index: int) -> Measure:
        def run(n: int) -> Sample:
            steps = costs.durations(n)
            if [label for label, _ in steps] != labels:
                raise BenchError(f"run {n} built other steps than run 0")
            return Sample(steps[index][1], None)

        return Measure(labels[index], "layerlab", run, rss=False)

    return [row(index) for index in range(len(labels))]
