"""Typed instructions from the syntax tree: flags checked, arguments validated, positions kept.

``instructions_from_ast(ast)`` gives the global (meta) ARGs and the stages, as BuildKit's
``instructions.Parse`` does; the instruction types live in ``instructions``.
"""

from __future__ import annotations

import re

from layerlab.engine.dockerfile.ast import DockerfileAST, Node, Position
from layerlab.engine.dockerfile.flags import FlagError, FlagType, ParsedFlags, parse_flags, suggest
from layerlab.engine.dockerfile.gotext import parse_go_duration
from layerlab.engine.dockerfile.heredocs import parse_heredoc
from layerlab.engine.dockerfile.instructions import (
    Add, ArgInstruction, ArgSpec, Cmd, Copy, Dockerfile, Entrypoint, Env, Expose, Healthcheck, Instruction, KeyValue,
    Label, Maintainer, OnBuild, Run, Shell, SourceContent, Stage, StopSignal, User, Volume, Workdir,
)
from layerlab.engine.errors import DockerfileError

_STAGE_NAME = re.compile(r"[a-z][a-z0-9-_.]*\Z")


ALL_INSTRUCTIONS = ("add", "arg", "cmd", "copy", "entrypoint", "env", "expose", "from", "healthcheck", "label",
                    "maintainer", "onbuild", "run", "shell", "stopsignal", "user", "volume", "workdir")

_COPY_FLAGS = {"chown": FlagType.STRING, "chmod": FlagType.STRING, "link": FlagType.BOOL,
               "exclude": FlagType.STRINGS}
_FLAG_SPECS: dict[str, dict[str, FlagType]] = {
    "from": {"platform": FlagType.STRING},
    "copy": {**_COPY_FLAGS, "from": FlagType.STRING, "parents": FlagType.BOOL},
    "add": {**_COPY_FLAGS, "keep-git-dir": FlagType.BOOL, "checksum": FlagType.STRING, "unpack": FlagType.BOOL},
    "run": {"mount": FlagType.STRINGS, "network": FlagType.STRING, "security": FlagType.STRING,
            "device": FlagType.STRINGS},
    "healthcheck": {"interval": FlagType.STRING, "timeout": FlagType.STRING, "start-period": FlagType.STRING,
                    "start-interval": FlagType.STRING, "retries": FlagType.STRING},
}


class _InstructionError(Exception):
    def __init__(self, message: str, position: Position | None = None):
        super().__init__(message)
        self.message = message
        self.position = position


def _flags(node: Node) -> ParsedFlags:
    try:
        return parse_flags(node.flags, _FLAG_SPECS.get(node.instruction, {}))
    except FlagError as error:
        raise _InstructionError(error.message, error.position) from None


def _base(node: Node) -> dict:
    return {"position": node.position, "end_line": node.end_line, "original": node.original}


def _exactly_one(node: Node, name: str) -> str:
    if len(node.args) != 1:
        raise _InstructionError(f"{name} requires exactly one argument")
    return node.args[0].value


def _at_least_one(node: Node, name: str) -> None:
    if not node.args:
        raise _InstructionError(f"{name} requires at least one argument")


def _key_values(node: Node, name: str) -> list[KeyValue]:
    if not node.args:
        raise _InstructionError(f"{name} requires at least one argument")
    if len(node.args) % 3:
        raise _InstructionError(f"{name} has too many arguments")
    pairs = []
    for i in range(0, len(node.args), 3):
        key, value = node.args[i], node.args[i + 1]
        if not key.value:
            raise _InstructionError(f"{name} names can not be blank", key.position)
        pairs.append(KeyValue(key.value, value.value, key.position))
    return pairs


def _sources_and_dest(node: Node, name: str) -> dict:
    if len(node.args) < 2:
        raise _InstructionError(f"{name} requires at least two arguments, but only one was provided. "
                                "Destination could not be determined")
    dest = node.args[-1]
    if parse_heredoc(dest.value) is not None:
        raise _InstructionError(f"{name} cannot accept a heredoc as a destination", dest.position)
    by_name = {h.name: h for h in node.heredocs}
    sources, positions, contents = [], [], []
    for arg in node.args[:-1]:
        heredoc = parse_heredoc(arg.value) if node.heredocs else None
        if heredoc is not None:
            body = by_name.get(heredoc.name, heredoc)
            contents.append(SourceContent(heredoc.name, body.chomped_content() if heredoc.chomp else body.content,
                                          heredoc.expand))
        else:
            sources.append(arg.value)
            positions.append(arg.position)
    return {"sources": sources, "source_positions": positions, "dest": dest.value, "dest_position": dest.position,
            "source_contents": contents}


def _command_line(node: Node) -> dict:
    return {"command": node.arg_values, "shell_form": not node.json_form, "heredocs": list(node.heredocs)}




def _interval(parsed: ParsedFlags, name: str) -> float:
    value = parsed.string(name)
    if not value:
        return 0.0
    try:
        seconds = parse_go_duration(value)
    except ValueError as error:
        raise _InstructionError(str(error), parsed.positions.get(name)) from None
    if seconds == 0:
        return 0.0
    if seconds < 0.001:
        raise _InstructionError(f'Interval "{name}" cannot be less than 1ms', parsed.positions.get(name))
    return seconds


def _healthcheck(node: Node) -> Healthcheck:
    if not node.args:
        raise _InstructionError("HEALTHCHECK requires at least one argument")
    kind = node.args[0].value.upper()
    rest = node.arg_values[1:]
    if kind == "NONE":
        if rest:
            raise _InstructionError("HEALTHCHECK NONE takes no arguments")
        return Healthcheck(**_base(node), test=["NONE"])
    parsed = _flags(node)
    if kind != "CMD":
        raise _InstructionError(f'Unknown type "{kind}" in HEALTHCHECK (try CMD)', node.args[0].position)
    if not rest:
        raise _InstructionError("Missing command after HEALTHCHECK CMD")
    test = ["CMD", *rest] if node.json_form else ["CMD-SHELL", *rest]
    retries = 0
    if parsed.string("retries"):
        try:
            retries = int(parsed.string("retries"), 10)
        except ValueError:
            raise _InstructionError(f'strconv.ParseInt: parsing "{parsed.string("retries")}": invalid syntax',
                                    parsed.positions.get("retries")) from None
        if retries < 0:
            raise _InstructionError(f"--retries cannot be negative ({retries})", parsed.positions.get("retries"))
    return Healthcheck(**_base(node), test=test, interval=_interval(parsed, "interval"),
                       timeout=_interval(parsed, "timeout"), start_period=_interval(parsed, "start-period"),
                       start_interval=_interval(parsed, "start-interval"), retries=retries)


def _arg(node: Node) -> ArgInstruction:
    if not node.args:
        raise _InstructionError("ARG requires at least one argument")
    specs = []
    for arg in node.args:
        key, sep, value = arg.value.partition("=")
        if not key:
            raise _InstructionError("ARG names can not be blank", arg.position)
        # The default keeps its quotes here; expansion removes them.
        specs.append(ArgSpec(key, value if sep else None, arg.position))
    _flags(node)
    return ArgInstruction(**_base(node), args=specs)


def _onbuild(node: Node, filename: str) -> OnBuild:
    if not node.args or node.args[0].sub is None:
        raise _InstructionError("ONBUILD requires at least one argument")
    _flags(node)
    inner = node.args[0].sub
    trigger_name = inner.instruction.upper()
    if trigger_name == "ONBUILD":
        raise _InstructionError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", inner.position)
    if trigger_name in ("MAINTAINER", "FROM"):
        raise _InstructionError(f"{trigger_name} isn't allowed as an ONBUILD trigger", inner.position)
    expression = re.sub(r"(?i)^\s*ONBUILD\s*", "", node.original, count=1)
    for heredoc in node.heredocs:
        expression += "\n" + heredoc.content + heredoc.name
    inner.heredocs = list(node.heredocs)
    trigger = parse_instruction(inner, filename)
    return OnBuild(**_base(node), expression=expression, trigger=trigger)


def parse_instruction(node: Node, filename: str = "Dockerfile") -> Instruction | Stage:
    """One node as a typed instruction (a Stage for FROM); raises DockerfileError at its position."""
    try:
        return _parse_instruction(node, filename)
    except _InstructionError as error:
        position = error.position or node.position
        raise DockerfileError(error.message, filename=filename, line=position.line,
                              column=position.column) from None


def _parse_instruction(node: Node, filename: str) -> Instruction | Stage:
    kind = node.instruction
    if kind == "from":
        return _from(node)
    if kind == "healthcheck":
        return _healthcheck(node)
    if kind == "arg":
        return _arg(node)
    if kind == "onbuild":
        return _onbuild(node, filename)
    if kind not in ALL_INSTRUCTIONS:
        message = f"unknown instruction: {node.value}"
        suggestion = suggest(node.value, [name.upper() for name in ALL_INSTRUCTIONS], case_insensitive=True)
        if suggestion:
            message += f" (did you mean {suggestion.lower() if node.value.islower() else suggestion}?)"
        raise _InstructionError(message)
    parsed = _flags(node)
    base = _base(node)
    if kind == "env":
        return Env(**base, pairs=_key_values(node, "ENV"))
    if kind == "label":
        return Label(**base, pairs=_key_values(node, "LABEL"))
    if kind == "maintainer":
        return Maintainer(**base, maintainer=_exactly_one(node, "MAINTAINER"))
    if kind in ("copy", "add"):
        common = {**base, **_sources_and_dest(node, kind.upper()), "chown": parsed.string("chown"),
                  "chmod": parsed.string("chmod"), "link": parsed.boolean("link"),
                  "excludes": parsed.strings("exclude"), "flag_positions": dict(parsed.positions)}
        if kind == "copy":
            return Copy(**common, from_=parsed.string("from"), parents=parsed.boolean("parents"))
        unpack = parsed.boolean("unpack") if parsed.used("unpack") else None
        return Add(**common, keep_git_dir=parsed.boolean("keep-git-dir"), checksum=parsed.string("checksum"),
                   unpack=unpack)
    if kind == "run":
        return Run(**base, **_command_line(node), mounts=parsed.strings("mount"), network=parsed.string("network"),
                   security=parsed.string("security"), devices=parsed.strings("device"))
    if kind == "cmd":
        return Cmd(**base, **_command_line(node))
    if kind == "entrypoint":
        return Entrypoint(**base, **_command_line(node))
    if kind == "shell":
        if not node.json_form:
            raise _InstructionError("SHELL requires the arguments to be in JSON form")
        _at_least_one(node, "SHELL")
        return Shell(**base, shell=node.arg_values)
    if kind == "workdir":
        return Workdir(**base, path=_exactly_one(node, "WORKDIR"))
    if kind == "user":
        return User(**base, user=_exactly_one(node, "USER"))
    if kind == "stopsignal":
        return StopSignal(**base, signal=_exactly_one(node, "STOPSIGNAL"))
    if kind == "expose":
        _at_least_one(node, "EXPOSE")
        return Expose(**base, ports=sorted(node.arg_values))
    if kind == "volume":
        _at_least_one(node, "VOLUME")
        for arg in node.args:
            if not arg.value:
                raise _InstructionError("VOLUME specified can not be an empty string", arg.position)
        return Volume(**base, volumes=node.arg_values)
    raise _InstructionError(f"unknown instruction: {node.value}")  # unreachable: every name handled above


def _from(node: Node) -> Stage:
    args = node.args
    name = ""
    if len(args) == 3 and args[1].value.lower() == "as":
        name = args[2].value.lower()
        if not _STAGE_NAME.match(name):
            raise _InstructionError(f'invalid name for build stage: "{args[2].value}", name can\'t start with a '
                                    "number or contain symbols", args[2].position)
    elif len(args) != 1:
        raise _InstructionError("FROM requires either one or three arguments")
    parsed = _flags(node)
    return Stage(base_name=args[0].value, name=name, platform=parsed.string("platform"), position=node.position,
                 original=node.original.strip(), index=-1, base_position=args[0].position,
                 platform_position=parsed.positions.get("platform"),
                 comment=_stage_comment(node.comments, name))


def _stage_comment(comments: list[str], name: str) -> str:
    """A comment just above ``FROM … AS name`` that starts with the name describes the stage."""
    if name and comments:
        last = comments[-1]
        if last.split(" ", 1)[0].lower() == name:
            return last
    return ""


def instructions_from_ast(ast: DockerfileAST) -> Dockerfile:
    """Global ARGs and stages, every instruction checked; raises DockerfileError at the culprit."""
    meta_args: list[ArgInstruction] = []
    stages: list[Stage] = []
    for node in ast.children:
        parsed = parse_instruction(node, ast.filename)
        if isinstance(parsed, Stage):
            parsed.index = len(stages)
            stages.append(parsed)
        elif not stages:
            if isinstance(parsed, ArgInstruction):
                meta_args.append(parsed)
            else:
                raise DockerfileError("no build stage in current context", filename=ast.filename,
                                      line=node.start_line, column=node.column)
        else:
            stages[-1].commands.append(parsed)
    return Dockerfile(meta_args=meta_args, stages=stages, escape_token=ast.escape_token, filename=ast.filename)
