"""Heredocs (``<<EOF``, ``<<-"EOF"``, ``3<<EOF``) as BuildKit finds them in RUN, COPY and ADD lines."""

from __future__ import annotations

import re

from layerlab.engine.dockerfile.ast import Heredoc, Node
from layerlab.engine.dockerfile.shell_lex import ShellLex
from layerlab.engine.errors import DockerfileError

HEREDOC_INSTRUCTIONS = frozenset({"add", "copy", "run"})
_HEREDOC = re.compile(r"(\d*)<<(-?)[\t\n\f\r ]*([^<]*)\Z")


def can_contain_heredoc(node: Node) -> bool:
    if node.instruction == "onbuild" and node.args and node.args[0].sub is not None:
        node = node.args[0].sub
    return node.instruction in HEREDOC_INSTRUCTIONS and not node.json_form


def parse_heredoc(word: str) -> Heredoc | None:
    """The heredoc a word like ``<<EOF``, ``<<-"EOF"`` or ``3<<EOF`` introduces, else None."""
    match = _HEREDOC.match(word)
    if match is None:
        return None
    fd_text, chomp, rest = match.groups()
    if not rest:
        return None
    lex = ShellLex("\\", skip_unset_env=True)
    words = lex.process_words(rest, {})
    if len(words) != 1:
        return None
    raw_words = ShellLex("\\", skip_unset_env=True, raw_quotes=True).process_words(rest, {})
    if len(raw_words) != len(words):
        raise DockerfileError(f"internal lexing of heredoc produced inconsistent results: {rest}")
    name = words[0]
    quotes = name.count("'") + name.count('"')
    raw_quotes = raw_words[0].count("'") + raw_words[0].count('"')
    return Heredoc(name=name, file_descriptor=int(fd_text) if fd_text else 0,
                   expand=quotes == raw_quotes, chomp=chomp == "-")


def heredocs_from_line(line: str) -> list[Heredoc]:
    lex = ShellLex("\\", raw_quotes=True, raw_escapes=True, skip_unset_env=True)
    try:
        words = lex.process_words(line, {})
    except DockerfileError:
        return []
    found = []
    for word in words:
        heredoc = parse_heredoc(word)
        if heredoc is not None:
            found.append(heredoc)
    return found
