"""What every benchmark shares: scenarios, timing, peak RSS, peers, tables and the JSON schema.

A scenario is one piece of work (say "load a 200 MB archive") done by several
tools: layerlab, the peers that can do the same work (docker, buildah,
skopeo) and the floor (``tar``, ``sha256sum``: reading and hashing the bytes,
the least any tool can spend). Each tool is a :class:`Measure`; the harness
runs each one ``runs`` times, after an untimed ``prepare`` each time, and
keeps every sample's seconds and peak RSS.

Two ways to time a run, both in a child process so the peak RSS is that
run's alone:

- :func:`command`: wall time of a program, peak RSS from ``wait4`` (the
  child and every descendant it waited for).
- :func:`python_call`: ``module:function(*args)`` returns a zero-argument
  callable; only the callable is timed, inside the child, so interpreter
  start-up and data loading do not count. For work measured in milliseconds.
  A callable that returns a number of seconds reports that instead of its
  own duration (say, the 95th percentile of key latencies it measured).

A scenario script plugs in either as a module with ``scenarios(options)``
(run by ``bench/run`` in-process) or as any program that takes
``--json FILE`` and writes the schema described in ``bench/README.md``;
:func:`script_main` gives a module both forms at once.
"""

from __future__ import annotations

import argparse
import importlib.util
import io
import json
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

REPO = Path(__file__).resolve().parent.parent
SCHEMA = "layerlab-bench/1"
ROLES = ("layerlab", "peer", "floor")


# ---------------------------------------------------------------- results


@dataclass
class Sample:
    seconds: float
    peak_rss_bytes: int | None = None
    cpu_seconds: float | None = None  # user + system time of the child and its waited-for descendants


@dataclass
class ToolResult:
    """One tool's runs of one scenario, as the JSON schema has it."""

    tool: str
    role: str
    seconds: list[float] = field(default_factory=list)
    peak_rss_bytes: int | None = None
    status: str = "ok"  # ok | skipped | failed
    reason: str = ""
    median: float | None = None
    min: float | None = None
    max: float | None = None
    vs_best_peer: float | None = None
    vs_floor: float | None = None
    cpu_seconds: list[float] = field(default_factory=list)  # kept where the measure asks (Measure.cpu)


@dataclass
class ScenarioResult:
    name: str
    description: str = ""
    status: str = "ok"  # ok | skipped | failed | not yet wired
    reason: str = ""
    data: dict = field(default_factory=dict)
    tools: list[ToolResult] = field(default_factory=list)
    best_peer: str | None = None
    floor: str | None = None

    def finish(self) -> "ScenarioResult":
        """Fill the derived fields (medians, spreads, ratios) from the samples."""
        for tool in self.tools:
            if tool.seconds:
                tool.median = statistics.median(tool.seconds)
                tool.min, tool.max = min(tool.seconds), max(tool.seconds)
        best_peer = _fastest(t for t in self.tools if t.role == "peer")
        floor = _fastest(t for t in self.tools if t.role == "floor")
        self.best_peer = best_peer.tool if best_peer else None
        self.floor = floor.tool if floor else None
        for tool in self.tools:
            if tool.role != "layerlab" or tool.median is None:
                continue
            tool.vs_best_peer = _ratio(tool.median, best_peer.median) if best_peer else None
            tool.vs_floor = _ratio(tool.median, floor.median) if floor else None
        return self

    @classmethod
    def from_dict(cls, data: dict) -> "ScenarioResult":
        """Read one scenario as a ``--json`` script wrote it; derived fields are recomputed."""
        known = {f for f in ToolResult.__dataclass_fields__}
        tools = [ToolResult(**{k: v for k, v in t.items() if k in known}) for t in data.get("tools", [])]
        for tool in tools:
            if tool.role not in ROLES:
                raise ValueError(f"tool {tool.tool!r} has role {tool.role!r}, expected one of {ROLES}")
            tool.seconds = [float(s) for s in tool.seconds]
        return cls(name=str(data["name"]), description=data.get("description", ""),
                   status=data.get("status", "ok"), reason=data.get("reason", ""),
                   data=dict(data.get("data", {})), tools=tools).finish()


def _fastest(tools: Iterable[ToolResult]) -> ToolResult | None:
    timed = [t for t in tools if t.status == "ok" and t.median is not None]
    return min(timed, key=lambda t: t.median) if timed else None


def _ratio(ours: float, theirs: float) -> float | None:
    return ours / theirs if theirs > 0 else None


# ---------------------------------------------------------------- what to run


@dataclass
class Measure:
    """One tool doing a scenario's work: ``run(n)`` times run ``n`` after an untimed ``prepare(n)``."""

    tool: str
    role: str
    run: Callable[[int], Sample]
    prepare: Callable[[int], None] | None = None
    needs: tuple[str, ...] = ()  # programs that must be installed, else the row is skipped
    rss: bool = True  # False where the work happens in a daemon, so the client's RSS means nothing
    cpu: bool = False  # also keep each run's CPU time: steadier than wall time on a busy machine


@dataclass
class Scenario:
    """A named piece of work, its deterministic data, and the tools that do it.

    ``setup()`` makes the data (idempotent; several scenarios may share it) and
    returns facts about it for the report (files, bytes, layers);
    ``measures()`` is called after setup, so commands may name generated paths.
    """

    name: str
    description: str
    setup: Callable[[], dict]
    measures: Callable[[], list[Measure]]
    cleanup: Callable[[], None] | None = None
    needs_docker: bool = False
    runs: int | None = None  # more than ``--runs`` where one run is milliseconds and noise is as large


@dataclass
class Options:
    """What every scenario module is given. ``cache`` outlives the run (data slow to make, like a debootstrap)."""

    workdir: Path
    runs: int = 3
    quick: bool = False
    cache: Path = field(default_factory=lambda: cache_directory(None))


def cache_directory(parent: Path | None) -> Path:
    """Where made-once data is kept between runs: under ``--workdir``, else the temp dir. Created on use."""
    return Path(parent or tempfile.gettempdir()) / "layerlab-bench-cache"


def command(argv: Sequence[str] | Callable[[int], Sequence[str]], *, env: dict | None = None,
            cwd: Path | None = None) -> Callable[[int], Sample]:
    """Time a program (``argv``, or ``argv(n)`` per run) by wall clock; peak RSS via ``wait4``."""

    def run(n: int) -> Sample:
        args = [str(a) for a in (argv(n) if callable(argv) else argv)]
        return run_child(args, env=env, cwd=cwd)

    return run


def shell(script: str, *args: object) -> list[str]:
    """argv for a POSIX shell pipeline; ``args`` become "$1"… so paths need no quoting."""
    return ["/bin/sh", "-c", script, "sh", *(str(a) for a in args)]


def run_child(argv: Sequence[str], *, env: dict | None = None, cwd: Path | None = None) -> Sample:
    """Run ``argv`` from the launcher; its stdout is discarded, its stderr kept for the error."""
    with tempfile.NamedTemporaryFile(prefix="layerlab-bench-stderr-") as errors:
        reply = _launcher().run(list(argv), dict(env if env is not None else os.environ),
                                str(cwd) if cwd else None, errors.name)
        if reply["status"] != 0:
            tail = Path(errors.name).read_bytes()[-1500:].decode(errors="replace").strip()
            raise BenchError(f"{' '.join(argv[:4])} exited {reply['status']}: {tail}")
    return Sample(reply["seconds"], reply["maxrss_kb"] * 1024, reply["cpu_seconds"])


# A child's peak RSS starts at its parent's: exec records the old address
# space's high-water mark, and a forked child's is its parent's. So children
# are started by this small launcher (about 10 MB), never by the harness,
# whose size grows with the data it generates.
_LAUNCHER = r"""
import json, os, sys, time
for line in sys.stdin:
    request = json.loads(line)
    errors = os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    start = time.perf_counter()
    pid = os.fork()
    if pid == 0:
        try:
            if request["cwd"]:
                os.chdir(request["cwd"])
            null = os.open(os.devnull, os.O_RDWR)
            os.dup2(null, 0)
            os.dup2(null, 1)
            os.dup2(errors, 2)
            os.execvpe(request["argv"][0], request["argv"], request["env"])
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    elapsed = time.perf_counter() - start
    os.close(errors)
    print(json.dumps({"seconds": elapsed, "status": os.waitstatus_to_exitcode(status),
                      "maxrss_kb": usage.ru_maxrss, "cpu_seconds": usage.ru_utime + usage.ru_stime}), flush=True)
"""


class _Launcher:
    def __init__(self) -> None:
        self.process = subprocess.Popen([sys.executable, "-S", "-c", _LAUNCHER], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)

    def run(self, argv: list[str], env: dict, cwd: str | None, stderr_path: str) -> dict:
        self.process.stdin.write(json.dumps({"argv": argv, "env": env, "cwd": cwd, "stderr": stderr_path}) + "\n")
        self.process.stdin.flush()
        line = self.process.stdout.readline()
        if not line:
            raise BenchError("the launcher died")
        return json.loads(line)

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait()


_launchers: list[_Launcher] = []


def _launcher() -> _Launcher:
    if not _launchers or _launchers[0].process.poll() is not None:
        _launchers[:] = [_Launcher()]
    return _launchers[0]


def python_call(script: Path, function: str, *args: object, warmup: bool = False) -> Callable[[int], Sample]:
    """Time ``function(*args)()`` from ``script`` inside a fresh interpreter (see the module docstring).

    An argument that is callable is called with the run number first (say, a target directory per run).
    """

    def run(n: int) -> Sample:
        values = [arg(n) if callable(arg) else arg for arg in args]
        with tempfile.NamedTemporaryFile(prefix="layerlab-bench-result-") as reply:
            argv = [sys.executable, str(Path(__file__).resolve()), "--child", str(script), function,
                    json.dumps([str(a) if isinstance(a, Path) else a for a in values]), "1" if warmup else "0",
                    reply.name]
            try:
                whole = run_child(argv, env=python_env(), cwd=REPO)
            except BenchError as error:
                raise BenchError(f"{Path(script).name}:{function} failed: {error}") from None
            reported = json.loads(Path(reply.name).read_text())
        return Sample(reported["seconds"], whole.peak_rss_bytes)

    return run


def _child_main(script: str, function: str, args_json: str, warmup: str, reply: str) -> None:
    module = load_module(Path(script))
    work = getattr(module, function)(*json.loads(args_json))
    if warmup == "1":
        work()
    start = time.perf_counter()
    reported = work()
    elapsed = time.perf_counter() - start
    seconds = reported if isinstance(reported, (int, float)) and not isinstance(reported, bool) else elapsed
    Path(reply).write_text(json.dumps({"seconds": seconds}))


def load_module(path: Path):
    """Import a bench script by path (bench/ is scripts, not a package)."""
    name = "bench_" + path.stem
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def python_env(**extra: str) -> dict:
    """Environment for children that import the engine from this checkout."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return dict(os.environ, PYTHONPATH=path, **extra)


def layerlab(root: Path, *args: object) -> list[str]:
    """argv of the layerlab CLI on store ``root``."""
    return [sys.executable, "-m", "layerlab", "--root", str(root), *(str(a) for a in args)]


class BenchError(Exception):
    """A tool failed or a scenario could not be prepared; the row or scenario reports it."""


class Unavailable(BenchError):
    """What a scenario needs is not here (say, no Docker engine): the scenario is skipped, not failed."""


def run_checked(argv: Sequence[object], **kwargs) -> str:
    """Run an untimed helper command (setup, clean-up); ``BenchError`` with its output's tail if it fails."""
    result = subprocess.run([str(a) for a in argv], capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        raise BenchError(f"{' '.join(map(str, argv[:4]))} exited {result.returncode}: "
                         f"{(result.stdout + result.stderr)[-1500:].strip()}")
    return result.stdout


# ---------------------------------------------------------------- running


def measure_scenario(scenario: Scenario, options: Options, *, log: Callable[[str], None] = print) -> ScenarioResult:
    result = ScenarioResult(scenario.name, scenario.description)
    try:
        if scenario.needs_docker and not docker_ready():
            raise Unavailable("docker is not available")
        started = time.perf_counter()
        result.data = scenario.setup()
        log(f"  data ready in {time.perf_counter() - started:.1f} s: {format_data(result.data)}")
        for measure in scenario.measures():
            result.tools.append(_measure_tool(measure, scenario.runs or options.runs, log))
    except Unavailable as error:
        result.status, result.reason = "skipped", str(error)
        log(f"  skipped: {error}")
    except Exception as error:  # one broken scenario must not lose the others' results
        result.status, result.reason = "failed", f"{type(error).__name__}: {error}"
        log(f"  failed: {result.reason}")
    finally:
        if scenario.cleanup:
            scenario.cleanup()
    return result.finish()


def _measure_tool(measure: Measure, runs: int, log: Callable[[str], None]) -> ToolResult:
    tool = ToolResult(measure.tool, measure.role)
    missing = [name for name in measure.needs if not find_program(name)]
    if missing:
        tool.status, tool.reason = "skipped", f"not installed: {', '.join(missing)}"
        log(f"  {measure.tool:<40} skipped ({tool.reason})")
        return tool
    peaks = []
    try:
        for n in range(runs):
            if measure.prepare:
                measure.prepare(n)
            # Earlier runs' writes must not be billed to this one; written out, their deletions'
            # inodes count as recently freed for one minute instead of five (ext4 without a journal
            # walks past those on every create).
            os.sync()
            sample = measure.run(n)
            tool.seconds.append(sample.seconds)
            if sample.peak_rss_bytes is not None:
                peaks.append(sample.peak_rss_bytes)
            if measure.cpu and sample.cpu_seconds is not None:
                tool.cpu_seconds.append(sample.cpu_seconds)
    except BenchError as error:
        tool.status, tool.reason = "failed", str(error)
        log(f"  {measure.tool:<40} failed: {error}")
        return tool
    tool.peak_rss_bytes = max(peaks) if peaks and measure.rss else None
    log(f"  {measure.tool:<40} " + ", ".join(f"{s:.3f}" for s in tool.seconds) + " s")
    return tool


# ---------------------------------------------------------------- peers and the machine


def find_program(name: str) -> str | None:
    return shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/sbin/{name}") if os.access(p, os.X_OK)), None)


PEERS = ("docker", "buildah", "skopeo", "umoci", "runc", "tar", "sha256sum")


def peers() -> dict[str, str | None]:
    return {name: find_program(name) for name in PEERS}


_docker_state: dict = {}


def use_private_docker(directory: Path) -> None:
    """Run docker's peers on a dockerd of our own (socket, data and state under ``directory``).

    A shared daemon that other programs start and stop (a test run owns the
    one it started) can vanish mid-build; ours lives exactly as long as the run.
    """
    _docker_state["private"] = directory


def docker_ready() -> bool:
    """True when a Docker engine answers; starts dockerd (stopped by :func:`stop_docker`) if none does,
    or always, on its own socket, after :func:`use_private_docker`."""
    if "ready" in _docker_state:
        return _docker_state["ready"]
    docker, dockerd = find_program("docker"), find_program("dockerd")
    private: Path | None = _docker_state.get("private")
    private_args: list[str] = []
    if private is not None:
        private.mkdir(parents=True, exist_ok=True)
        os.environ["DOCKER_HOST"] = f"unix://{private / 'docker.sock'}"
        private_args = ["--host", os.environ["DOCKER_HOST"], "--data-root", str(private / "data"),
                        "--exec-root", str(private / "exec"), "--pidfile", str(private / "docker.pid")]
    ready = bool(docker) and _docker_answers(docker)
    if docker and not ready and dockerd:
        log = open(Path(tempfile.gettempdir()) / "layerlab-bench-dockerd.log", "ab")
        process = subprocess.Popen(
            [*_own_mount_namespace(private), dockerd, "--iptables=false", "--ip6tables=false", "--bridge=none",
             "--storage-driver=overlay2", *private_args], stdout=log, stderr=log, start_new_session=True)
        _docker_state["process"] = process
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None and not ready:
            time.sleep(0.5)
            ready = _docker_answers(docker)
    _docker_state["ready"] = ready
    return ready


def _own_mount_namespace(private: Path | None) -> list[str]:
    # A private dockerd's overlays live in a mount namespace of its own: no other program's mounts
    # or unmounts on this machine (a sandbox detaching a copy of the host's tree) reach them.
    unshare = find_program("unshare")
    return [unshare, "--mount", "--propagation", "private", "--"] if private is not None and unshare else []


def _docker_answers(docker: str) -> bool:
    return subprocess.run([docker, "info"], capture_output=True).returncode == 0


_at_end: list[Callable[[], object]] = []


def at_end(clean_up: Callable[[], object]) -> None:
    """Run ``clean_up`` when the run ends (:func:`stop_children`), before any dockerd we started stops."""
    _at_end.append(clean_up)


def stop_children() -> None:
    """Run the end-of-run clean-ups, then stop the launcher and any dockerd the harness started."""
    while _at_end:
        _at_end.pop()()
    for launcher in _launchers:
        launcher.close()
    _launchers.clear()
    stop_docker()


def stop_docker() -> None:
    process = _docker_state.pop("process", None)
    _docker_state.pop("ready", None)
    if _docker_state.pop("private", None) is not None:
        os.environ.pop("DOCKER_HOST", None)
    if process is not None:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def docker_env() -> dict:
    """Docker's classic builder, as layerlab's build is compared with."""
    return dict(os.environ, DOCKER_BUILDKIT="0")


def machine() -> dict:
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    cpu = ""
    try:
        cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                   "")
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "memory_bytes": memory, "kernel": platform.release(), "cpu": cpu,
            "python": platform.python_version(), "hostname": platform.node()}


# ---------------------------------------------------------------- deterministic data


def layer_bytes(rng: random.Random, size: int, text: str) -> bytes:
    """``size`` bytes: half random (incompressible), half repeated text, as real layers are."""
    line = (text + "\n").encode()
    random_half = rng.randbytes(size // 2)
    text_half = (line * ((size - size // 2) // len(line) + 1))[: size - size // 2]
    return random_half + text_half


def layer_tar(files: dict[str, bytes]) -> bytes:
    """An uncompressed layer tar of regular files, fixed mtime and mode."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            info = tarfile.TarInfo(name)
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def synthetic_image(total_bytes: int, layer_count: int, seed: int = 20240101):
    """A deterministic ``layer_count``-layer image of ``total_bytes`` of file data (a ConfigImage)."""
    from layerlab.engine.oci.config import ImageConfig
    from layerlab.engine.transports.memory import BytesLayer, ConfigImage

    rng = random.Random(seed)
    per_layer = total_bytes // layer_count
    layers = tuple(BytesLayer(layer_tar({f"layer{i}/data.bin": layer_bytes(rng, per_layer, f"line {i}")}))
                   for i in range(layer_count))
    created = "2024-01-01T00:00:00Z"
    config = ImageConfig.from_dict({
        "architecture": "amd64", "os": "linux", "created": created, "config": {"Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [str(layer.diff_id) for layer in layers]},
        "history": [{"created": created, "created_by": f"layer {i}"} for i in range(layer_count)],
    })
    return ConfigImage(config.to_bytes(), layers)


def tree_size(path: Path) -> tuple[int, int]:
    """(files, bytes) under ``path``."""
    files = total = 0
    for directory, _, names in os.walk(path):
        for name in names:
            files += 1
            total += os.lstat(os.path.join(directory, name)).st_size
    return files, total


# ---------------------------------------------------------------- output


def document(results: Sequence[ScenarioResult], *, runs: int, quick: bool = False, started: float | None = None) -> dict:
    started = time.time() if started is None else started
    return {
        "schema": SCHEMA,
        "started": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(started)),
        "seconds": round(time.time() - started, 1),
        "machine": machine(),
        "peers": peers(),
        "options": {"runs": runs, "quick": quick},
        "scenarios": [asdict(result.finish()) for result in results],
    }


def write_json(path: Path, results: Sequence[ScenarioResult], *, runs: int, quick: bool = False,
               started: float | None = None) -> None:
    """Write ``results`` in the common schema; a ``--json FILE`` program (form b) may call this too."""
    document_ = document(results, runs=runs, quick=quick, started=started)
    Path(path).write_text(json.dumps(document_, indent=2) + "\n")


def format_data(data: dict) -> str:
    return ", ".join(f"{k} {_human(v) if k.endswith('bytes') else v}" for k, v in data.items())


def _human(count: int) -> str:
    return f"{count / 1e6:.0f} MB" if count >= 10e6 else f"{count / 1e6:.1f} MB"


def _seconds(value: float | None) -> str:
    if value is None:
        return "—"
    return f"{value:.3f}" if value < 10 else f"{value:.2f}"


def _times(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}x"


def table(result: ScenarioResult) -> str:
    """The scenario as a Markdown table: median, spread, peak RSS, layerlab over best peer and floor."""
    head = f"### {result.name}: {result.description}"
    if result.data:
        head += f" ({format_data(result.data)})"
    if result.status != "ok":
        return f"{head}\n\n{result.status}: {result.reason}\n"
    rows = ["| tool | role | median s | spread (min–max) | peak RSS | layerlab / best peer | layerlab / floor |",
            "|---|---|---:|---:|---:|---:|---:|"]
    for tool in result.tools:
        name = tool.tool.replace("|", "\\|")
        if tool.status != "ok":
            rows.append(f"| {name} | {tool.role} | {tool.status}: {tool.reason[:80]} | | | | |")
            continue
        spread = f"{_seconds(tool.min)}–{_seconds(tool.max)}" if len(tool.seconds) > 1 else "—"
        rss = f"{tool.peak_rss_bytes / 2**20:.0f} MiB" if tool.peak_rss_bytes else "—"
        rows.append(f"| {name} | {tool.role} | {_seconds(tool.median)} | {spread} | {rss} | "
                    f"{_times(tool.vs_best_peer)} | {_times(tool.vs_floor)} |")
    notes = []
    if result.best_peer:
        notes.append(f"best peer: {result.best_peer}")
    if result.floor:
        notes.append(f"floor: {result.floor}")
    notes += [f"{tool.tool}: {tool.reason[:160]}" for tool in result.tools if tool.status == "ok" and tool.reason]
    cpu = _cpu_note(result)
    return "\n".join([head, "", *rows, *([""] + ["; ".join(notes)] if notes else []), *cpu, ""])


def _cpu_note(result: ScenarioResult) -> list[str]:
    """Median CPU time per tool (where kept), and layerlab's over the floor's."""
    medians = {tool.tool: statistics.median(tool.cpu_seconds) for tool in result.tools if tool.cpu_seconds}
    if not medians:
        return []
    floor = medians.get(result.floor or "")
    parts = []
    for tool in result.tools:
        if tool.tool in medians:
            ratio = f" = {medians[tool.tool] / floor:.2f}x the floor" if floor and tool.role == "layerlab" else ""
            parts.append(f"{tool.tool} {medians[tool.tool]:.3f} s{ratio}")
    return ["", "CPU time (user + system), median: " + "; ".join(parts)]


def machine_line(info: dict) -> str:
    return (f"{info['nproc']} CPUs ({info['cpu'] or 'unknown model'}), {info['memory_bytes'] / 2**30:.0f} GiB RAM, "
            f"Linux {info['kernel']}, Python {info['python']}")


# ---------------------------------------------------------------- one script, both forms


def common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--runs", type=int, default=3, help="runs per tool (default 3); medians are reported")
    parser.add_argument("--quick", action="store_true", help="small data, for a smoke run")
    parser.add_argument("--workdir", type=Path, help="where to generate data (default: a temp dir); removed afterwards")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the results here (schema in README.md)")
    parser.add_argument("--private-docker", action="store_true",
                        help="compare against a dockerd of the run's own, not the shared one (which other "
                             "programs may restart mid-run)")


def run_scenarios(build: Callable[[Options], list[Scenario]], options: Options, names: Sequence[str] = (),
                  log: Callable[[str], None] = print) -> list[ScenarioResult]:
    results = []
    for scenario in build(options):
        if names and scenario.name not in names:
            continue
        log(f"{scenario.name}: {scenario.description}")
        results.append(measure_scenario(scenario, options, log=log))
    return results


def script_main(build: Callable[[Options], list[Scenario]], doc: str, argv: Sequence[str] | None = None) -> int:
    """``main`` for a scenario module: ``--runs``, ``--quick``, ``--workdir``, ``--json FILE``."""
    parser = argparse.ArgumentParser(description=doc.strip().splitlines()[0])
    common_arguments(parser)
    parser.add_argument("scenario", nargs="*", help="only these scenarios of the script")
    args = parser.parse_args(argv)
    started = time.time()
    with work_directory(args.workdir) as workdir:
        options = Options(workdir=workdir, runs=args.runs, quick=args.quick, cache=cache_directory(args.workdir))
        if args.private_docker:
            use_private_docker(workdir / "dockerd")
        try:
            results = run_scenarios(build, options, args.scenario, log=lambda line: print(line, file=sys.stderr))
        finally:
            stop_children()
    print("\n".join(table(result) for result in results))
    if args.json:
        write_json(args.json, results, runs=options.runs, quick=options.quick, started=started)
    return 1 if any(r.status == "failed" for r in results) else 0


class work_directory:
    """A fresh directory for generated data (inside ``parent`` when given), removed on exit."""

    def __init__(self, parent: Path | None) -> None:
        self.parent = parent
        self.path: Path | None = None

    def __enter__(self) -> Path:
        if self.parent:
            self.parent.mkdir(parents=True, exist_ok=True)
        self.path = Path(tempfile.mkdtemp(prefix="layerlab-bench-", dir=self.parent))
        return self.path

    def __exit__(self, *exc) -> None:
        shutil.rmtree(self.path, ignore_errors=True)


if __name__ == "__main__" and len(sys.argv) == 7 and sys.argv[1] == "--child":
    sys.path.insert(0, str(REPO))
    _child_main(*sys.argv[2:])
