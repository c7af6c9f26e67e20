"""The data-driven side of the conformance suite: cases, edit scripts, image views.

A case is a directory under ``cases/``:

- ``context/``: the build context (Dockerfile included), or a ``context = PATH``
  line in ``case`` naming a context elsewhere in the repository;
- ``case`` (optional): ``key = value`` lines: ``dockerfile``, ``args``
  (``K=V`` words), ``target``, ``docker_dockerfile`` (a Dockerfile the classic
  builder can read, for syntax it lacks, e.g. heredocs: only files and config
  are compared then), ``xfail`` (the reason layerlab still differs),
  ``buildkit_xfail`` (the reason ``--semantics buildkit`` still differs from
  BuildKit), ``fails`` (both builders must refuse the Dockerfile; layerlab's error must
  hold this text, and it must refuse before running any step);
- ``edits`` (optional, default ``first``): one edit per line, each followed by
  a build with both builders whose cache patterns must agree. Words are split
  as a shell would; text arguments take ``\\n`` escapes::

      first                          no edit: the first build
      unchanged                      no edit
      touch PATH                     mtime only
      write PATH TEXT                replace a file's content (creates it)
      chmod MODE PATH
      arg K=V                        change a --build-arg from now on
      replace PATH OLD NEW           edit text, e.g. an instruction in the Dockerfile
      setup EDIT…                    apply EDIT before the next build without building

  A line may end with ``-> PATTERN`` (``H``/``M`` per non-FROM step Docker
  ran): Docker's own pattern, pinned so the case documents the classic builder.

Both builders see the same copy of the context, with ``FROM busybox`` pointed at
the session's base image, which both hold under the same ID.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import re
import shlex
import shutil
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

from layerlab.engine.dockerfile import load_dockerfile

CASES = Path(__file__).resolve().parent / "cases"
REPO = Path(__file__).resolve().parents[2]
CONFIG_FIELDS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "Labels", "ExposedPorts", "Volumes",
                 "StopSignal", "Healthcheck", "Shell", "OnBuild")
FIXED_MTIME = 1_000_000_000  # a touch moves mtime here (and back to now the next time)


@dataclass
class Edit:
    line: str
    words: list[str]
    builds: bool = True
    expect: str | None = None


@dataclass
class Case:
    name: str
    directory: Path
    context: Path
    dockerfile: str = "Dockerfile"
    docker_dockerfile: str | None = None
    args: dict[str, str] = field(default_factory=dict)
    target: str | None = None
    xfail: str | None = None
    fails: str | None = None
    buildkit_xfail: str | None = None
    edits: list[Edit] = field(default_factory=list)


def parse_edits(text: str) -> list[Edit]:
    edits: list[Edit] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        expect = None
        if " -> " in line:
            line, _, expect = line.rpartition(" -> ")
            line, expect = line.strip(), expect.strip()
        words = shlex.split(line)
        builds = words[0] != "setup"
        edits.append(Edit(line, words[1:] if not builds else words, builds, expect))
    return edits


def load_case(directory: Path) -> Case:
    settings: dict[str, str] = {}
    conf = directory / "case"
    if conf.exists():
        for raw in conf.read_text().splitlines():
            if raw.strip() and not raw.lstrip().startswith("#"):
                key, _, value = raw.partition("=")
                settings[key.strip()] = value.strip()
    context = REPO / settings["context"] if "context" in settings else directory / "context"
    edits_file = directory / "edits"
    return Case(
        name=directory.name, directory=directory, context=context,
        dockerfile=settings.get("dockerfile", "Dockerfile"),
        docker_dockerfile=settings.get("docker_dockerfile"),
        args=dict(word.split("=", 1) for word in settings.get("args", "").split()),
        target=settings.get("target"), xfail=settings.get("xfail"), fails=settings.get("fails"),
        buildkit_xfail=settings.get("buildkit_xfail"),
        edits=parse_edits(edits_file.read_text() if edits_file.exists() else "first"),
    )


def all_cases() -> list[Case]:
    return [load_case(d) for d in sorted(CASES.iterdir()) if d.is_dir()]


_FROM_BUSYBOX = re.compile(r"^(\s*FROM\s+(?:--\S+\s+)*)busybox(?::latest)?(?=\s|$)", re.M | re.I)


def stage_context(case: Case, into: Path, base: str) -> Path:
    """Copy the case's context to ``into`` with plain modes and FROM busybox -> ``base``."""
    shutil.copytree(case.context, into, symlinks=True)
    for path in [into, *into.rglob("*")]:
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
    for name in {case.dockerfile, case.docker_dockerfile} - {None}:
        dockerfile = into / name
        dockerfile.write_text(_FROM_BUSYBOX.sub(lambda m: m.group(1) + base, dockerfile.read_text()))
    return into


def apply_edit(edit: Edit, context: Path, build_args: dict[str, str]) -> None:
    if not edit.words:
        return
    verb, *rest = edit.words
    if verb in ("first", "unchanged"):
        return
    if verb == "touch":
        for name in rest:
            path = context / name
            stamp = FIXED_MTIME if int(path.stat().st_mtime) != FIXED_MTIME else FIXED_MTIME + 3600
            os.utime(path, (stamp, stamp))
    elif verb == "write":
        path = context / rest[0]
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(codecs.decode(rest[1], "unicode_escape"))
    elif verb == "chmod":
        (context / rest[1]).chmod(int(rest[0], 8))
    elif verb == "arg":
        for word in rest:
            key, _, value = word.partition("=")
            build_args[key] = value
    elif verb == "replace":
        path = context / rest[0]
        text = path.read_text()
        old, new = (codecs.decode(word, "unicode_escape") for word in rest[1:3])
        if old not in text:
            raise ValueError(f"edit {edit.line!r}: {old!r} is not in {rest[0]}")
        path.write_text(text.replace(old, new, 1))
    else:
        raise ValueError(f"unknown edit {edit.line!r}")


# ---- which Dockerfile line each step is -------------------------------------------------------------

@dataclass(frozen=True)
class StepLine:
    line: int
    is_from: bool  # FROM, or an ARG before the first FROM: not a step of any stage, never compared
    text: str


def step_lines(dockerfile_text: str) -> list[StepLine]:
    """Every instruction, FROM included, in Dockerfile order: the classic builder's ``Step N/M``."""
    parsed = load_dockerfile(dockerfile_text, "Dockerfile")
    steps = [StepLine(arg.line, True, arg.original) for arg in parsed.meta_args]
    for stage in parsed.stages:
        steps.append(StepLine(stage.line, True, stage.original))
        steps.extend(StepLine(command.line, False, command.original) for command in stage.commands)
    return steps


def docker_pattern(output: str, steps: list[StepLine]) -> dict[int, str]:
    """Dockerfile line -> "H"/"M" from the classic builder's output (FROM steps left out)."""
    pattern: dict[int, str] = {}
    chunks = re.split(r"^Step (\d+)/\d+ : ", output, flags=re.M)
    for number, chunk in zip(chunks[1::2], chunks[2::2]):
        step = steps[int(number) - 1]
        if not step.is_from:
            pattern[step.line] = "H" if " ---> Using cache" in chunk else "M"
    return pattern


def layerlab_pattern(events: list[dict], steps: list[StepLine]) -> dict[int, str]:
    """Dockerfile line -> "H"/"M" from ``--progress=json`` step.end events (FROM steps left out)."""
    from_lines = {s.line for s in steps if s.is_from}
    pattern: dict[int, str] = {}
    for event in events:
        if event.get("type") == "step.end" and event.get("dockerfile_line") not in from_lines:
            pattern[event["dockerfile_line"]] = "H" if event.get("cache") == "hit" else "M"
    return pattern


LAYER_INSTRUCTIONS = ("run", "copy", "add", "workdir")
_BUILDKIT_STEP = re.compile(r"^#(\d+) \[(?:(\S+) )? *(\d+)/\d+\] ", re.M)  # "[ 3/12]": padded to the total's width
_BUILDKIT_CACHED = re.compile(r"^#(\d+) CACHED$", re.M)


def layer_steps(dockerfile_text: str) -> list[tuple[str | None, list[int], bool]]:
    """Per stage: its name, the lines of the instructions BuildKit shows as steps (RUN, COPY, ADD,
    WORKDIR), and whether it has no FROM step: FROM scratch, or FROM an earlier stage (then BuildKit's
    step 1 is its first instruction)."""
    parsed = load_dockerfile(dockerfile_text, "Dockerfile")
    earlier: set[str] = set()
    steps = []
    for stage in parsed.stages:
        no_from_step = stage.base_name.lower() == "scratch" or stage.base_name in earlier
        steps.append((stage.name or None, [command.line for command in stage.commands
                                           if command.name.lower() in LAYER_INSTRUCTIONS], no_from_step))
        if stage.name:
            earlier.add(stage.name)
    return steps


def buildkit_pattern(output: str, dockerfile_text: str) -> dict[int, str]:
    """Dockerfile line -> "H"/"M" from BuildKit's ``--progress=plain`` (``#N [stage k/n] …``, ``#N CACHED``)."""
    stages = layer_steps(dockerfile_text)
    names = {stage[0]: index for index, stage in enumerate(stages) if stage[0]}
    cached = set(_BUILDKIT_CACHED.findall(output))
    pattern: dict[int, str] = {}
    for vertex, stage_name, position in _BUILDKIT_STEP.findall(output):
        if stage_name is None or stage_name == "":
            index = len(stages) - 1
        elif stage_name.startswith("stage-") and stage_name[6:].isdigit():
            index = int(stage_name[6:])
        else:
            index = names.get(stage_name, len(stages) - 1)
        _, lines, no_from_step = stages[index]
        number = int(position) - (1 if no_from_step else 2)
        if 0 <= number < len(lines):
            pattern[lines[number]] = "H" if vertex in cached else "M"
    return pattern


def letters(pattern: dict[int, str]) -> str:
    return "".join(pattern[line] for line in sorted(pattern))


# ---- an image as the comparison sees it ---------------------------------------------------------------

@dataclass
class ImageView:
    files: dict[str, tuple]          # path -> (type, mode, uid, gid, sha256 or "", link target)
    config: dict[str, object]
    history: list[tuple[str, bool]]  # (created_by, empty_layer)
    layers: int


def _entry(member: tarfile.TarInfo, data: bytes | None) -> tuple:
    kind = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.DIRTYPE: "dir", tarfile.SYMTYPE: "symlink",
            tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block", tarfile.FIFOTYPE: "fifo"}.get(member.type, "other")
    digest = hashlib.sha256(data).hexdigest() if data is not None else ""
    link = member.linkname if member.issym() else ""
    return (kind, oct(member.mode & 0o7777), member.uid, member.gid, digest, link)


def _apply(files: dict[str, tuple], layer: tarfile.TarFile) -> None:
    def drop_under(path: str) -> None:
        for key in [k for k in files if k == path or k.startswith(path + "/")]:
            del files[key]

    for member in layer:
        path = "/" + member.name.strip("/").removeprefix("./").strip("/")
        parent, _, base = path.rpartition("/")
        if base == ".wh..wh..opq":
            for key in [k for k in files if k.startswith(parent + "/")]:
                del files[key]
            continue
        if base.startswith(".wh."):
            drop_under(f"{parent}/{base[4:]}")
            continue
        if member.islnk():  # a hard link reads as the file it names
            target = files.get("/" + member.linkname.strip("/").removeprefix("./"))
            files[path] = target if target else _entry(member, b"")
            continue
        if member.isdir() and path in files and files[path][0] == "dir":
            files[path] = _entry(member, None)
            continue
        drop_under(path)
        data = layer.extractfile(member).read() if member.isreg() else None
        files[path if path != "/" else "/"] = _entry(member, data)


def _plain(value: object) -> object:
    return None if value in (None, "", [], {}) else value


def read_archive(archive: Path) -> ImageView:
    """The flattened view of the one image in a docker-archive tar (``docker save``/``layerlab save``)."""
    with tarfile.open(archive) as outer:
        manifest = json.load(outer.extractfile("manifest.json"))[0]
        config = json.load(outer.extractfile(manifest["Config"]))
        files: dict[str, tuple] = {}
        for name in manifest["Layers"]:
            with tarfile.open(fileobj=outer.extractfile(name), mode="r:*") as layer:
                _apply(files, layer)
    files.pop("/", None)
    container = config.get("config") or {}
    return ImageView(
        files=files,
        config={key: _plain(container.get(key)) for key in CONFIG_FIELDS},
        history=[(h.get("created_by", ""), bool(h.get("empty_layer", False))) for h in config.get("history", [])],
        layers=len(config.get("rootfs", {}).get("diff_ids", [])),
    )


def differences(docker: ImageView, ours: ImageView, *, history: bool = True) -> list[str]:
    """Every way ``ours`` differs from ``docker``, one readable line each."""
    found: list[str] = []
    for path in sorted(set(docker.files) | set(ours.files)):
        theirs, mine = docker.files.get(path), ours.files.get(path)
        if theirs != mine:
            found.append(f"file {path}: docker {theirs} / layerlab {mine}")
    for key in CONFIG_FIELDS:
        if docker.config[key] != ours.config[key]:
            found.append(f"config {key}: docker {docker.config[key]!r} / layerlab {ours.config[key]!r}")
    if history:
        if docker.layers != ours.layers:
            found.append(f"layers: docker {docker.layers} / layerlab {ours.layers}")
        if len(docker.history) != len(ours.history):
            found.append(f"history length: docker {len(docker.history)} / layerlab {len(ours.history)}")
        for number, (theirs, mine) in enumerate(zip(docker.history, ours.history), start=1):
            if theirs != mine:
                found.append(f"history {number}: docker {theirs} / layerlab {mine}")
    return found
