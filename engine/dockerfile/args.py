"""ARG scoping as BuildKit does it.

- Global ARGs (before the first FROM) are visible to FROM lines and to later
  global defaults only. A stage sees one after ``ARG name`` with no default.
- Automatic platform ARGs (``TARGETPLATFORM``, ``BUILDARCH``…) live in the
  global scope too; a build arg of the same name overrides each.
- In a stage, ``ARG name[=default]`` takes the build arg if one was given
  (the default is then not even expanded), else the expanded default, else
  the global value, else stays declared but unset.
- ARG and ENV share one scope in order: whichever set a name last wins, so
  ``ENV`` after ``ARG`` wins, and an ENV inherited from the base image loses
  to a later ``ARG`` with a value. Only ENV values reach the image config.
- Proxy variables (HTTP_PROXY…) reach RUN from build args without being
  declared, and stay out of the cache key and history unless declared.
"""

from __future__ import annotations

import os
from typing import Mapping

from layerlab.engine.dockerfile.instructions import ArgInstruction, Env, Expander, Stage
from layerlab.engine.errors import DockerfileError
from layerlab.engine.record_type import field, record

PROXY_ARGS = frozenset({
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
    "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
})

_MACHINE_TO_ARCH = {"x86_64": ("amd64", ""), "amd64": ("amd64", ""), "aarch64": ("arm64", ""),
                    "arm64": ("arm64", ""), "armv7l": ("arm", "v7"), "armv6l": ("arm", "v6"),
                    "i386": ("386", ""), "i686": ("386", ""), "ppc64le": ("ppc64le", ""),
                    "s390x": ("s390x", ""), "riscv64": ("riscv64", "")}


@record(frozen=True)
class Platform:
    os: str
    architecture: str
    variant: str = ""

    def __str__(self) -> str:
        text = f"{self.os}/{self.architecture}"
        return f"{text}/{self.variant}" if self.variant else text

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.strip().lower().split("/")
        if len(parts) < 2 or len(parts) > 3 or not all(parts):
            raise DockerfileError(f"invalid platform {text!r}: expected os/arch[/variant]")
        variant = parts[2] if len(parts) == 3 else ""
        if parts[1] == "arm64" and variant == "v8":
            variant = ""  # containerd normalises arm64/v8 to arm64
        return cls(parts[0], parts[1], variant)

    @classmethod
    def host(cls) -> Platform:
        machine = os.uname().machine.lower()  # what platform.machine() reads, without importing platform
        arch, variant = _MACHINE_TO_ARCH.get(machine, (machine, ""))
        return cls("linux", arch, variant)


def platform_args(build: Platform, target: Platform | None = None, target_stage: str = "default") -> dict[str, str]:
    """The automatic ARGs; the target defaults to the build platform."""
    target = target or build
    return {
        "BUILDPLATFORM": str(build), "BUILDOS": build.os, "BUILDOSVERSION": "", "BUILDARCH": build.architecture,
        "BUILDVARIANT": build.variant,
        "TARGETPLATFORM": str(target), "TARGETOS": target.os, "TARGETOSVERSION": "",
        "TARGETARCH": target.architecture, "TARGETVARIANT": target.variant,
        "TARGETSTAGE": target_stage,
    }


def resolve_global_args(meta_args: list[ArgInstruction], build_args: Mapping[str, str],
                        automatic: Mapping[str, str] | None = None, *, escape_token: str = "\\",
                        filename: str = "Dockerfile") -> dict[str, str]:
    """Values of the global scope (automatic ARGs, then each global ARG in order)."""
    scope: dict[str, str] = {}
    for name, value in (automatic or {}).items():
        scope[name] = build_args.get(name, value)
    for instruction in meta_args:
        expander = Expander(scope, escape_token, filename)
        updates: dict[str, str] = {}
        for spec in instruction.args:
            if spec.key in build_args:
                updates[spec.key] = build_args[spec.key]
            elif spec.value is not None:
                updates[spec.key] = expander.word(spec.value, spec.position)
        scope.update(updates)
    return scope


@record
class FromLine:
    base_name: str
    platform: str


def expand_from(stage: Stage, global_args: Mapping[str, str], *, escape_token: str = "\\",
                filename: str = "Dockerfile") -> FromLine:
    """A stage's base image name and --platform with global ARGs expanded."""
    expander = Expander(dict(global_args), escape_token, filename)
    base = expander.word(stage.base_name, stage.base_position or stage.position)
    if not base.strip():
        raise DockerfileError(f"base name ({stage.base_name}) should not be blank", filename=filename,
                              line=stage.position.line, column=stage.position.column)
    platform = expander.word(stage.platform, stage.platform_position or stage.position) if stage.platform else ""
    if stage.platform and not platform.strip():
        position = stage.platform_position or stage.position
        raise DockerfileError(f"failed to parse platform {stage.platform}: it expands to nothing", filename=filename,
                              line=position.line, column=position.column)
    return FromLine(base, platform)


@record
class StageScope:
    """The variables in effect while dispatching one stage."""

    global_args: Mapping[str, str]
    build_args: Mapping[str, str]
    escape_token: str = "\\"
    filename: str = "Dockerfile"
    # name -> value, in the order set: what expansion and RUN see
    values: dict[str, str] = field(default_factory=dict)
    # ENV only: what the image config gets
    config_env: dict[str, str] = field(default_factory=dict)
    # declared ARG names with their values (None = declared, unset)
    declared_args: dict[str, str | None] = field(default_factory=dict)

    @classmethod
    def for_stage(cls, global_args: Mapping[str, str], build_args: Mapping[str, str],
                  base_env: Mapping[str, str] | None = None, **kwargs) -> StageScope:
        scope = cls(global_args=global_args, build_args=build_args, **kwargs)
        for name, value in (base_env or {}).items():
            scope.values[name] = value
            scope.config_env[name] = value
        return scope

    def expander(self) -> Expander:
        """An expander over a snapshot: every word of one instruction sees the same values."""
        return Expander(self.values, self.escape_token, self.filename)

    def declare(self, instruction: ArgInstruction) -> None:
        expander = self.expander()
        for spec in instruction.args:
            if spec.key in self.build_args:
                value: str | None = self.build_args[spec.key]
            elif spec.value is not None:
                value = expander.word(spec.value, spec.position)
            else:
                value = self.global_args.get(spec.key)
            self.declared_args[spec.key] = value
            if value is not None:
                self.assign(spec.key, value)

    def apply_env(self, instruction: Env) -> Env:
        """Expand an ENV against the values before it, apply it, and return the expanded form."""
        expanded = instruction.expand(self.expander())
        for pair in expanded.pairs:
            self.assign(pair.key, pair.value)
            self.config_env[pair.key] = pair.value
        return expanded

    def assign(self, name: str, value: str) -> None:
        """Set ``name`` last, as BuildKit's state does (removed, then appended)."""
        self.values.pop(name, None)
        self.values[name] = value

    def run_env(self) -> dict[str, str]:
        """The environment a RUN gets: every value in scope plus undeclared proxy build args."""
        env = dict(self.values)
        for name in PROXY_ARGS:
            if name in self.build_args and name not in env:
                env[name] = self.build_args[name]
        return env

    def cache_args(self) -> dict[str, str]:
        """Declared ARGs with values: the ones that belong in a RUN's cache key and history."""
        return {name: value for name, value in self.declared_args.items() if value is not None}
