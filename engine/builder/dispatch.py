"""One stage's state while it builds, and the instructions that only change the config.

The classic builder keeps a ``runConfig`` (Docker's ``container.Config``) per
stage; every instruction commits an image whose ``config`` is that runConfig
and whose ``container_config`` is the same with ``Cmd`` replaced by the step's
description. The metadata instructions here change the runConfig and return
that description, in the classic builder's exact words (``#(nop)  CMD
["sh"]``, ``#(nop)  USER nobody``, ``#(nop) WORKDIR /app``...).
"""

from __future__ import annotations

import copy
import posixpath
from typing import Any, Mapping

from layerlab.engine.builder.cache_key import DEFAULT_SHELL, nop_command, nop_command_string
from layerlab.engine.dockerfile.args import PROXY_ARGS, StageScope
from layerlab.engine.dockerfile.gotext import go_quote, go_quote_list
from layerlab.engine.dockerfile.instructions import (
    ArgInstruction, Cmd, Entrypoint, Env, Expose, Healthcheck, Instruction, Label, Maintainer, OnBuild, Shell, StopSignal, User,
    Expander, Volume, Workdir,
)
from layerlab.engine.dockerfile.ports import PortError, expose_ports
from layerlab.engine.errors import BuildError, DockerfileError
from layerlab.engine.oci.config import ImageConfig
from layerlab.engine.record_type import field, record, replace

# container.Config's fields in Go's order, with the values Docker writes when unset.
CONTAINER_CONFIG_DEFAULTS: tuple[tuple[str, Any], ...] = (
    ("Hostname", ""), ("Domainname", ""), ("User", ""), ("AttachStdin", False), ("AttachStdout", False),
    ("AttachStderr", False), ("Tty", False), ("OpenStdin", False), ("StdinOnce", False), ("Env", None),
    ("Cmd", None), ("Image", ""), ("Volumes", None), ("WorkingDir", ""), ("Entrypoint", None),
    ("OnBuild", None), ("Labels", None),
)
# Written only when set (Go's omitempty).
_OMIT_EMPTY = ("ExposedPorts", "Healthcheck", "ArgsEscaped", "StopSignal", "StopTimeout", "Shell",
               "NetworkDisabled", "MacAddress")
# What a step's cache key takes from the config besides Env and Cmd (the Image field is the parent, keyed apart).
KEY_FIELDS = ("User", "WorkingDir", "Entrypoint", "Cmd", "Labels", "ExposedPorts", "Volumes", "Shell",
              "Healthcheck", "StopSignal", "OnBuild")


def full_config(config: dict[str, Any] | None) -> dict[str, Any]:
    """A runConfig with every field Docker writes, in Go's order (omitempty fields only when set)."""
    source = dict(config or {})
    out: dict[str, Any] = {}
    for name, default in CONTAINER_CONFIG_DEFAULTS:
        out[name] = source.pop(name, default)
    for name in _OMIT_EMPTY:
        value = source.pop(name, None)
        if value:
            out[name] = value
    out.update(source)  # fields a newer Docker wrote; kept as they are
    return out


@record
class StageState:
    """Where a stage stands: the image so far and the runConfig the next step starts from."""

    label: str                    # stage name, or its index as text
    image_id: str                 # "" until the first commit of a FROM scratch stage
    image: ImageConfig
    config: dict[str, Any]
    scope: StageScope
    cmd_set: bool = False
    maintainer: str = ""
    base_ref: str = ""

    @property
    def shell(self) -> tuple[str, ...]:
        return tuple(self.config.get("Shell") or DEFAULT_SHELL)

    @property
    def env(self) -> list[str]:
        return list(self.config.get("Env") or [])

    @property
    def workdir(self) -> str:
        return self.config.get("WorkingDir") or "/"

    def key_config(self, **extra: Any) -> dict[str, Any]:
        keyed = {name: self.config[name] for name in KEY_FIELDS if self.config.get(name) not in (None, "", [], {})}
        keyed.update({name: value for name, value in extra.items() if value not in (None, "", [], {}, False)})
        return keyed


def classic_variables(state: StageState, cli_args: Mapping[str, str]) -> dict[str, str]:
    """What the classic builder expands a word against: the config's Env, then the args it does not shadow.

    An ENV value always beats a build arg of the same name (the base image's
    ENV too), whatever order they came in; declared ARGs with a value and
    proxy args given with ``--build-arg`` fill the names ENV leaves free.
    """
    values = {name: cli_args[name] for name in sorted(PROXY_ARGS) if name in cli_args}
    values.update({name: value for name, value in state.scope.declared_args.items() if value is not None})
    values.update(item.partition("=")[::2] for item in state.env)
    return values


def buildkit_variables(state: StageState) -> dict[str, str]:
    """What BuildKit expands a word against: one set of variables where the last ENV or ARG (with
    a value) to set a name wins, so an ARG default beats an earlier ENV of the same name."""
    return dict(state.scope.values)


def declare_args(state: StageState, instruction: ArgInstruction, expander: Expander) -> list[str]:
    """Declare ARG's names in the stage; returns its words as the history writes them."""
    words = []
    for spec in instruction.args:
        default = None if spec.value is None else expander.word(spec.value, spec.position)
        words.append(spec.key if default is None else f"{spec.key}={default}")
        if spec.key in state.scope.build_args:
            value: str | None = state.scope.build_args[spec.key]
        elif default is not None:
            value = default
        else:
            value = state.scope.global_args.get(spec.key)
        state.scope.declared_args[spec.key] = value
        if value is not None:
            state.scope.assign(spec.key, value)   # BuildKit's variables: an ARG's value beats an earlier ENV
    return words


def set_env(env: list[str], name: str, value: str) -> list[str]:
    """Replace ``name`` in place, or append it, as the classic builder does."""
    out = list(env)
    entry = f"{name}={value}"
    for index, item in enumerate(out):
        if item.partition("=")[0] == name:
            out[index] = entry
            return out
    out.append(entry)
    return out


def normalize_workdir(current: str, requested: str) -> str:
    if not requested:
        raise BuildError("cannot normalize nothing")
    joined = posixpath.join(current or "/", requested)
    cleaned = posixpath.normpath(joined)
    return "/" + cleaned.lstrip("/") if cleaned != "/" else "/"


def go_duration(seconds: float) -> str:
    """time.Duration.String() for a duration in seconds."""
    nanos = round(seconds * 1e9)
    if nanos == 0:
        return "0s"
    sign = "-" if nanos < 0 else ""
    nanos = abs(nanos)
    if nanos < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if nanos >= size:
                return sign + _trim_fraction(nanos, size) + unit
    hours, rest = divmod(nanos, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    text = _trim_fraction(rest, 10**9) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{text}"
    if minutes:
        return f"{sign}{minutes}m{text}"
    return sign + text


def _trim_fraction(value: int, unit: int) -> str:
    whole, fraction = divmod(value, unit)
    if not fraction:
        return str(whole)
    digits = len(str(unit)) - 1
    return f"{whole}.{str(fraction).rjust(digits, '0').rstrip('0')}"


def _go_rune(value: int) -> str:
    """fmt's %q of an int: a quoted Go rune literal."""
    char = chr(value)
    if char == "'":
        return "'\\''"
    if char.isprintable() and char != "\\":
        return f"'{char}'"
    if value < 0x100:
        named = {7: "\\a", 8: "\\b", 12: "\\f", 10: "\\n", 13: "\\r", 9: "\\t", 11: "\\v", 0x5C: "\\\\"}
        escaped = named.get(value, "\\x%02x" % value)
        return "'" + escaped + "'"
    return f"'\\u{value:04x}'"


def healthcheck_comment(check: dict[str, Any]) -> str:
    """``HEALTHCHECK %q`` of a *container.HealthConfig, as Go prints it."""
    test = check.get("Test") or []
    if list(test) == ["NONE"]:
        return f'HEALTHCHECK &{{{go_quote_list(list(test))} "0s" "0s" "0s" \'\\x00\'}}'
    durations = " ".join(go_quote(go_duration(check.get(key, 0) / 1e9))
                         for key in ("Interval", "Timeout", "StartPeriod"))
    return f"HEALTHCHECK &{{{go_quote_list(list(test))} {durations} {_go_rune(int(check.get('Retries', 0)))}}}"


def sorted_expose(instruction: Expose) -> Expose:
    """EXPOSE's words sorted as written, before expansion: the classic builder's parser sorts them."""
    return replace(instruction, ports=sorted(instruction.ports))


def _command_line(state: StageState, instruction: Cmd | Entrypoint) -> list[str]:
    if not instruction.shell_form:
        return list(instruction.command)
    text = " ".join(instruction.command)
    return [*state.shell, text] if text else []


@record
class MetaResult:
    """What a metadata instruction did: the new runConfig and its ``Cmd`` description."""

    config: dict[str, Any]
    command: tuple[str, ...]
    cmd_set: bool = False
    maintainer: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def apply_metadata(state: StageState, instruction: Instruction, filename: str = "Dockerfile") -> MetaResult:
    """Apply an instruction that changes the config only; ``instruction`` is already expanded.

    ENV must come through ``StageScope.apply_env`` first (it expands against
    the scope and updates it); ARG is handled by the executor for the same reason.
    """
    config = copy.deepcopy(state.config)
    shell = state.shell
    if isinstance(instruction, Env):
        env = list(config.get("Env") or [])
        words = []
        for pair in instruction.pairs:
            env = set_env(env, pair.key, pair.value)
            words.append(f"{pair.key}={pair.value}")
        config["Env"] = env
        return MetaResult(config, nop_command("ENV " + " ".join(words), shell=shell))
    if isinstance(instruction, Label):
        labels = dict(config.get("Labels") or {})
        words = []
        for pair in instruction.pairs:
            labels[pair.key] = pair.value
            words.append(f"{pair.key}={pair.value}")
        config["Labels"] = labels
        return MetaResult(config, nop_command("LABEL " + " ".join(words), shell=shell))
    if isinstance(instruction, Maintainer):
        return MetaResult(config, nop_command("MAINTAINER " + instruction.maintainer, shell=shell),
                          maintainer=instruction.maintainer)
    if isinstance(instruction, Cmd):
        line = _command_line(state, instruction)
        config["Cmd"] = line
        return MetaResult(config, nop_command(f"CMD {go_quote_list(line)}", shell=shell), cmd_set=bool(line))
    if isinstance(instruction, Entrypoint):
        line = _command_line(state, instruction)
        config["Entrypoint"] = line
        if not state.cmd_set:
            # A new ENTRYPOINT drops the CMD inherited from the base (not one set in this stage).
            config["Cmd"] = None
        return MetaResult(config, nop_command(f"ENTRYPOINT {go_quote_list(line)}", shell=shell))
    if isinstance(instruction, Workdir):
        config["WorkingDir"] = normalize_workdir(config.get("WorkingDir") or "", instruction.path)
        return MetaResult(config, nop_command_string("WORKDIR " + config["WorkingDir"], shell=shell))
    if isinstance(instruction, User):
        config["User"] = instruction.user
        return MetaResult(config, nop_command("USER " + instruction.user, shell=shell))
    if isinstance(instruction, Expose):
        ports = dict(config.get("ExposedPorts") or {})
        for word in instruction.ports:
            try:
                names = expose_ports(word)
            except PortError as error:
                raise DockerfileError(f"EXPOSE: {error}", filename=filename, line=instruction.line) from None
            for name in names:
                ports.setdefault(name, {})
        config["ExposedPorts"] = ports
        # The description keeps the ports as written (in the order ``sorted_expose`` put them).
        return MetaResult(config, nop_command("EXPOSE " + " ".join(instruction.ports), shell=shell))
    if isinstance(instruction, Volume):
        volumes = dict(config.get("Volumes") or {})
        for volume in instruction.volumes:
            volumes[volume.strip()] = {}
        config["Volumes"] = volumes
        return MetaResult(config, nop_command(f"VOLUME [{' '.join(instruction.volumes)}]", shell=shell))
    if isinstance(instruction, StopSignal):
        config["StopSignal"] = instruction.signal
        return MetaResult(config, nop_command("STOPSIGNAL " + instruction.signal, shell=shell))
    if isinstance(instruction, Shell):
        config["Shell"] = list(instruction.shell)
        # The classic builder changes the shell first, so SHELL's own description starts with the new one.
        return MetaResult(config, nop_command(f"SHELL [{' '.join(instruction.shell)}]", shell=tuple(instruction.shell)))
    if isinstance(instruction, Healthcheck):
        check: dict[str, Any] = {"Test": list(instruction.test)}
        if instruction.test != ["NONE"]:
            for key, seconds in (("Interval", instruction.interval), ("Timeout", instruction.timeout),
                                 ("StartPeriod", instruction.start_period)):
                if seconds:
                    check[key] = round(seconds * 1e9)
            if instruction.retries:
                check["Retries"] = instruction.retries
        config["Healthcheck"] = check
        return MetaResult(config, nop_command(healthcheck_comment(check), shell=shell))
    if isinstance(instruction, OnBuild):
        triggers = list(config.get("OnBuild") or [])
        triggers.append(instruction.expression)
        config["OnBuild"] = triggers
        return MetaResult(config, nop_command("ONBUILD " + instruction.expression, shell=shell))
    raise BuildError(f"{instruction.name or type(instruction).__name__} is not a metadata instruction")


__all__ = ["CONTAINER_CONFIG_DEFAULTS", "KEY_FIELDS", "MetaResult", "StageState", "apply_metadata", "buildkit_variables", "classic_variables",
           "declare_args", "full_config",
           "go_duration", "healthcheck_comment", "normalize_workdir", "set_env", "sorted_expose"]
