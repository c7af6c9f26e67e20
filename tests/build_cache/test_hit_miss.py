"""Docker's classic hit/miss pattern over a series of edits, each miss explained."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from layerlab.engine.builder import events_json
from layerlab.engine.builder.cache_records import CacheRecords
from layerlab.engine.events import StepCached, StepFinished, StepRebuilt
from tests.build_cache.builder_sim import build

DOCKERFILE = """
ARG VERSION=1.0
COPY requirements.txt /app/
RUN pip install -r /app/requirements.txt
COPY src /app/src
RUN make
ENV MODE=prod
"""


def ignored(rel: str) -> bool:
    return rel.endswith(".log")


@pytest.fixture
def project(tmp_path: Path):
    ctx = tmp_path / "ctx"
    (ctx / "src").mkdir(parents=True)
    (ctx / "requirements.txt").write_text("flask\n")
    (ctx / "src" / "app.py").write_text("print('hi')\n")
    (ctx / "src" / "run.sh").write_text("#!/bin/sh\n")
    (ctx / "src" / "old.txt").write_text("old\n")
    (ctx / "src" / "debug.log").write_text("log\n")
    for path in [ctx, *ctx.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)
    records = CacheRecords(tmp_path / "root")
    first = build(ctx, DOCKERFILE, records, excluder=ignored)
    assert first.pattern == "MMMMMM"
    assert {first.reason(i) for i in range(1, 7)} == {"first build of this step"}
    yield ctx, records
    records.close()


def again(project, dockerfile: str = DOCKERFILE, **kwargs):
    ctx, records = project
    return build(ctx, dockerfile, records, excluder=ignored, **kwargs)


def test_unchanged_rebuild_hits_and_names_the_record(project):
    second = again(project)
    assert second.pattern == "HHHHHH"
    hit = second.decisions[3]
    assert hit.reason.startswith("reused record sha256:") and hit.record.key == hit.key
    assert hit.record.inputs.instruction == "COPY src /app/src"


def test_mtime_only_change_hits(project):
    ctx, _ = project
    os.utime(ctx / "src" / "app.py", ns=(10**9, 10**9))
    os.utime(ctx / "requirements.txt")
    assert again(project).pattern == "HHHHHH"


def test_content_change_misses_from_that_copy_on(project):
    ctx, _ = project
    (ctx / "src" / "app.py").write_text("print('hello')\n")
    result = again(project)
    assert result.pattern == "HHHMMM"
    assert result.reason(4) == "src/app.py: content changed"
    assert result.reason(5) == "parent (line 5, COPY) was rebuilt"
    assert result.reason(6) == "parent (line 6, RUN) was rebuilt"
    cause = result.decisions[3].causes[0]
    assert (cause.kind, cause.subject, cause.before, cause.after) == ("file", "src/app.py", "12 bytes", "15 bytes")
    # reverting the edit finds the first build's records again, as Docker finds its old images
    (ctx / "src" / "app.py").write_text("print('hi')\n")
    assert again(project).pattern == "HHHHHH"


def test_mode_change_misses_with_the_mode(project):
    ctx, _ = project
    (ctx / "src" / "run.sh").chmod(0o755)
    result = again(project)
    assert result.pattern == "HHHMMM"
    assert result.reason(4) == "src/run.sh: mode 0644 → 0755"


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_owner_change_misses_with_the_owner(project):
    ctx, _ = project
    os.chown(ctx / "src" / "app.py", 1000, 1000)
    result = again(project)
    assert result.pattern == "HHHMMM"
    assert result.reason(4) == "src/app.py: owner 0:0 → 1000:1000"


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_owner_change_hits_when_owners_are_flattened_like_the_docker_client(tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "f").write_text("x")
    with CacheRecords(tmp_path / "root") as records:
        dockerfile = "COPY f /f\nRUN cat /f"
        assert build(ctx, dockerfile, records, owner="root").pattern == "MM"
        os.chown(ctx / "f", 1000, 1000)
        assert build(ctx, dockerfile, records, owner="root").pattern == "HH"


def test_changes_to_ignored_files_hit(project):
    ctx, _ = project
    (ctx / "src" / "debug.log").write_text("much more log\n")
    (ctx / "src" / "new.log").write_text("new\n")
    assert again(project).pattern == "HHHHHH"


def test_added_and_removed_files_are_named(project):
    ctx, _ = project
    (ctx / "src" / "new.txt").write_text("new\n")
    (ctx / "src" / "old.txt").unlink()
    result = again(project)
    assert result.pattern == "HHHMMM"
    assert result.reason(4) == "src/new.txt: added; src/old.txt: removed"


def test_changed_arg_busts_every_later_run(project):
    result = again(project, build_args={"VERSION": "1.1"})
    assert result.pattern == "HHMMMM"
    assert result.reason(3) == "ARG VERSION: 1.0 → 1.1"
    assert result.decisions[2].causes[0].kind == "arg"
    assert result.reason(4) == "parent (line 4, RUN) was rebuilt"


def test_arg_change_without_a_later_run_hits(tmp_path):
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "f").write_text("x")
    with CacheRecords(tmp_path / "root") as records:
        dockerfile = "ARG V=1\nCOPY f /f\nENV A=b"
        assert build(ctx, dockerfile, records).pattern == "MMM"
        assert build(ctx, dockerfile, records, build_args={"V": "2"}).pattern == "HHH"


def test_instruction_change_is_quoted(project):
    result = again(project, DOCKERFILE.replace("RUN make", "RUN make -j2"))
    assert result.pattern == "HHHHMM"
    assert result.reason(5) == 'instruction changed: "RUN make" → "RUN make -j2"'
    assert result.reason(6) == "parent (line 6, RUN) was rebuilt"


def test_no_cache_misses_everything_then_its_results_are_reused(project):
    forced = again(project, no_cache=True)
    assert forced.pattern == "MMMMMM"
    assert {forced.reason(i) for i in range(1, 7)} == {"--no-cache"}
    after = again(project)
    assert after.pattern == "HHHHHH"
    assert results(after) == results(forced)


def results(build_result) -> list[str]:
    return [e.result for e in build_result.events if isinstance(e, StepFinished)]


def test_many_changed_files_are_summarised(project):
    ctx, _ = project
    for i in range(30):
        (ctx / "src" / f"gen{i:02}.txt").write_text(str(i))
    result = again(project)
    causes = result.decisions[3].causes
    assert len(causes) == 20 and causes[-1].text == "… and 11 more changes"
    assert result.reason(4) == "src/gen00.txt: added; src/gen01.txt: added; src/gen02.txt: added; +27 more"


def test_records_persist_across_processes(project, tmp_path):
    ctx, records = project
    code = f"""
import sys
sys.path.insert(0, {str(Path(__file__).resolve().parents[2])!r})
from pathlib import Path
from layerlab.engine.builder.cache_records import CacheRecords
from tests.build_cache.builder_sim import build
from tests.build_cache.test_hit_miss import DOCKERFILE, ignored
with CacheRecords(Path({str(tmp_path / 'root')!r})) as records:
    print(build(Path({str(ctx)!r}), DOCKERFILE, records, excluder=ignored).pattern)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "HHHHHH"


def test_event_stream_carries_the_reasons_as_json(project):
    ctx, _ = project
    (ctx / "src" / "run.sh").chmod(0o700)
    result = again(project)
    cache_events = [e for e in result.events if isinstance(e, (StepCached, StepRebuilt))]
    assert [type(e).__name__ for e in cache_events] == ["StepCached"] * 3 + ["StepRebuilt"] * 3
    lines = [events_json.dumps(e) for e in result.events]
    assert [events_json.loads(line) for line in lines] == list(result.events)
    import json

    ends = [json.loads(line) for line in lines if '"step.end"' in line]
    assert [(e["index"], e["cache"]) for e in ends] == [(1, "hit"), (2, "hit"), (3, "hit"), (4, "miss"),
                                                        (5, "miss"), (6, "miss")]
    assert ends[3]["reason"] == "src/run.sh: mode 0644 → 0700"
    assert ends[3]["instruction"] == "COPY src /app/src"
