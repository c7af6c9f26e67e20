"""The Dockerfile frontend: parser, word expansion, ARG scoping, .dockerignore, lint.

Public entry points::

    parse_dockerfile(text, filename="Dockerfile") -> DockerfileAST
    instructions_from_ast(ast) -> Dockerfile          # meta ARGs + stages
    ShellLex(escape_token).process_word(word, env)    # word expansion
    format_error(error) -> str                        # "Dockerfile:7:3: msg" + line + caret
"""

from __future__ import annotations

from layerlab.engine.dockerfile.ast import Arg, DockerfileAST, Flag, Heredoc, Node, Position
from layerlab.engine.dockerfile.instructions import Dockerfile, Expander, Instruction, Stage, instructions_from_ast
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
