"""Typed instructions, flag checks, expansion and ARG scoping."""

from __future__ import annotations

import pytest

from layerlab.engine.dockerfile import load_dockerfile
from layerlab.engine.dockerfile.args import (Platform, StageScope, expand_from, platform_args, resolve_global_args)
from layerlab.engine.dockerfile.instructions import (Add, ArgInstruction, Copy, Env, Expose, Healthcheck, Maintainer, OnBuild,
                                            Run, Shell, User, Volume, Workdir)
from layerlab.engine.dockerfile.gotext import parse_go_duration
from layerlab.engine.errors import DockerfileError


def stage_commands(text: str):
    return load_dockerfile(text).stages[0].commands


def test_every_instruction_becomes_its_dataclass():
    commands = stage_commands(
        "FROM a AS Build\n"
        "MAINTAINER me\n"
        "RUN --mount=type=cache,target=/c --network=none make\n"
        'CMD ["run"]\n'
        "ENTRYPOINT x y\n"
        'SHELL ["/bin/bash", "-c"]\n'
        "WORKDIR /w\nUSER u:g\nSTOPSIGNAL SIGTERM\nEXPOSE 443 80/udp\nVOLUME /a /b\n"
        "LABEL a=b\nENV k=v\nARG x=1 y\n"
        "ADD --checksum=sha256:abc --keep-git-dir https://x/y.git /src\n"
        "COPY --from=build --parents --exclude=*.md a b /dst/\n"
        "HEALTHCHECK --interval=1m30s --retries=3 CMD [\"true\"]\n"
        "ONBUILD RUN echo child\n")
    kinds = [type(c).__name__ for c in commands]
    assert kinds == ["Maintainer", "Run", "Cmd", "Entrypoint", "Shell", "Workdir", "User", "StopSignal", "Expose",
                     "Volume", "Label", "Env", "ArgInstruction", "Add", "Copy", "Healthcheck", "OnBuild"]
    run = commands[1]
    assert isinstance(run, Run) and run.mounts == ["type=cache,target=/c"] and run.network == "none"
    assert run.shell_form and run.command == ["make"]
    assert commands[2].shell_form is False and commands[2].command == ["run"]
    assert isinstance(commands[4], Shell) and commands[4].shell == ["/bin/bash", "-c"]
    assert isinstance(commands[8], Expose) and commands[8].ports == ["443", "80/udp"]
    arg = commands[12]
    assert isinstance(arg, ArgInstruction) and [(s.key, s.value) for s in arg.args] == [("x", "1"), ("y", None)]
    add = commands[13]
    assert isinstance(add, Add) and add.checksum == "sha256:abc" and add.keep_git_dir and add.unpack is None
    copy = commands[14]
    assert isinstance(copy, Copy) and copy.from_ == "build" and copy.parents and copy.excludes == ["*.md"]
    assert copy.sources == ["a", "b"] and copy.dest == "/dst/"
    health = commands[15]
    assert isinstance(health, Healthcheck) and health.test == ["CMD", "true"]
    assert (health.interval, health.retries) == (90.0, 3)
    onbuild = commands[16]
    assert isinstance(onbuild, OnBuild) and onbuild.expression == "RUN echo child" and isinstance(onbuild.trigger, Run)
    assert load_dockerfile("FROM a AS Build\n").stages[0].name == "build"


def test_healthcheck_none_and_shell_form():
    none, shell = stage_commands("FROM a\nHEALTHCHECK NONE\nHEALTHCHECK CMD curl -f x || exit 1\n")
    assert none.test == ["NONE"] and shell.test == ["CMD-SHELL", "curl -f x || exit 1"]


@pytest.mark.parametrize("text,message,column", [
    ("FROM a\nCOPY --chwn=1 a b\n", "unknown flag: chwn (did you mean chown?)", 6),
    ("FROM a\nCOPY --chown a b\n", "missing a value on flag: chown", 6),
    ("FROM a\nCOPY --link=maybe a b\n", "expecting boolean value for flag link, not: maybe", 6),
    ("FROM a\nCOPY --from=x --from=y a b\n", "duplicate flag specified: from", 15),
    ("FROM a\nCOPY onlyone\n", "COPY requires at least two arguments", 1),
    ("FROM a\nWORKDIR\n", "WORKDIR requires exactly one argument", 1),
    ("FROM a\nSHELL /bin/sh -c\n", "SHELL requires the arguments to be in JSON form", 1),
    ("FROM a\nHEALTHCHECK --interval=1us CMD x\n", 'Interval "interval" cannot be less than 1ms', 13),
    ("FROM a\nHEALTHCHECK NONE x\n", "HEALTHCHECK NONE takes no arguments", 1),
    ("FROM a\nHEALTHCHECK BAD x\n", 'Unknown type "BAD" in HEALTHCHECK (try CMD)', 13),
    ("FROM a\nONBUILD ONBUILD RUN x\n", "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed", 9),
    ("FROM a\nONBUILD MAINTAINER me\n", "MAINTAINER isn't allowed as an ONBUILD trigger", 9),
    ("FROM a\nFRM b\n", "unknown instruction: FRM (did you mean FROM?)", 1),
    ("FROM a b\n", "FROM requires either one or three arguments", 1),
    ("FROM a AS 1st\n", "invalid name for build stage", 11),
    ("RUN x\n", "no build stage in current context", 1),
    ("FROM a\nRUN --bogus x\n", "unknown flag: bogus", 5),
])
def test_instruction_errors_carry_message_and_position(text, message, column):
    with pytest.raises(DockerfileError) as info:
        load_dockerfile(text)
    assert message in info.value.message
    assert info.value.line == text.count("\n")
    assert info.value.column == column
    assert info.value.source_line is not None


def test_heredoc_as_destination_is_refused():
    with pytest.raises(DockerfileError, match="cannot accept a heredoc as a destination") as info:
        load_dockerfile("FROM a\nCOPY a <<EOF\nbody\nEOF\n")
    assert (info.value.line, info.value.column) == (2, 8)


def test_go_durations():
    assert parse_go_duration("1h2m3.5s") == pytest.approx(3723.5)
    assert parse_go_duration("250ms") == pytest.approx(0.25)
    assert parse_go_duration("0") == 0
    for bad in ("", "5", "s", "1x"):
        with pytest.raises(ValueError):
            parse_go_duration(bad)


def dispatch(text: str, build_args=None, base_env=None):
    """Run a stage's instructions through scoping and expansion, as a build would."""
    dockerfile = load_dockerfile(text)
    build_args = build_args or {}
    global_args = resolve_global_args(dockerfile.meta_args, build_args,
                                      platform_args(Platform("linux", "arm64"), Platform("linux", "amd64")))
    stage = dockerfile.stages[0]
    scope = StageScope.for_stage(global_args, build_args, base_env)
    expanded = []
    for command in stage.commands:
        if isinstance(command, ArgInstruction):
            scope.declare(command)
            expanded.append(command)
        elif isinstance(command, Env):
            expanded.append(scope.apply_env(command))
        else:
            expanded.append(command.expand(scope.expander()))
    return expand_from(stage, global_args), scope, expanded


def test_global_args_only_in_from_until_redeclared():
    from_line, scope, expanded = dispatch(
        "ARG V=3.19\nARG IMG=alpine:$V\nFROM --platform=$BUILDPLATFORM $IMG\n"
        "WORKDIR /$V\nARG V\nWORKDIR /$V\n")
    assert (from_line.base_name, from_line.platform) == ("alpine:3.19", "linux/arm64")
    assert expanded[0].path == "/"  # not yet declared in the stage
    assert expanded[2].path == "/3.19"


def test_build_arg_wins_and_default_is_not_evaluated():
    _, scope, expanded = dispatch('FROM a\nARG X="${UNSET:?needs a value}"\nUSER $X\n', {"X": "given"})
    assert expanded[1].user == "given"
    with pytest.raises(DockerfileError, match="UNSET: needs a value") as info:
        dispatch('FROM a\nARG X="${UNSET:?needs a value}"\n')
    assert info.value.line == 2


def test_env_after_arg_wins_and_arg_after_inherited_env_wins():
    _, scope, expanded = dispatch("FROM a\nARG V=arg\nENV V=env\nWORKDIR /$V\n", {"V": "cli"})
    assert expanded[2].path == "/env"
    _, scope, expanded = dispatch("FROM a\nARG V=arg\nWORKDIR /$V\n", base_env={"V": "base"})
    assert expanded[1].path == "/arg"
    assert scope.config_env == {"V": "base"}  # ARG values never reach the image config


def test_one_instruction_sees_values_from_before_it():
    _, scope, expanded = dispatch("FROM a\nENV a=1\nENV a=2 b=$a\nLABEL a=$a b=${b}\n")
    assert [(p.key, p.value) for p in expanded[1].pairs] == [("a", "2"), ("b", "1")]
    assert [(p.key, p.value) for p in expanded[2].pairs] == [("a", "2"), ("b", "1")]


def test_platform_args_and_proxies():
    _, scope, _ = dispatch("FROM a\nARG TARGETARCH\nARG HTTP_PROXY\n", {"https_proxy": "http://p:3128"})
    assert scope.cache_args() == {"TARGETARCH": "amd64"}
    env = scope.run_env()
    assert env["TARGETARCH"] == "amd64" and env["https_proxy"] == "http://p:3128"
    assert "https_proxy" not in scope.cache_args()


def test_expansion_forms_in_copy_expose_volume():
    _, _, expanded = dispatch(
        'FROM a\nENV dir=/srv/app.tar.gz ports="80 443"\n'
        "COPY --chown=${U:-1000} ${dir%.tar.gz}/ ${dir##*/}\n"
        "EXPOSE $ports\nVOLUME ${dir/srv/data}\n")
    copy = expanded[1]
    assert (copy.chown, copy.sources, copy.dest) == ("1000", ["/srv/app/"], "app.tar.gz")
    assert expanded[2].ports == ["80", "443"]
    assert expanded[3].volumes == ["/data/app.tar.gz"]


def test_copy_heredoc_body_expands_unless_delimiter_quoted():
    _, _, expanded = dispatch(
        "FROM a\nENV N=world\nCOPY <<a.txt <<'b.txt' /d/\nhello \"$N\"\na.txt\nraw $N\nb.txt\n")
    contents = {c.path: c.data for c in expanded[1].source_contents}
    assert contents == {"a.txt": 'hello "world"\n', "b.txt": "raw $N\n"}


def test_user_and_workdir_keep_quotes_removed():
    _, _, expanded = dispatch('FROM a\nWORKDIR "/a b"\nUSER \'x\'\n')
    assert isinstance(expanded[0], Workdir) and expanded[0].path == "/a b"
    assert isinstance(expanded[1], User) and expanded[1].user == "x"


def test_maintainer_and_volume_json():
    commands = stage_commands('FROM a\nMAINTAINER Jane <j@x>\nVOLUME ["/v 1", "/v2"]\n')
    assert isinstance(commands[0], Maintainer) and commands[0].maintainer == "Jane <j@x>"
    assert isinstance(commands[1], Volume) and commands[1].volumes == ["/v 1", "/v2"]


def test_copy_from_refuses_variables():
    with pytest.raises(DockerfileError, match="variable expansion is not supported for --from") as info:
        dispatch("FROM a\nARG S=build\nCOPY --from=$S /x /y\n")
    assert (info.value.line, info.value.column) == (3, 6)
    _, _, expanded = dispatch("FROM a\nCOPY --from=build /x /y\n")
    assert expanded[0].from_ == "build"
