"""Events as JSON lines: one object per line, versioned (``--progress=json``).

Every object has ``"v": 1`` and a ``"type"``. Step events carry the step's
fields flat (``index``, ``stage``, ``position``, ``stage_steps``,
``instruction``, ``dockerfile_line``); ``build.error`` carries them nested under
``step`` (or null). Within version 1, fields may be added but never removed
or changed in meaning; a reader ignores fields it does not know.

    build.start        dockerfile, context, steps, target
    step.start         <step>
    step.cache         <step>, cache "hit", record, result, reason, causes [..] (why changed inputs did not count)
                       <step>, cache "miss", reason, causes [{kind, text, subject, before, after}]
    step.log           <step>, stream "stdout"|"stderr", line
    step.end           <step>, cache "hit"|"miss", reason, duration (s), layer_size (bytes),
                       layer_digest, result, reused_files (a COPY that missed: files linked unchanged
                       from its previous layer, not copied again)
    step.error         <step>, error, exit_code (int or null), last_lines [..]
    build.end          image_id, tags [..], duration (s)
    build.error        error, step ({<step>} or null)
    transfer.progress  digest, done, total (0 = unknown), action
    watch.change       paths [..], dockerfile_changed
    watch.ignored      paths [..] (excluded by .dockerignore: no rebuild)
    watch.rebuilt      flipped [{step {<step>}, before "hit"|"miss"|"new", after "miss"|"hit", reason, causes [..]}],
                       image_id, changes [{kind, text, subject, before, after}] (each changed path: counted or why not)
"""

from __future__ import annotations

import json
from typing import Any, Callable, Mapping, TextIO

from layerlab.engine.errors import UsageError
from layerlab.engine.events import (
    BuildFailed, BuildFinished, BuildStarted, Cause, Event, StepCached, StepFailed, StepFinished, StepLog,
    StepFlip, StepRebuilt, StepRef, StepStarted, TransferProgress, WatchChange, WatchIgnored, WatchRebuilt,
)
from layerlab.engine.record_type import fields

SCHEMA_VERSION = 1

_TYPES: dict[type, str] = {
    BuildStarted: "build.start",
    StepStarted: "step.start",
    StepCached: "step.cache",
    StepRebuilt: "step.cache",
    StepLog: "step.log",
    StepFinished: "step.end",
    StepFailed: "step.error",
    BuildFinished: "build.end",
    BuildFailed: "build.error",
    TransferProgress: "transfer.progress",
    WatchChange: "watch.change",
    WatchIgnored: "watch.ignored",
    WatchRebuilt: "watch.rebuilt",
}

EVENT_TYPES = tuple(sorted(set(_TYPES.values())))


def _step_fields(step: StepRef) -> dict[str, Any]:
    return {f.name: getattr(step, f.name) for f in fields(StepRef)}


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        return [_plain(item) for item in value]
    if isinstance(value, Cause):
        return {f.name: getattr(value, f.name) for f in fields(Cause)}
    if isinstance(value, StepRef):
        return _step_fields(value)
    if isinstance(value, StepFlip):
        return {f.name: _plain(getattr(value, f.name)) for f in fields(StepFlip)}
    return value


def to_json(event: Event) -> dict[str, Any]:
    """The JSON object for one event."""
    type_name = _TYPES.get(type(event))
    if type_name is None:
        raise TypeError(f"not an engine event: {event!r}")
    obj: dict[str, Any] = {"v": SCHEMA_VERSION, "type": type_name}
    for f in fields(event):
        value = getattr(event, f.name)
        if f.name == "step" and type_name != "build.error":
            obj.update(_step_fields(value))
        else:
            obj[f.name] = _plain(value)
    if isinstance(event, StepCached):
        obj["cache"] = "hit"
    elif isinstance(event, StepRebuilt):
        obj["cache"] = "miss"
    return obj


def dumps(event: Event) -> str:
    """One line of JSON, no trailing newline."""
    return json.dumps(to_json(event), ensure_ascii=False, separators=(",", ":"))


def _class_for(obj: Mapping[str, Any]) -> type:
    type_name = obj.get("type")
    if type_name == "step.cache":
        return StepCached if obj.get("cache") == "hit" else StepRebuilt
    for cls, name in _TYPES.items():
        if name == type_name:
            return cls
    raise UsageError(f"unknown event type {type_name!r}")


def _step_from(obj: Mapping[str, Any]) -> StepRef:
    return StepRef(**{f.name: obj[f.name] for f in fields(StepRef) if f.name in obj})


def from_json(obj: Mapping[str, Any]) -> Event:
    """The event a JSON object stands for (the inverse of ``to_json``)."""
    if obj.get("v") != SCHEMA_VERSION:
        raise UsageError(f"unsupported event schema version {obj.get('v')!r} (this reader knows {SCHEMA_VERSION})")
    cls = _class_for(obj)
    kwargs: dict[str, Any] = {}
    for f in fields(cls):
        if f.name == "step":
            if cls is BuildFailed:
                kwargs["step"] = _step_from(obj["step"]) if obj.get("step") else None
            else:
                kwargs["step"] = _step_from(obj)
        elif f.name in ("causes", "changes"):
            kwargs[f.name] = tuple(Cause(**cause) for cause in obj.get(f.name, ()))
        elif f.name == "flipped":
            kwargs["flipped"] = tuple(
                StepFlip(_step_from(flip["step"]), flip["before"], flip["reason"],
                         tuple(Cause(**cause) for cause in flip.get("causes", ())), flip.get("after", "miss"))
                for flip in obj.get("flipped", ()))
        elif f.name in obj:
            value = obj[f.name]
            kwargs[f.name] = tuple(value) if isinstance(value, list) else value
    return cls(**kwargs)


def loads(line: str) -> Event:
    try:
        obj = json.loads(line)
    except ValueError as error:
        raise UsageError(f"not a JSON event line: {error}") from error
    if not isinstance(obj, dict):
        raise UsageError("not a JSON event line: expected an object")
    return from_json(obj)


def json_lines_sink(stream: TextIO, *, flush: bool = True) -> Callable[[Event], None]:
    """An ``EventSink`` writing one JSON object per line to ``stream``."""

    def sink(event: Event) -> None:
        stream.write(dumps(event) + "\n")
        if flush:
            stream.flush()

    return sink


__all__ = ["EVENT_TYPES", "SCHEMA_VERSION", "dumps", "from_json", "json_lines_sink", "loads", "to_json"]
