"""BuildKit's parser fixtures: every positive case dumps exactly its `result`, every negative case fails."""

from __future__ import annotations

from pathlib import Path

import pytest

from layerlab.engine.dockerfile.parser import parse_dockerfile
from layerlab.engine.errors import DockerfileError

FIXTURES = Path(__file__).resolve().parent.parent / "conformance" / "dockerfile-parser"
POSITIVE = sorted(p.name for p in (FIXTURES / "testfiles").iterdir())
NEGATIVE = sorted(p.name for p in (FIXTURES / "testfiles-negative").iterdir())


def test_fixture_sets_are_complete():
    assert len(POSITIVE) == 33
    assert len(NEGATIVE) == 4


@pytest.mark.parametrize("case", POSITIVE)
def test_positive_case_dump_matches_result(case):
    directory = FIXTURES / "testfiles" / case
    ast = parse_dockerfile((directory / "Dockerfile").read_bytes())
    expected = (directory / "result").read_bytes().decode("utf-8")
    assert ast.dump() + "\n" == expected


@pytest.mark.parametrize("case", NEGATIVE)
def test_negative_case_fails(case):
    with pytest.raises(DockerfileError):
        parse_dockerfile((FIXTURES / "testfiles-negative" / case / "Dockerfile").read_bytes())


def test_line_numbers_of_the_line_fixture():
    # TestParseIncludesLineNumbers expects exactly these (start, end) lines.
    ast = parse_dockerfile((FIXTURES / "testfile-line" / "Dockerfile").read_bytes())
    assert [(c.start_line, c.end_line) for c in ast.children] == [(5, 5), (11, 12), (17, 31)]
    # Positions inside continuations point at the physical line the text came from.
    env = ast.children[1]
    assert [(a.value, a.position.line, a.position.column) for a in env.args[:2]] == [("GOPATH", 11, 5), ("/go", 12, 1)]
    assert ast.warnings and "empty continuation line" in ast.warnings[0]
