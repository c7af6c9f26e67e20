"""The `layerlab dockerfile` commands, run through the real CLI entry point."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from layerlab.cli.main import main

FIXTURES = Path(__file__).resolve().parent.parent / "conformance" / "dockerfile-parser" / "testfiles"


def run(argv, capsys, tmp_path):
    code = main(["--root", str(tmp_path / "root"), *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_dump_prints_buildkit_format(capsys, tmp_path):
    code, out, err = run(["dockerfile", "dump", str(FIXTURES / "flags" / "Dockerfile")], capsys, tmp_path)
    assert code == 0
    assert out == (FIXTURES / "flags" / "result").read_text()


def test_parse_error_is_three_lines_and_exit_1(capsys, tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM a\n\nCOPY --from= x\n")
    code, out, err = run(["dockerfile", "lint", str(dockerfile)], capsys, tmp_path)
    assert code == 1 and out == ""
    assert err.splitlines() == [f"{dockerfile}:3:1: COPY requires at least two arguments, but only one was "
                                "provided. Destination could not be determined", "COPY --from= x", "^"]
    assert "Traceback" not in err


def test_lint_exit_codes_and_strict(capsys, tmp_path):
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM alpine\nRUN apk add --no-cache curl\n")
    code, out, _ = run(["dockerfile", "lint", str(dockerfile)], capsys, tmp_path)
    assert code == 0 and out.startswith(f"{dockerfile}:1: warning: base image 'alpine'")
    code, _, _ = run(["dockerfile", "lint", "--strict", str(dockerfile)], capsys, tmp_path)
    assert code == 1
    dockerfile.write_text("FROM alpine:3.19\n")
    code, out, _ = run(["dockerfile", "lint", "--strict", str(dockerfile)], capsys, tmp_path)
    assert (code, out) == (0, "")


def test_missing_file_is_one_line(capsys, tmp_path):
    code, out, err = run(["dockerfile", "dump", str(tmp_path / "nope")], capsys, tmp_path)
    assert code == 1 and err.startswith("layerlab: ") and "no such file" in err


def test_stdin_through_the_console_script(tmp_path):
    result = subprocess.run([sys.executable, "-m", "layerlab", "--root", str(tmp_path), "dockerfile", "dump", "-"],
                            input=b"from a\nrun x\n", capture_output=True, check=False)
    assert result.returncode == 0
    assert result.stdout.decode() == '(from "a")\n(run "x")\n'
