"""Every event type serialises to one JSON line and reads back equal."""

from __future__ import annotations

import io
import json
import typing

import pytest

from layerlab.engine import events
from layerlab.engine.builder import events_json
from layerlab.engine.errors import UsageError

STEP = events.StepRef(index=4, stage="builder", position=2, stage_steps=5,
                      instruction="RUN make -j2 \"ünï\"", dockerfile_line=7)

SAMPLES = [
    events.BuildStarted(dockerfile="Dockerfile", context=".", steps=9, target="final"),
    events.StepStarted(STEP),
    events.StepCached(STEP, record="sha256:" + "a" * 64, result="sha256:" + "b" * 64,
                      reason="reused record sha256:aaaaaaaaaaaa"),
    events.StepRebuilt(STEP, reason="src/app.py: content changed", causes=(
        events.Cause("file", "src/app.py: content changed", subject="src/app.py", before="10 bytes", after="11 bytes"),
        events.Cause("arg", "ARG VERSION: 1.0 → 1.1", subject="VERSION", before="1.0", after="1.1"),
    )),
    events.StepRebuilt(STEP, reason="first build of this step"),
    events.StepLog(STEP, stream="stderr", line="warning: \x1b[1mbold\x1b[0m"),
    events.StepFinished(STEP, duration=0.25, cache="miss", reason="--no-cache", layer_size=1234,
                        layer_digest="sha256:" + "c" * 64, result="sha256:" + "d" * 64),
    events.StepFailed(STEP, error="RUN make failed", exit_code=2, last_lines=("make: *** [all] Error 2",)),
    events.StepFailed(STEP, error="killed", exit_code=None),
    events.BuildFinished(image_id="sha256:" + "e" * 64, tags=("app:1", "app:latest"), duration=3.5),
    events.BuildFailed(error="Dockerfile:7: COPY failed: missing.txt: file not found", step=STEP),
    events.BuildFailed(error="cancelled"),
    events.TransferProgress(digest="sha256:" + "f" * 64, done=10, total=0, action="push"),
    events.WatchChange(paths=("src/a.py", "src/b.py"), dockerfile_changed=True),
    events.WatchIgnored(paths=("debug.log",)),
    events.WatchRebuilt(flipped=(events.StepFlip(
        events.StepRef(3, "0", 2, 4, "COPY src /app/src", 3), "hit", "src/a.py: content changed",
        (events.Cause("file", "src/a.py: content changed", "src/a.py"),)),), image_id="sha256:" + "e" * 64),
]


def test_samples_cover_every_event_class():
    assert {type(sample) for sample in SAMPLES} == set(typing.get_args(events.Event))


@pytest.mark.parametrize("event", SAMPLES, ids=lambda e: type(e).__name__)
def test_round_trip(event):
    line = events_json.dumps(event)
    assert "\n" not in line
    obj = json.loads(line)
    assert obj["v"] == 1
    assert obj["type"] in events_json.EVENT_TYPES
    assert events_json.loads(line) == event


def test_step_fields_are_flat_and_cache_is_named():
    start = json.loads(events_json.dumps(events.StepStarted(STEP)))
    assert start == {"v": 1, "type": "step.start", "index": 4, "stage": "builder", "position": 2,
                     "stage_steps": 5, "instruction": STEP.instruction, "dockerfile_line": 7}
    hit = events_json.to_json(SAMPLES[2])
    miss = events_json.to_json(SAMPLES[3])
    assert (hit["type"], hit["cache"]) == ("step.cache", "hit")
    assert (miss["type"], miss["cache"]) == ("step.cache", "miss")
    assert miss["causes"][1] == {"kind": "arg", "text": "ARG VERSION: 1.0 → 1.1", "subject": "VERSION",
                                 "before": "1.0", "after": "1.1"}
    end = events_json.to_json(SAMPLES[6])
    assert {"cache", "reason", "duration", "layer_size", "index", "stage", "instruction"} <= end.keys()


def test_reader_ignores_unknown_fields_but_not_unknown_versions_or_types():
    obj = events_json.to_json(events.StepStarted(STEP)) | {"future_field": 1}
    assert events_json.from_json(obj) == events.StepStarted(STEP)
    with pytest.raises(UsageError, match="version"):
        events_json.from_json(obj | {"v": 2})
    with pytest.raises(UsageError, match="unknown event type"):
        events_json.from_json({"v": 1, "type": "step.teleport"})
    with pytest.raises(UsageError):
        events_json.loads("[1, 2]")


def test_sink_writes_one_object_per_line():
    out = io.StringIO()
    sink = events_json.json_lines_sink(out)
    for event in SAMPLES:
        sink(event)
    lines = out.getvalue().splitlines()
    assert [events_json.loads(line) for line in lines] == SAMPLES


def test_event_list_sink_keeps_order():
    sink = events.EventList()
    for event in SAMPLES:
        sink(event)
    assert list(sink) == SAMPLES
    events.discard(SAMPLES[0])


def test_flattened_step_fields_never_collide_with_event_fields():
    from layerlab.engine.record_type import fields

    step_names = {f.name for f in fields(events.StepRef)}
    for cls in typing.get_args(events.Event):
        names = {f.name for f in fields(cls)}
        if "step" in names and cls is not events.BuildFailed:
            assert not (names & step_names), cls.__name__
