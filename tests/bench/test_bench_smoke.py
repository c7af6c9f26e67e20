"""bench/run end to end on the two cheap scenarios, and the schema other scripts are read with.

No timing is asserted: the numbers only have to exist and be consistent.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.peers import need_program

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from bench.harness import ScenarioResult  # noqa: E402


def run_bench(*args: str, workdir: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "bench" / "run"), *args, "--workdir", str(workdir)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)


def test_quick_run_writes_the_documented_shape(tmp_path):
    need_program("tar")
    out = tmp_path / "result.json"
    done = run_bench("parse", "analyze", "--quick", "--runs", "1", "--json", str(out), workdir=tmp_path / "work")
    assert done.returncode == 0, done.stderr
    report = json.loads(out.read_text())
    assert report["schema"] == "layerlab-bench/1"
    assert report["options"] == {"runs": 1, "quick": True}
    assert report["machine"]["nproc"] >= 1 and report["machine"]["memory_bytes"] > 0
    assert [s["name"] for s in report["scenarios"]] == ["parse", "analyze"]
    for scenario in report["scenarios"]:
        assert scenario["status"] == "ok", scenario
        for tool in scenario["tools"]:
            assert tool["status"] == "ok", tool
            assert tool["role"] in ("layerlab", "peer", "floor")
            assert len(tool["seconds"]) == 1 and tool["seconds"][0] > 0
            assert tool["median"] == tool["min"] == tool["max"] == tool["seconds"][0]
    analyze = report["scenarios"][1]
    assert analyze["data"]["files"] == 5000 and analyze["data"]["layers"] == 10
    assert analyze["floor"] == "cat | tar -t of every layer"
    ours = [t for t in analyze["tools"] if t["role"] == "layerlab"]
    floor = next(t for t in analyze["tools"] if t["role"] == "floor")
    assert ours and all(t["peak_rss_bytes"] > 1_000_000 for t in ours)
    for tool in ours:
        assert tool["vs_floor"] == pytest.approx(tool["median"] / floor["median"])
        assert tool["vs_best_peer"] is None  # no peer analyses; only the floor
    # The table on stdout carries the same scenarios; the data was cleaned away.
    assert "### parse:" in done.stdout and "### analyze:" in done.stdout
    assert list((tmp_path / "work").iterdir()) == []


def test_unknown_scenario_is_refused(tmp_path):
    done = run_bench("no-such-thing", workdir=tmp_path)
    assert done.returncode == 2
    assert "unknown scenario no-such-thing" in done.stderr


def test_scripts_without_json_file_are_reported_not_failed():
    listed = subprocess.run([sys.executable, str(REPO / "bench" / "run"), "--list"], capture_output=True, text=True,
                            cwd=REPO, timeout=120)
    assert listed.returncode == 0, listed.stderr
    rows = dict(line.split()[0:1] + [" ".join(line.split()[2:])] for line in listed.stdout.splitlines())
    assert rows["parse"] == "wired" and rows["load"] == "wired"
    assert {rows[name] for name in ("build-cold", "push", "tui-first-paint")} <= {"wired", "not yet wired"}


def test_results_from_a_json_program_get_medians_and_ratios():
    result = ScenarioResult.from_dict({
        "name": "push", "tools": [
            {"tool": "layerlab push", "role": "layerlab", "seconds": [3.0, 1.0, 2.0], "peak_rss_bytes": 50_000_000},
            {"tool": "skopeo copy", "role": "peer", "seconds": [4.0, 4.0, 5.0]},
            {"tool": "docker push", "role": "peer", "seconds": [8.0]},
            {"tool": "sha256sum", "role": "floor", "seconds": [0.5, 0.5, 0.5]},
            {"tool": "crane", "role": "peer", "status": "skipped", "reason": "not installed"},
        ]})
    ours = result.tools[0]
    assert (ours.median, ours.min, ours.max) == (2.0, 1.0, 3.0)
    assert result.best_peer == "skopeo copy"
    assert ours.vs_best_peer == pytest.approx(0.5) and ours.vs_floor == pytest.approx(4.0)
    assert result.tools[1].vs_best_peer is None  # ratios belong to layerlab rows only


def test_a_tool_with_an_unknown_role_is_refused():
    with pytest.raises(ValueError, match="role"):
        ScenarioResult.from_dict({"name": "x", "tools": [{"tool": "t", "role": "winner", "seconds": [1]}]})


def load_runner():
    from importlib.machinery import SourceFileLoader
    from importlib.util import module_from_spec, spec_from_loader

    loader = SourceFileLoader("bench_runner", str(REPO / "bench" / "run"))
    module = module_from_spec(spec_from_loader("bench_runner", loader))
    loader.exec_module(module)
    return module


PROGRAM = '''
import argparse, json, sys
sys.path.insert(0, {repo!r})
from bench.harness import ScenarioResult, ToolResult, write_json
parser = argparse.ArgumentParser()
parser.add_argument("--json", metavar="FILE")
parser.add_argument("--runs", type=int, default=3)
parser.add_argument("--quick", action="store_true")
args = parser.parse_args()
runs = [float(n + 1) for n in range(args.runs)]
write_json(args.json, [ScenarioResult("push", "pushed", data={{"quick": args.quick}}, tools=[
    ToolResult("layerlab push", "layerlab", seconds=runs),
    ToolResult("skopeo copy", "peer", seconds=[r * 2 for r in runs]),
])], runs=args.runs, quick=args.quick)
'''


def test_a_json_program_is_run_with_the_common_options_and_read_back(tmp_path):
    from bench.harness import Options

    runner = load_runner()
    script = tmp_path / "registry.py"
    script.write_text(PROGRAM.format(repo=str(REPO)))
    results = runner.run_program(script, ["push", "pull"], Options(workdir=tmp_path, runs=2, quick=True))
    push, pull = results
    assert push.status == "ok" and push.data == {"quick": True}
    assert push.tools[0].seconds == [1.0, 2.0] and push.tools[0].vs_best_peer == pytest.approx(0.5)
    assert (pull.status, pull.reason) == ("failed", "registry.py did not report it")


def test_a_program_without_json_file_is_not_yet_wired(tmp_path):
    from bench.harness import Options

    runner = load_runner()
    script = tmp_path / "build.py"
    script.write_text("import argparse\nargparse.ArgumentParser().add_argument('--json', action='store_true')\n"
                      "p = argparse.ArgumentParser(); p.add_argument('--json', action='store_true'); p.parse_args()\n")
    results = runner.run_program(script, ["build-cold"], Options(workdir=tmp_path, runs=1))
    assert [(r.name, r.status) for r in results] == [("build-cold", "not yet wired")]
    assert "--json FILE" in results[0].reason
    missing = runner.run_program(tmp_path / "absent.py", ["tui-first-paint"], Options(workdir=tmp_path, runs=1))
    assert missing[0].status == "not yet wired" and "does not exist" in missing[0].reason


def test_peak_rss_is_the_childs_own_not_the_harnesss():
    from bench.harness import command, stop_children

    ballast = bytearray(300 * 2**20)  # the harness grows, as it does when it generates data
    ballast[::4096] = b"x" * len(ballast[::4096])
    try:
        small = command(["true"])(0)
        big = command([sys.executable, "-c", "b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096])"])(0)
    finally:
        stop_children()
    assert small.peak_rss_bytes < 100 * 2**20
    assert big.peak_rss_bytes > 200 * 2**20
    assert small.seconds > 0 and big.seconds > 0
    del ballast


def test_the_debian_mirror_comes_from_the_apt_sources_in_either_format(tmp_path):
    from bench.distro_base import debian_mirror
    from bench.harness import Unavailable

    listed = tmp_path / "sources.list.d"
    listed.mkdir()
    (listed / "security.sources").write_text(
        "Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n")
    (listed / "old.list.disabled").write_text("deb http://disabled.example/debian bookworm main\n")
    (listed / "main.sources").write_text(
        "# the archive\nTypes: deb deb-src\nURIs: http://mirror.example/debian/\nSuites: bookworm bookworm-updates\n"
        "Components: main\n\nTypes: deb\nURIs: http://other.example/debian\nSuites: bookworm\n")
    assert debian_mirror((tmp_path / "sources.list", listed)) == "http://mirror.example/debian"
    one_line = tmp_path / "sources.list"
    one_line.write_text("# comment\ndeb-src http://src.example/debian bookworm main\n"
                        "deb [arch=amd64 signed-by=/k.gpg] http://line.example/debian bookworm main\n")
    assert debian_mirror((one_line, listed)) == "http://line.example/debian"
    with pytest.raises(Unavailable, match="no Debian mirror for trixie"):
        debian_mirror((one_line, listed), suite="trixie")


def test_cli_start_is_measured_against_the_interpreter_floor(tmp_path):
    out = tmp_path / "result.json"
    done = run_bench("cli-start", "--quick", "--runs", "1", "--json", str(out), workdir=tmp_path / "work")
    assert done.returncode == 0, done.stderr
    scenario = json.loads(out.read_text())["scenarios"][0]
    assert scenario["status"] == "ok", scenario
    assert [t["tool"] for t in scenario["tools"]] == ["layerlab --help", "layerlab images", "python3 -c pass"]
    assert scenario["floor"] == "python3 -c pass"
    assert all(t["status"] == "ok" and t["vs_floor"] > 0 for t in scenario["tools"] if t["role"] == "layerlab")
