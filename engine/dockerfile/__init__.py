"""The Dockerfile frontend: parser, word expansion, ARG scoping, .dockerignore, lint.

Public entry points::

    parse_dockerfile(text, filename="Dockerfile") -> DockerfileAST
    instructions_from_ast(ast) -> Dockerfile          # meta ARGs + stages
    ShellLex(escape_token).process_word(word, env)    # word expansion
    format_error(error) -> str                        # "Dockerfile:7:3: msg" + line + caret

Modules:
- ``parser``: Dockerfile text -> ``DockerfileAST`` (directives, continuations, positions).
- ``line_parsers``: one logical line -> ``Node`` (flags, each instruction's argument form).
- ``heredocs``: ``<<EOF`` bodies in RUN, COPY and ADD.
- ``ast``: the syntax tree with line and column on every piece.
- ``from_ast``: the tree -> typed instructions, flags and arguments checked.
- ``instructions``: the typed instructions and ``Expander``.
- ``flags``: ``--flag`` parsing with BuildKit's messages.
- ``shell_lex``, ``shell_patterns``: word expansion as BuildKit's shell lexer does it.
- ``args``: ARG scoping, platform args, ``FROM`` expansion.
- ``dockerignore``: ``.dockerignore`` matching.
- ``ports``: EXPOSE's port words as Docker reads them.
- ``lint``: warnings that say what a pattern costs in cache hits or image size.
- ``gotext``: Go's text rules the above depend on (spaces, quoting, durations).
"""

from __future__ import annotations

from layerlab.engine.dockerfile.ast import Arg, DockerfileAST, Flag, Heredoc, Node, Position
from layerlab.engine.dockerfile.from_ast import instructions_from_ast
from layerlab.engine.dockerfile.instructions import Dockerfile, Expander, Instruction, Stage
from layerlab.engine.dockerfile.parser import parse_dockerfile
from layerlab.engine.dockerfile.shell_lex import ShellLex
from layerlab.engine.errors import DockerfileError

__all__ = [
    "Arg", "Dockerfile", "DockerfileAST", "DockerfileError", "Expander", "Flag", "Heredoc", "Instruction", "Node",
    "Position", "ShellLex", "Stage", "format_error", "instructions_from_ast", "parse_dockerfile",
]


def format_error(error: DockerfileError) -> str:
    """``FILE:LINE:COL: message``, then the offending line and a caret under the column."""
    lines = [error.one_line()]
    if error.source_line is not None:
        source = error.source_line.replace("\t", " ")
        lines.append(source)
        column = max(error.column, 1)
        lines.append(" " * min(column - 1, len(source)) + "^")
    return "\n".join(lines)


def load_dockerfile(text: str | bytes, filename: str = "Dockerfile") -> Dockerfile:
    """Parse and type-check in one go; errors carry the source line for ``format_error``."""
    ast = parse_dockerfile(text, filename)
    try:
        return instructions_from_ast(ast)
    except DockerfileError as error:
        if error.source_line is None and error.line:
            error.source_line = ast.source_line(error.line)
        raise
