"""Random and mutated Dockerfiles: the frontend returns a result or raises DockerfileError, nothing else."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from layerlab.engine.dockerfile import DockerfileAST, instructions_from_ast, parse_dockerfile
from layerlab.engine.dockerfile.args import StageScope, resolve_global_args
from layerlab.engine.dockerfile.dockerignore import Matcher, read_ignore_file
from layerlab.engine.dockerfile.instructions import ArgInstruction, Env
from layerlab.engine.dockerfile.lint import lint
from layerlab.engine.dockerfile.shell_lex import ShellLex
from layerlab.engine.errors import DockerfileError

FIXTURES = Path(__file__).resolve().parent.parent / "conformance" / "dockerfile-parser"
SEEDS = [p.read_bytes() for p in sorted(FIXTURES.glob("testfiles*/*/Dockerfile"))]

# Characters that matter to the grammar, plus a little of everything else.
SYNTAX = st.sampled_from(list("\\`#$'\"{}[]:=-+?%/!<> \t\n\r,*") + ["--", "<<", "<<-", "EOF", "${", "\ufeff"])
WORDS = st.sampled_from(["FROM", "RUN", "COPY", "ADD", "ENV", "ARG", "LABEL", "ONBUILD", "HEALTHCHECK", "CMD",
                         "ENTRYPOINT", "SHELL", "EXPOSE", "VOLUME", "USER", "WORKDIR", "STOPSIGNAL", "MAINTAINER",
                         "NONE", "AS", "--from=", "--chown=", "--mount=", "# escape=`", "# syntax=x", "alpine",
                         '["a", "b"]', "[1]", "a=b", "\n"])
DOCKERFILE_TEXT = st.lists(st.one_of(SYNTAX, WORDS, st.text(max_size=4)), max_size=60).map("".join)

settings.register_profile("dockerfile", max_examples=300, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
SETTINGS = settings.get_profile("dockerfile")


def exercise(data: str | bytes) -> None:
    """Everything a build would do with the text: parse, type, expand, lint."""
    try:
        ast = parse_dockerfile(data)
    except DockerfileError as error:
        assert error.message and error.line >= 0
        return
    assert isinstance(ast, DockerfileAST) and ast.children
    line_count = len(ast.source_lines)
    for node in ast.children:
        assert 1 <= node.start_line <= node.end_line <= line_count
        assert node.column >= 1
        for arg in node.args:
            assert 1 <= arg.position.line <= line_count and arg.position.column >= 1
    ast.dump()
    try:
        dockerfile = instructions_from_ast(ast)
        lint(dockerfile)
        global_args = resolve_global_args(dockerfile.meta_args, {})
        for stage in dockerfile.stages:
            scope = StageScope.for_stage(global_args, {})
            for command in stage.commands:
                if isinstance(command, ArgInstruction):
                    scope.declare(command)
                elif isinstance(command, Env):
                    scope.apply_env(command)
                else:
                    command.expand(scope.expander())
    except DockerfileError as error:
        assert error.line >= 0


@SETTINGS
@given(DOCKERFILE_TEXT)
def test_random_text(text):
    exercise(text)


@st.composite
def mutated_fixture(draw):
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 8))):
        choice = draw(st.integers(0, 3))
        position = draw(st.integers(0, len(data)))
        if choice == 0 and data:
            del data[min(position, len(data) - 1)]
        elif choice == 1:
            data[position:position] = draw(SYNTAX).encode()
        elif choice == 2:
            data[position:position] = draw(WORDS).encode()
        else:
            data[position:position] = draw(st.binary(max_size=3))  # invalid UTF-8 too
    return bytes(data)


@SETTINGS
@given(mutated_fixture())
def test_mutated_fixtures(data):
    exercise(data)


@SETTINGS
@given(st.text(max_size=40), st.dictionaries(st.sampled_from(["a", "PWD", "x_1", "NULL"]), st.text(max_size=5)))
def test_shell_lex_on_anything(word, env):
    for escape in ("\\", "`"):
        try:
            ShellLex(escape).process_words(word, env)
        except DockerfileError:
            pass


@SETTINGS
@given(st.lists(st.text(alphabet="ab*?[]^!\\/.-# \n", max_size=8), max_size=5), st.text(alphabet="ab/.", max_size=8))
def test_dockerignore_on_anything(lines, path):
    try:
        matcher = Matcher(read_ignore_file("\n".join(lines)))
    except DockerfileError:
        return
    try:
        assert isinstance(matcher.matches(path), bool)
        matcher.excludes_dir_entirely(path or ".")
    except DockerfileError:
        pass
