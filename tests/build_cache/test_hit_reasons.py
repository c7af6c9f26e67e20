"""A hit says why: the record it reused, and why an input that changed since did not matter."""

from __future__ import annotations

import os

from layerlab.engine.builder import events_json
from layerlab.engine.builder.reasons import when_text
from layerlab.engine.events import StepCached
from tests.build_cache.test_hit_miss import again, ignored, project  # noqa: F401  (the fixture)


def test_a_plain_hit_names_its_record_and_notes_nothing(project):
    result = again(project)
    assert result.pattern == "HHHHHH"
    assert all(not d.causes for d in result.decisions)
    assert result.reason(4).startswith("reused record sha256:")
    # ... and what matched: the COPY's three files (debug.log is ignored), the RUN's args
    assert result.reason(4).endswith(": same parent, instruction, 3 source files")
    assert result.reason(3).endswith(": same parent, instruction, ARG VERSION")


def test_a_touched_source_is_a_hit_that_says_touched_only(project):
    ctx, records = project
    built = records.previous("Dockerfile", "0", 4).created
    os.utime(ctx / "src" / "app.py", ns=(10**9, 10**9))
    result = again(project)
    assert result.pattern == "HHHHHH"
    notes = result.decisions[3].causes
    assert [(n.kind, n.subject, n.text) for n in notes] == [
        ("touched", "src/app.py", f"src/app.py: same content as at {when_text(built)}; touched only")]
    assert result.reason(4).startswith(f"src/app.py: same content as at {when_text(built)}; touched only; "
                                       "reused record sha256:")
    assert not result.decisions[4].causes  # the RUN after it stands on the same parent: nothing to say
    # the note travels in the event stream, JSON included
    cached = [e for e in result.events if isinstance(e, StepCached)][3]
    assert cached.causes == notes
    assert events_json.loads(events_json.dumps(cached)) == cached


def test_restored_content_hits_the_old_record_and_says_so(project):
    ctx, records = project
    built = records.previous("Dockerfile", "0", 4).created
    (ctx / "src" / "app.py").write_text("print('hello')\n")
    assert again(project).pattern == "HHHMMM"
    (ctx / "src" / "app.py").write_text("print('hi')\n")  # back to the first build's content
    result = again(project)
    assert result.pattern == "HHHHHH"
    copy_notes = result.decisions[3].causes
    assert [(n.kind, n.text) for n in copy_notes] == [
        ("restored", f"src/app.py: same content as at {when_text(built)}, restored")]
    run_notes = result.decisions[4].causes
    assert [n.kind for n in run_notes] == ["restored"]
    assert run_notes[0].text.startswith("parent (line 5, COPY) as at ")


def test_restored_arg_is_named_with_its_value(project):
    assert again(project, build_args={"VERSION": "1.1"}).pattern == "HHMMMM"
    result = again(project)
    assert result.pattern == "HHHHHH"
    assert [n.text.split(" again")[0] for n in result.decisions[2].causes] == ["ARG VERSION: 1.0"]


def test_an_ignored_file_changes_nothing_and_is_not_noted(project):
    ctx, _ = project
    assert ignored("src/debug.log")
    (ctx / "src" / "debug.log").write_text("more log\n")
    result = again(project)
    assert result.pattern == "HHHHHH" and all(not d.causes for d in result.decisions)
