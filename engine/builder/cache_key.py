"""Cache keys for build steps, shaped like the classic builder's.

Docker's classic builder finds a cached step by the parent image ID and the
container config with ``Cmd`` replaced by a description of the step; that
same ``Cmd``, joined with spaces, is the step's CREATED BY in the history:

    RUN make               -> ["/bin/sh", "-c", "make"]
    RUN make (ARG V=1.0)   -> ["|1", "V=1.0", "/bin/sh", "-c", "make"]
    RUN ["make", "x"]      -> ["make", "x"]            (with "|N K=V" in front when args are in scope)
    ENV K=v, LABEL, CMD... -> ["/bin/sh", "-c", "#(nop) ", "ENV K=v"]
    WORKDIR /app           -> ["/bin/sh", "-c", "#(nop) WORKDIR /app"]
    COPY a.txt /app/       -> ["/bin/sh", "-c", "#(nop) COPY file:<tarsum> in /app/ "]

So an in-scope build arg reaches the key of every RUN (and of nothing else),
COPY/ADD keys carry their sources' checksums, and the parent chains keys
together: once a step is rebuilt its result is new, so every later step of
the stage misses too.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Mapping, Sequence

from layerlab.engine.builder.context import FileEntry
from layerlab.engine.record_type import field, record

DEFAULT_SHELL: tuple[str, ...] = ("/bin/sh", "-c")
# 2: WORKDIR commits its directory, RUN drops writes under a VOLUME, ENV beats ARG; results keyed
# under 1 were made without that and must not answer for these steps.
KEY_VERSION = 2


def _env_keys(env: Sequence[str]) -> set[str]:
    return {item.partition("=")[0] for item in env}


def run_build_args(in_scope: Mapping[str, str | None], env: Sequence[str]) -> dict[str, str]:
    """The build args that enter a RUN's key, as the classic builder filters them.

    ``in_scope`` maps every ARG declared in the stage so far to its value
    (``--build-arg`` or the default; None when it has neither). Args without a
    value are left out, and so are args an ENV of the same name shadows.
    Proxy args given with ``--build-arg`` but never declared with ARG stay out
    of ``in_scope`` and out of the key, as in Docker.
    """
    shadowed = _env_keys(env)
    return {name: value for name, value in in_scope.items() if value is not None and name not in shadowed}


def run_command(command: str | Sequence[str], *, shell: Sequence[str] = DEFAULT_SHELL,
                build_args: Mapping[str, str] | None = None) -> tuple[str, ...]:
    """The ``Cmd`` of a RUN: shell form (a string) runs under ``shell``; exec form (a list) as is."""
    cmd = (*shell, command) if isinstance(command, str) else tuple(command)
    if build_args:
        pairs = sorted(f"{name}={value}" for name, value in build_args.items())
        cmd = (f"|{len(pairs)}", *pairs, *cmd)
    return cmd


def nop_command(comment: str, *, shell: Sequence[str] = DEFAULT_SHELL) -> tuple[str, ...]:
    """The two-part ``#(nop)`` form (ENV, ARG, LABEL, CMD, ENTRYPOINT, EXPOSE, USER, VOLUME, ...).

    ``comment`` is the instruction as Docker writes it, e.g. ``ENV K=v`` or
    ``CMD ["sh"]``; the CREATED BY reads ``/bin/sh -c #(nop)  ENV K=v`` (two spaces).
    """
    return (*shell, "#(nop) ", comment)


def nop_command_string(comment: str, *, shell: Sequence[str] = DEFAULT_SHELL) -> tuple[str, ...]:
    """The one-part ``#(nop)`` form that WORKDIR, COPY and ADD use."""
    return (*shell, "#(nop) " + comment)


def copy_command(instruction: str, source_digest: str, dest: str, *, chown: str = "", chmod: str = "",
                 shell: Sequence[str] = DEFAULT_SHELL) -> tuple[str, ...]:
    """COPY/ADD's ``Cmd``: ``#(nop) COPY file:<hex> in /app/ `` (with the trailing space).

    ``--chown`` is written with no space before the digest, exactly as the
    classic builder writes it (``COPY --chown=1:2file:...``).
    """
    flags = (f"--chown={chown}" if chown else "") + (f"--chmod={chmod}" if chmod else "")
    return nop_command_string(f"{instruction} {flags}{source_digest} in {dest} ", shell=shell)


def created_by(command: Sequence[str]) -> str:
    """The history's CREATED BY: the ``Cmd`` joined with spaces."""
    return " ".join(command)


@record(frozen=True)
class StepInputs:
    """Everything a step's cache key is made of, kept so a later miss can name its cause.

    ``dockerfile``, ``stage`` and ``position`` (1-based within the stage)
    identify "the same step" across builds; ``index`` is its place in the
    whole Dockerfile. ``parent`` is what the step stands on -- the base image
    ID for the first step, else the result of the step before (an image ID,
    new whenever that step was rebuilt). ``parent_step`` is that step's index,
    None for the base image; ``parent_line`` and ``parent_keyword`` name it as a
    person finds it, by its Dockerfile line (``line 4, COPY``; line 0 when it
    has none, as the ``--label`` step). ``command`` is the ``Cmd`` from the helpers above;
    ``config`` the rest of the image config at this step (User, WorkingDir,
    Entrypoint, Cmd, Labels, ExposedPorts, Volumes, Shell, Healthcheck,
    StopSignal, OnBuild and any flags that change the result).
    ``build_args`` are the args in ``command`` (RUN only); ``sources`` the
    per-file map behind ``source_digest`` (COPY/ADD only).
    """

    dockerfile: str
    stage: str
    position: int
    index: int
    instruction: str
    parent: str
    command: tuple[str, ...]
    parent_step: int | None = None
    parent_line: int = 0
    parent_keyword: str = ""
    env: tuple[str, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict)
    build_args: Mapping[str, str] = field(default_factory=dict)
    source_digest: str = ""
    sources: Mapping[str, FileEntry] = field(default_factory=dict)

    def key(self) -> str:
        """``sha256:<hex>`` over what Docker's cache compares: parent, Cmd, Env, config."""
        material = {
            "v": KEY_VERSION,
            "parent": self.parent,
            "cmd": list(self.command),
            "env": list(self.env),
            "config": self.config,
        }
        text = json.dumps(material, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return "sha256:" + hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()

    @property
    def created_by(self) -> str:
        return created_by(self.command)

    def to_json(self) -> dict[str, Any]:
        return {
            "dockerfile": self.dockerfile,
            "stage": self.stage,
            "position": self.position,
            "index": self.index,
            "instruction": self.instruction,
            "parent": self.parent,
            "parent_step": self.parent_step,
            "parent_line": self.parent_line,
            "parent_keyword": self.parent_keyword,
            "command": list(self.command),
            "env": list(self.env),
            "config": dict(self.config),
            "build_args": dict(self.build_args),
            "source_digest": self.source_digest,
            "sources": {path: entry.to_json() for path, entry in self.sources.items()},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], sources: Mapping[str, FileEntry] | None = None) -> "StepInputs":
        """``sources``: the entries, when they are kept apart from ``data`` (a cache record's column)."""
        return cls(
            dockerfile=data["dockerfile"],
            stage=data["stage"],
            position=int(data["position"]),
            index=int(data["index"]),
            instruction=data["instruction"],
            parent=data["parent"],
            parent_step=data.get("parent_step"),
            parent_line=int(data.get("parent_line") or 0),
            parent_keyword=data.get("parent_keyword") or "",
            command=tuple(data["command"]),
            env=tuple(data.get("env", ())),
            config=dict(data.get("config", {})),
            build_args=dict(data.get("build_args", {})),
            source_digest=data.get("source_digest", ""),
            sources=sources if sources is not None else
            {path: FileEntry.from_json(path, entry) for path, entry in data.get("sources", {}).items()},
        )


__all__ = [
    "DEFAULT_SHELL", "StepInputs", "copy_command", "created_by", "nop_command",
    "nop_command_string", "run_build_args", "run_command",
]
