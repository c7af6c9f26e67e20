"""Why a step missed the cache, said concretely.

A miss compares the step's current inputs with the inputs of the nearest
earlier record for the same step (same Dockerfile, stage and position) and
names what differs: ``src/app.py: content changed``, ``src/run.sh: mode 0644
→ 0755``, ``ARG VERSION: 1.0 → 1.1``, ``instruction changed: "RUN make" →
"RUN make -j2"``, ``parent (line 4, COPY) was rebuilt``, ``--no-cache``,
``first build of this step``. A hit names the record it reused, and says why
an input that changed since did not matter: ``greeting.txt: same content as
at 10:02; touched only`` (its mtime alone changed), ``greeting.txt: same
content as at 10:02, restored`` (the step's last build used other content;
this content was built at 10:02).

A step is named by its Dockerfile line, as the Build panel's gutter shows it,
never by a step count a reader would have to work out.
"""

from __future__ import annotations

import json
import time
from typing import Mapping, Sequence

from layerlab.engine.builder.cache_key import StepInputs
from layerlab.engine.builder.context import FileEntry
from layerlab.engine.builder.stored_sources import file_count, mtime_changes, mtimes_digest
from layerlab.engine.events import Cause
from layerlab.engine.oci.digest import short_id

MAX_CAUSES = 20


def _short(ref: str) -> str:
    algorithm, sep, hexpart = ref.partition(":")
    return f"{algorithm}:{short_id(hexpart)}" if sep and len(hexpart) > len(short_id(hexpart)) else ref


def _shown(value: str | None) -> str:
    return "(unset)" if value is None else value


def _pairs(items: Sequence[str]) -> dict[str, str]:
    return dict(item.partition("=")[::2] for item in items)


def no_cache(flag: str = "--no-cache") -> Cause:
    return Cause("no-cache", flag)


def first_build() -> Cause:
    return Cause("first-build", "first build of this step")


def diff_files(before: Mapping[str, FileEntry], after: Mapping[str, FileEntry]) -> list[Cause]:
    """One cause per source path that differs, in path order."""
    causes = []
    for path in sorted(before.keys() | after.keys()):
        old, new = before.get(path), after.get(path)
        if old is None:
            causes.append(Cause("file-added", f"{path}: added", subject=path))
        elif new is None:
            causes.append(Cause("file-removed", f"{path}: removed", subject=path))
        elif old.checksum != new.checksum or old != new:
            causes.append(_file_change(path, old, new))
    return causes


def _file_change(path: str, old: FileEntry, new: FileEntry) -> Cause:
    details, befores, afters = [], [], []

    def note(text: str, before: str, after: str) -> None:
        details.append(text)
        befores.append(before)
        afters.append(after)

    if old.kind != new.kind:
        note(f"type {old.kind} → {new.kind}", old.kind, new.kind)
    if old.link != new.link:
        note(f"link target {old.link} → {new.link}", old.link, new.link)
    if old.mode != new.mode:
        note(f"mode {old.mode:04o} → {new.mode:04o}", f"{old.mode:04o}", f"{new.mode:04o}")
    if (old.uid, old.gid) != (new.uid, new.gid):
        note(f"owner {old.uid}:{old.gid} → {new.uid}:{new.gid}", f"{old.uid}:{old.gid}", f"{new.uid}:{new.gid}")
    if old.kind == new.kind == "file" and old.checksum != new.checksum and (
        old.size != new.size or not details
    ):
        # The checksum covers the header too; with the header unchanged the content differs.
        if old.size != new.size:
            note("content changed", f"{old.size} bytes", f"{new.size} bytes")
        else:
            note("content changed", "", "")
    if not details:
        note("changed", short_id(old.checksum), short_id(new.checksum))
    return Cause("file", f"{path}: {', '.join(details)}", subject=path,
                 before="; ".join(b for b in befores if b), after="; ".join(a for a in afters if a))


def diff_mapping(kind: str, label: str, before: Mapping[str, str], after: Mapping[str, str]) -> list[Cause]:
    """``ARG VERSION: 1.0 → 1.1``-style causes for args, env and config fields."""
    causes = []
    for name in sorted(before.keys() | after.keys()):
        old, new = before.get(name), after.get(name)
        if old != new:
            causes.append(Cause(kind, f"{label} {name}: {_shown(old)} → {_shown(new)}", subject=name,
                                before=_shown(old), after=_shown(new)))
    return causes


def _config_text(value) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def explain_miss(current: StepInputs, previous: StepInputs | None, *, forced: str | None = None,
                 parent_rebuilt: bool = False, limit: int = MAX_CAUSES) -> tuple[Cause, ...]:
    """The causes of a miss, most fundamental first.

    ``forced`` is the flag that disabled the cache (``--no-cache`` or
    ``--no-cache-filter STAGE``); ``parent_rebuilt`` says the step this one
    stands on missed in this build. ``previous`` is the nearest earlier record
    for the same step, or None.
    """
    if forced:
        return (no_cache(forced),)
    if previous is None:
        return (first_build(),)
    causes: list[Cause] = []
    if current.parent != previous.parent:
        if current.parent_step is not None and parent_rebuilt:
            causes.append(Cause("parent-rebuilt", f"parent ({parent_name(current)}) was rebuilt",
                                subject=str(current.parent_step),
                                before=previous.parent, after=current.parent))
        elif current.parent_step is None:
            causes.append(Cause("parent-changed", f"base image changed: {_short(previous.parent)} → "
                                f"{_short(current.parent)}", before=previous.parent, after=current.parent))
        else:
            causes.append(Cause("parent-changed", f"parent ({parent_name(current)}) changed: "
                                f"{_short(previous.parent)} → {_short(current.parent)}",
                                subject=str(current.parent_step),
                                before=previous.parent, after=current.parent))
    if current.instruction != previous.instruction:
        causes.append(Cause("instruction", f'instruction changed: "{previous.instruction}" → '
                            f'"{current.instruction}"', before=previous.instruction, after=current.instruction))
    causes += diff_mapping("arg", "ARG", previous.build_args, current.build_args)
    causes += diff_mapping("env", "ENV", _pairs(previous.env), _pairs(current.env))
    causes += diff_mapping("config", "config", {k: _config_text(v) for k, v in previous.config.items()},
                           {k: _config_text(v) for k, v in current.config.items()})
    if current.source_digest != previous.source_digest or current.sources != previous.sources:
        causes += diff_files(previous.sources, current.sources)
    if not causes and current.key() != previous.key():
        causes.append(Cause("key", f"cache key changed: {created_by_change(previous, current)}",
                            before=previous.created_by, after=current.created_by))
    if not causes:
        # Same inputs as the earlier record, yet no record under this key: it was pruned.
        causes.append(Cause("key", "earlier record for this step was removed"))
    if len(causes) > limit:
        rest = len(causes) - (limit - 1)
        causes = causes[:limit - 1] + [Cause("more", f"… and {rest} more changes", subject=str(rest))]
    return tuple(causes)


def parent_name(inputs: StepInputs) -> str:
    """The step a step stands on, as the Dockerfile shows it: ``line 4, COPY``."""
    if inputs.parent_line:
        return f"line {inputs.parent_line}, {inputs.parent_keyword}" if inputs.parent_keyword \
            else f"line {inputs.parent_line}"
    return f"step {inputs.parent_step}"  # a step with no line of its own (the --label step)


def created_by_change(previous: StepInputs, current: StepInputs) -> str:
    if previous.created_by != current.created_by:
        return f'"{previous.created_by}" → "{current.created_by}"'
    return "inputs differ"


def summary(causes: Sequence[Cause], limit: int = 3) -> str:
    """One line for a miss: the first few causes joined with "; "."""
    texts = [cause.text for cause in causes]
    if len(texts) > limit:
        hidden = len(texts) - limit
        # a trailing "more" cause already counts what it stands for
        if causes[-1].kind == "more":
            hidden = int(causes[-1].subject) + len(texts) - limit - 1
        texts = texts[:limit] + [f"+{hidden} more"]
    return "; ".join(texts)


def explain_hit(key: str, result: str, created: float, inputs: StepInputs | None = None) -> str:
    """A hit names the record it reused, and (given the step's ``inputs``) what matched it."""
    when = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(created))
    text = f"reused record {_short(key)} → {_short(result)} (built {when})"
    if inputs is None:
        return text
    matched = ["parent", "instruction"]
    files = file_count(inputs.sources)
    if inputs.sources:
        matched.append(f"{files} source file{'' if files == 1 else 's'}" if files else "sources")
    if inputs.build_args:
        matched.append("ARG " + ", ".join(sorted(inputs.build_args)))
    return f"{text}: same {', '.join(matched)}"


def when_text(moment: float, now: float | None = None) -> str:
    """A record's time as a person reads it beside the clock: ``10:02`` today, else ``2026-11-29 10:02``."""
    local, today = time.localtime(moment), time.localtime(time.time() if now is None else now)
    same_day = local[:3] == today[:3]
    return time.strftime("%H:%M" if same_day else "%Y-%m-%d %H:%M", local)


def explain_hit_notes(current: StepInputs, record: StepInputs, built: float,
                      previous: StepInputs | None = None, limit: int = MAX_CAUSES) -> tuple[Cause, ...]:
    """Why inputs that changed did not make this hit a miss; empty when none changed.

    ``record`` is what the reused record was built from (at ``built``), ``previous`` what the step's
    last build used: when that differs, the inputs went back to the record's ("restored"). A source
    whose mtime alone differs from the record's was "touched only".
    """
    when = when_text(built)
    notes: list[Cause] = []
    if previous is not None and previous != record:
        for cause in explain_miss(current, previous):
            note = _restored(cause, current, when)
            if note is not None:
                notes.append(note)
    noted = {note.subject for note in notes}
    # the digests differ when some file's mtime does: only then are the record's mtimes read, and only
    # the entries of files whose mtime moved are compared
    same_mtimes = mtimes_digest(current.sources) == mtimes_digest(record.sources)
    for path in () if same_mtimes else mtime_changes(current.sources, record.sources):
        now, then = current.sources[path], record.sources[path]
        if path not in noted and now.kind == "file" and now == then and now.mtime_ns and then.mtime_ns \
                and now.mtime_ns != then.mtime_ns:
            notes.append(Cause("touched", f"{path}: same content as at {when}; touched only", subject=path))
    if len(notes) > limit:
        rest = len(notes) - (limit - 1)
        notes = notes[:limit - 1] + [Cause("more", f"… and {rest} more", subject=str(rest))]
    return tuple(notes)


def _restored(cause: Cause, current: StepInputs, when: str) -> Cause | None:
    """What ``cause`` (a change since the step's last build) says of a hit: the input is back to the record's."""
    if cause.kind in ("file", "file-added", "file-removed"):
        what = "not there" if cause.kind == "file-removed" else "same content"
        return Cause("restored", f"{cause.subject}: {what} as at {when}, restored", subject=cause.subject)
    if cause.kind in ("arg", "env", "config"):
        label = {"arg": "ARG", "env": "ENV", "config": "config"}[cause.kind]
        return Cause("restored", f"{label} {cause.subject}: {cause.after} again, as at {when}",
                     subject=cause.subject, after=cause.after)
    if cause.kind == "instruction":
        return Cause("restored", f'instruction "{cause.after}" again, as at {when}', after=cause.after)
    if cause.kind == "parent-changed":
        where = parent_name(current) if current.parent_step is not None else "base image"
        return Cause("restored", f"parent ({where}) as at {when}", before=cause.before, after=cause.after)
    return None


__all__ = ["MAX_CAUSES", "diff_files", "diff_mapping", "explain_hit", "explain_hit_notes", "explain_miss",
           "first_build", "when_text",
           "no_cache", "parent_name", "summary"]
