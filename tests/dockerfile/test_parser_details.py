"""Parser behaviour beyond the BuildKit fixtures: directives, heredocs, positions, errors."""

from __future__ import annotations

import pytest

from layerlab.engine.dockerfile import format_error, parse_dockerfile
from layerlab.engine.errors import DockerfileError


def dump(text: str) -> str:
    return parse_dockerfile(text).dump()


def test_bom_crlf_and_case_insensitive_names():
    ast = parse_dockerfile("\ufeffFrOm alpine\r\nrun echo hi\r\n".encode())
    assert ast.dump() == '(from "alpine")\n(run "echo hi")'
    assert ast.children[1].value == "run" and ast.children[1].instruction == "run"


def test_directives_only_at_top_each_once():
    ast = parse_dockerfile("# syntax=docker/dockerfile:1\n# check=skip=all\n# escape=`\nFROM a\nRUN x `\n  y\n")
    assert set(ast.directives) == {"syntax", "check", "escape"}
    assert ast.escape_token == "`"
    assert ast.dump().endswith('(run "x   y")')
    with pytest.raises(DockerfileError, match="only one escape parser directive"):
        parse_dockerfile("# escape=`\n# escape=\\\nFROM a\n")
    with pytest.raises(DockerfileError, match="invalid escape token"):
        parse_dockerfile("# escape=x\nFROM a\n")
    # After an instruction, a directive-shaped comment is only a comment.
    ast = parse_dockerfile("FROM a\n# escape=`\nRUN x \\\n y\n")
    assert "escape" not in ast.directives and ast.escape_token == "\\"


def test_comment_only_at_line_start_and_inside_continuations():
    assert dump("FROM a\nRUN echo a # not a comment\n") == '(from "a")\n(run "echo a # not a comment")'
    assert dump("FROM a\nRUN echo c\\\n  # dropped\nd\n") == '(from "a")\n(run "echo cd")'


def test_flags_with_double_dash_terminator():
    ast = parse_dockerfile("FROM a\nCOPY --chown=1:1 --link -- --weird /dst\n")
    copy = ast.children[1]
    assert [f.text for f in copy.flags] == ["--chown=1:1", "--link"]
    assert copy.arg_values == ["--weird", "/dst"]
    assert [(f.name, f.value) for f in copy.flags] == [("chown", "1:1"), ("link", None)]


def test_positions_of_flags_and_arguments():
    ast = parse_dockerfile("FROM a\n  COPY  --chmod=644   one two \\\n      /dest\n")
    copy = ast.children[1]
    assert (copy.start_line, copy.column, copy.end_line) == (2, 3, 3)
    assert [(f.position.line, f.position.column) for f in copy.flags] == [(2, 9)]
    assert [(a.value, a.position.line, a.position.column) for a in copy.args] == [
        ("one", 2, 23), ("two", 2, 27), ("/dest", 3, 7)]


def test_json_positions_and_invalid_json_falls_back():
    ast = parse_dockerfile('FROM a\nCMD [ "a", "b c" ]\nCMD ["a", 1]x\n')
    cmd = ast.children[1]
    assert cmd.json_form and [(a.value, a.position.column) for a in cmd.args] == [("a", 7), ("b c", 12)]
    assert not ast.children[2].json_form  # trailing garbage: not JSON, so shell form
    with pytest.raises(DockerfileError, match="arrays must be comprised of strings only") as info:
        parse_dockerfile('FROM a\nCMD ["a", 1]\n')
    assert info.value.line == 2


def test_heredocs_several_on_a_line_chomp_and_quoting():
    text = ("FROM a\n"
            "COPY <<one <<-'two' /dst/\n"
            "first $X\n"
            "one\n"
            "\tsecond $X\n"
            "\ttwo\n"
            "RUN <<EOF\n"
            "echo hi\n"
            "EOF\n"
            "RUN echo after\n")
    ast = parse_dockerfile(text)
    copy = ast.children[1]
    assert [(h.name, h.expand, h.chomp, h.content) for h in copy.heredocs] == [
        ("one", True, False, "first $X\n"), ("two", False, True, "\tsecond $X\n")]
    assert copy.heredocs[1].chomped_content() == "second $X\n"
    assert (copy.start_line, copy.end_line) == (2, 6)
    assert ast.children[2].heredocs[0].content == "echo hi\n"
    assert ast.children[3].dump() == 'run "echo after"'
    assert ast.children[3].start_line == 10


def test_heredoc_not_in_json_form_and_unterminated_fails():
    ast = parse_dockerfile('FROM a\nRUN ["cat", "<<EOF"]\nRUN echo\n')
    assert ast.children[1].heredocs == [] and len(ast.children) == 3
    with pytest.raises(DockerfileError, match="unterminated heredoc") as info:
        parse_dockerfile("FROM a\nRUN <<EOF\necho\n")
    assert info.value.line == 2


def test_onbuild_nests_and_can_hold_heredoc():
    ast = parse_dockerfile("FROM a\nONBUILD RUN <<EOF\nx\nEOF\n")
    assert ast.children[1].dump() == 'onbuild (run "<<EOF")'
    assert ast.children[1].heredocs[0].content == "x\n"


def test_env_label_forms():
    assert dump('FROM a\nENV A b c\nLABEL "k y"="v w" z=1\n') == (
        '(from "a")\n(env "A" "b c" "")\n(label "\\"k y\\"" "\\"v w\\"" "=" "z" "1" "=")')
    with pytest.raises(DockerfileError, match="ENV must have two arguments"):
        parse_dockerfile("FROM a\nENV A\n")


def test_error_format_has_line_column_source_and_caret():
    with pytest.raises(DockerfileError) as info:
        parse_dockerfile("FROM a\nENV a=1 b\n", filename="app/Dockerfile")
    error = info.value
    assert (error.line, error.column) == (2, 9)
    assert format_error(error) == (
        'app/Dockerfile:2:9: Syntax error - can\'t find = in "b". Must be of the form: name=value\n'
        "ENV a=1 b\n"
        "        ^")


def test_empty_and_comment_only_files_fail_with_a_message():
    for text in ("", "\n\n", "# only\n# comments\n"):
        with pytest.raises(DockerfileError, match="file with no instructions"):
            parse_dockerfile(text)
