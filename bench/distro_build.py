"""distro-cold, distro-noop, distro-edit, distro-watch-edit, step-cost: a Python app on a Debian base.

    python bench/distro_build.py [--runs 3] [--quick] [--workdir DIR] [--json FILE] [SCENARIO ...]

The base is ``debootstrap --variant=minbase --include=python3 bookworm``
(about 9,000 files; ``bench/distro_base.py`` makes it once and caches it),
the Dockerfile a plain Python app's (below): WORKDIR, ENV, COPY of a 16-byte
requirements.txt, a RUN that writes 800 files, COPY of a 120-file ``src/``,
``RUN python3 -m compileall``, CMD. Builders: layerlab, docker's classic
builder (``DOCKER_BUILDKIT=0``), BuildKit (``/usr/bin/docker`` with
``DOCKER_BUILDKIT=1``) and buildah ``--layers``.

- distro-cold: nothing cached (layerlab: a fresh root holding only the base;
  peers: ``--no-cache``);
- distro-noop: a rebuild with nothing changed;
- distro-edit: a rebuild after one file of ``src/`` changed (written untimed).
  Its floor: the compileall RUN run directly by ``runc`` on a prepared root
  filesystem (base + the earlier steps' files, compiled output removed),
  plus writing the edited file;
- distro-watch-edit: layerlab's watch mode in process, from the file write to
  the new image tagged (the watcher was started, untimed, on a built root),
  against BuildKit's edit rebuild through its CLI: a session's first edit, and
  a later one (one edit rebuilt before it, untimed), as a warm daemon's is;
- step-cost: each instruction's duration from ``--progress=json``, in a cold
  build and in the edit rebuild.

``--quick`` builds on the offline busybox base with 80 files and a 12-file
``src/``, and compiles nothing (busybox has no python3): for smoke runs.
"""

from __future__ import annotations

import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.build import RACY_SECONDS, BuildData, LayerlabBuilds, PeerBuilds  # noqa: E402
from bench.distro_base import BaseImage  # noqa: E402
from bench.distro_floor import RuncFloor  # noqa: E402
from bench.distro_steps import StepCosts, step_cost_measures  # noqa: E402
from bench.harness import (  # noqa: E402
    Measure, Options, Scenario, docker_ready, find_program, python_call, script_main, tree_size,
)

# Written so that busybox's sh and dash both run it; one loop, no process per file.
WRITE_FILES = 'mkdir -p data && i=0; while [ $i -lt {count} ]; do echo "row $i" > data/f$i.txt; i=$((i+1)); done'
COMPILE = "python3 -m compileall -q src"
QUICK_COMPILE = "cat src/*.py | wc -l > /app/lines"
DOCKERFILE = """FROM {base}
WORKDIR /app
ENV APP_ENV=bench
COPY requirements.txt .
RUN {write_files}
COPY src/ src/
RUN {compile}
CMD ["python3", "-m", "src.app"]
"""
PEERS = ("docker", "buildkit", "buildah")


class DistroData(BuildData):
    """The app's context and Dockerfile over the cached base; made once, shared by the scenarios."""

    def __init__(self, work: Path, cache: Path, quick: bool) -> None:
        super().__init__(work, 0, 0)
        self.quick = quick
        self.data_files, self.src_files = (80, 12) if quick else (800, 120)
        self.base_image = BaseImage(work, cache, quick, self.base)
        self.base_root, self.archive = self.base_image.root, self.base_image.archive
        self.victim = self.context / "src" / "mod_000.py"
        self.compile = QUICK_COMPILE if quick else COMPILE
        self.write_files = WRITE_FILES.format(count=self.data_files)

    def make(self) -> dict:
        if self.facts:
            return self.facts
        facts = self.base_image.make()
        src = self.context / "src"
        src.mkdir(parents=True)
        (self.context / "requirements.txt").write_text("requests==2.31\n")
        (src / "__init__.py").write_text("")
        (src / "app.py").write_text("from src import mod_000\n\nprint(mod_000.describe())\n")
        for i in range(self.src_files - 2):
            (src / f"mod_{i:03d}.py").write_text(_module_text(i))
        self.original = self.victim.read_bytes()
        self.dockerfile.write_text(DOCKERFILE.format(base=self.base, write_files=self.write_files,
                                                     compile=self.compile))
        time.sleep(RACY_SECONDS)  # older than the stat cache's racy window, as a real checkout is
        count, total = tree_size(self.context)
        self.facts = {**facts, "context_files": count, "context_bytes": total}
        return self.facts

    def edit_victim(self, tool: str, n: int) -> None:
        # Valid Python (compileall must succeed) and new content every time.
        self.victim.write_bytes(self.original + f"EDIT_MARK = '{tool}-{n}-{uuid.uuid4().hex}'\n".encode())


def _module_text(i: int) -> str:
    functions = "\n\n".join(
        f"def step_{i}_{j}(values):\n    total = 0\n    for value in values:\n        total += value * {j + 1}\n"
        f"    return total\n" for j in range(12))
    return f'"""Module {i} of the benchmark app."""\n\n{functions}\n\n\ndef describe():\n    return "module {i}"\n'


def scenarios(options: Options) -> list[Scenario]:
    data = DistroData(options.workdir / ("distro-quick" if options.quick else "distro"), options.cache,
                      options.quick)
    docker_here = bool(find_program("docker")) and docker_ready()
    kinds = [kind for kind in PEERS if docker_here or kind == "buildah"]

    def scenario(name: str, description: str, cold: bool = False, edit: bool = False) -> Scenario:
        ours = LayerlabBuilds(data, name)
        peers = [PeerBuilds(data, kind, name) for kind in kinds]
        floor = RuncFloor(data, name) if edit else None

        def measures() -> list[Measure]:
            rows = [_edited(data, ours.build(cold), "layerlab", edit)]
            rows += [_edited(data, peer.build(cold), peer.kind, edit) for peer in peers]
            if floor is not None:
                rows.append(floor.measure())
            return rows

        def cleanup() -> None:
            for builder in (ours, *peers, *([floor] if floor else [])):
                builder.close()
            data.restore_victim()

        return Scenario(name, f"{description} of a Python app on {_base_words(options)}", data.make, measures,
                        cleanup)

    def watch_scenario() -> Scenario:
        ours = LayerlabBuilds(data, "distro-watch-edit")
        buildkit = [PeerBuilds(data, "buildkit", "distro-watch-edit")] if docker_here else []

        def measures() -> list[Measure]:
            warm = ours.build()  # its prepare makes a built root; the watcher then starts on it

            def prepare(n: int) -> None:
                warm.prepare(n)
                data.restore_victim()

            watch = [Measure(f"layerlab watch: {which} edit to image tagged (in process)", "layerlab",
                             python_call(Path(__file__), "watch_edit", str(ours.root), str(data.context),
                                         str(data.dockerfile), str(data.victim), lambda n: n, earlier),
                             prepare=prepare)
                     for which, earlier in (("a session's first", 0), ("a later", 1))]
            return [*watch, *(_edited(data, peer.build(), "buildkit", True) for peer in buildkit)]

        def cleanup() -> None:
            for builder in (ours, *buildkit):
                builder.close()
            data.restore_victim()

        return Scenario("distro-watch-edit", f"one src/ file edited, watch mode against BuildKit's CLI rebuild, "
                        f"on {_base_words(options)}", data.make, measures, cleanup)

    costs = StepCosts(data, LayerlabBuilds(data, "step-cost"))
    return [
        scenario("distro-cold", "cold build", cold=True),
        scenario("distro-noop", "no-op rebuild"),
        scenario("distro-edit", "rebuild after one src/ file changed", edit=True),
        watch_scenario(),
        Scenario("step-cost", f"each instruction's duration (--progress=json), cold and after one src/ edit, on "
                 f"{_base_words(options)}", data.make, lambda: step_cost_measures(costs), costs.close),
    ]


def _base_words(options: Options) -> str:
    return "the busybox base (quick)" if options.quick else "a debootstrap Debian base (~9,000 files)"


def _edited(data: DistroData, measure: Measure, tool: str, edit: bool) -> Measure:
    """The measure, with one src/ file given new content (untimed) before every run."""
    if not edit:
        return measure
    prepare = measure.prepare

    def edit_then(n: int) -> None:
        if prepare:
            prepare(n)
        data.edit_victim(tool, n)

    measure.prepare = edit_then
    return measure


def watch_edit(root: str, context: str, dockerfile: str, victim: str, run: int, earlier: int = 0):
    """In a fresh interpreter: start watch mode on a built root and make ``earlier`` edits, each rebuilt
    (untimed); the callable edits once more and waits for the new image."""
    import queue
    import threading

    from layerlab.engine.builder.executor import BuildRequest
    from layerlab.engine.builder.watch import watch_and_build
    from layerlab.engine.events import BuildFailed, BuildFinished, WatchRebuilt
    from layerlab.engine.store import Store

    store = Store.open(Path(root))
    finished: queue.Queue = queue.Queue()

    def events(event) -> None:
        if isinstance(event, (BuildFinished, BuildFailed, WatchRebuilt)):
            finished.put(event)

    request = BuildRequest(context_dir=Path(context), dockerfile=dockerfile, tags=["bench:latest"], network="none")
    stop = threading.Event()
    watcher = threading.Thread(target=watch_and_build, args=(request, store, events, stop), daemon=True)
    watcher.start()
    first = finished.get(timeout=600)
    if not isinstance(first, BuildFinished):
        raise RuntimeError(f"the first build did not finish: {first}")
    original = Path(victim).read_bytes()

    def edit_and_wait() -> None:
        Path(victim).write_bytes(original + f"EDIT_MARK = 'watch-{run}-{uuid.uuid4().hex}'\n".encode())
        while not isinstance(event := finished.get(timeout=600), WatchRebuilt):
            if isinstance(event, BuildFailed):
                raise RuntimeError(f"the watch rebuild failed: {event.error}")

    for _ in range(int(earlier)):
        edit_and_wait()
    return edit_and_wait


if __name__ == "__main__":
    raise SystemExit(script_main(scenarios, __doc__))
