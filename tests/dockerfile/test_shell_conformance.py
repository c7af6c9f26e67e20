"""BuildKit's own shell-lexer fixtures: every platform-neutral (A) and Unix (U) line."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerlab.engine.dockerfile.shell_lex import ShellLex
from layerlab.engine.errors import DockerfileError

FIXTURES = Path(__file__).resolve().parent.parent / "conformance" / "dockerfile-shell"
# The environment lex_test.go gives the envVarTest cases.
ENV_VAR_TEST_ENV = {"PWD": "/home", "SHELL": "bash", "KOREAN": "한국어", "NULL": ""}


def _env_var_cases() -> list[tuple[int, str, str]]:
    cases = []
    for number, line in enumerate((FIXTURES / "envVarTest").read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        platform, source, expected = (part.strip() for part in line.split("|"))
        if platform in ("A", "U"):
            cases.append((number, source, expected))
    return cases


def _words_cases() -> list[tuple[int, str, str, dict[str, str]]]:
    """wordsTest: 'input | a,b' lines; 'ENV k=v' lines change the environment (raw, spaces kept)."""
    env: dict[str, str] = {}
    cases = []
    for number, line in enumerate((FIXTURES / "wordsTest").read_text(encoding="utf-8").split("\n"), 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.startswith("ENV "):
            key, _, value = line[4:].partition("=")
            env[key] = value
            continue
        source, expected = line.split("|")
        # lex_test.go trims only leading spaces of the expectation: trailing ones matter.
        cases.append((number, source.strip(), expected.lstrip(" "), dict(env)))
    return cases


ENV_VAR_CASES = _env_var_cases()
WORDS_CASES = _words_cases()


def test_fixture_counts_are_complete():
    # If the fixture files were truncated the parametrised tests would shrink silently.
    assert len(ENV_VAR_CASES) > 180
    assert len(WORDS_CASES) == 24


@pytest.mark.parametrize("number,source,expected", ENV_VAR_CASES, ids=[str(c[0]) for c in ENV_VAR_CASES])
def test_env_var_fixture_line(number, source, expected):
    lex = ShellLex("\\")
    if expected == "error":
        with pytest.raises(DockerfileError):
            lex.process_word(source, ENV_VAR_TEST_ENV)
    else:
        assert lex.process_word(source, ENV_VAR_TEST_ENV) == expected


@pytest.mark.parametrize("number,source,expected,env", WORDS_CASES, ids=[str(c[0]) for c in WORDS_CASES])
def test_words_fixture_line(number, source, expected, env):
    lex = ShellLex("\\")
    if expected == "error":
        with pytest.raises(DockerfileError):
            lex.process_words(source, env)
    else:
        assert lex.process_words(source, env) == expected.split(",")
