"""Dockerfile text -> DockerfileAST, as BuildKit's parser reads it.

BuildKit's reading order, kept here:

1. Physical lines; a BOM on the first is dropped, CRLF endings are fine.
2. Parser directives (``# syntax=``, ``# escape=``, ``# check=``) only in the
   leading run of comment lines, each at most once.
3. A line whose first non-blank character is ``#`` is a comment; a ``#``
   anywhere else is just a character.
4. The escape token at the end of a line (trailing blanks allowed) joins the
   next line; comment lines inside the continuation are dropped, blank ones
   skipped with a warning. Only the first physical line is left-trimmed.
5. The logical line is split into the instruction word, ``--flags``, and the
   rest, which the instruction's line parser turns into arguments.
6. RUN, COPY and ADD (or ONBUILD wrapping them) in shell form then read the
   bodies of any ``<<WORD`` heredocs from the following lines.

Step 5 lives in ``line_parsers``, heredocs in ``heredocs``.

Positions: every piece of a logical line remembers the physical line and
column it came from, so flags and arguments get exact positions even inside
continuations.
"""

from __future__ import annotations

import re

from layerlab.engine.dockerfile.ast import Directive, DockerfileAST, Node
from layerlab.engine.dockerfile.gotext import trim_left_space, trim_space
from layerlab.engine.dockerfile.heredocs import can_contain_heredoc, heredocs_from_line
from layerlab.engine.dockerfile.line_parsers import LineMap, ParseError, new_node
from layerlab.engine.errors import DockerfileError

VALID_DIRECTIVES = ("syntax", "escape", "check")

# Go's regexp \s is [\t\n\f\r ]; Python's would also take Unicode spaces.
_DIRECTIVE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\Z")
_CONTINUATIONS = {
    token: re.compile(r"([^" + re.escape(token) + r"])" + re.escape(token) + r"[ \t]*\Z|^" + re.escape(token) + r"[ \t]*\Z")
    for token in ("\\", "`")
}


class Directives:
    """The parser directives read so far, and the escape token (and so the line continuation) they set."""

    def __init__(self) -> None:
        self.escape_token = "\\"
        self.continuation = _CONTINUATIONS["\\"]
        self.done = False
        self.found: dict[str, Directive] = {}

    def set_escape_token(self, token: str) -> None:
        if token not in ("`", "\\"):
            raise ParseError(f"invalid escape token '{token}' does not match ` or \\")
        self.escape_token = token
        self.continuation = _CONTINUATIONS[token]

    def possible_directive(self, line: str, line_number: int) -> None:
        if self.done:
            return
        if not line.startswith("#"):
            self.done = True
            return
        match = _DIRECTIVE.match(trim_left_space(line[1:]))
        if match is None:
            self.done = True
            return
        name = match.group(1).lower()
        if name not in VALID_DIRECTIVES:
            self.done = True
            return
        if name in self.found:
            raise ParseError(f"only one {name} parser directive can be used")
        self.found[name] = Directive(name, match.group(2), line_number)
        if name == "escape":
            self.set_escape_token(match.group(2))


def _trim_newline(line: str) -> str:
    return line.rstrip("\r\n")


def _is_comment(line: str) -> bool:
    return trim_left_space(_trim_newline(line)).startswith("#")



def parse_dockerfile(text: str | bytes, filename: str = "Dockerfile") -> DockerfileAST:
    """Parse a Dockerfile; raises DockerfileError with line, column and the source line."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="surrogateescape")
    if text.startswith("\ufeff"):
        text = text[1:]
    physical = text.split("\n")
    ends_with_newline = physical[-1] == ""
    if ends_with_newline:
        physical.pop()
    source_lines = [_trim_newline(line) for line in physical]
    try:
        return _Parser(physical, ends_with_newline, filename, source_lines).parse()
    except DockerfileError as error:
        if error.source_line is None and error.line:
            error.source_line = source_lines[error.line - 1] if error.line <= len(source_lines) else None
        raise



class _Parser:
    def __init__(self, physical: list[str], ends_with_newline: bool, filename: str, source_lines: list[str]):
        self.physical = physical
        self.ends_with_newline = ends_with_newline
        self.filename = filename
        self.source_lines = source_lines
        self.directives = Directives()
        self.index = 0  # next physical line to read (0-based)

    def _error(self, message: str, line: int, column: int = 1) -> DockerfileError:
        return DockerfileError(message, filename=self.filename, line=line, column=column)

    def _raw_line(self, index: int) -> str:
        """A physical line with its newline, as heredoc bodies keep it."""
        line = self.physical[index]
        if index < len(self.physical) - 1 or self.ends_with_newline:
            return line + "\n"
        return line

    def _process_line(self, raw: str, line_number: int, strip_left: bool) -> tuple[str, int]:
        """(text without newline/comment, number of leading characters trimmed)."""
        token = _trim_newline(raw)
        trimmed = 0
        if strip_left:
            stripped = trim_left_space(token)
            trimmed = len(token) - len(stripped)
            token = stripped
        try:
            self.directives.possible_directive(token, line_number)
        except ParseError as error:
            raise self._error(error.message, line_number) from None
        if token.startswith("#"):
            token = ""
        return token, trimmed

    def _trim_continuation(self, line: str) -> tuple[str, bool]:
        match = self.directives.continuation.search(line)
        if match is None:
            return line, True
        return line[:match.start()] + (match.group(1) or ""), False

    def parse(self) -> DockerfileAST:
        children: list[Node] = []
        warnings: list[str] = []
        comments: list[str] = []
        physical = self.physical
        count = len(physical)
        while self.index < count:
            raw = physical[self.index]
            self.index += 1
            line_number = self.index
            if _is_comment(raw):
                comment = trim_space(trim_left_space(_trim_newline(raw))[1:])
                if comment:
                    comments.append(comment)
                else:
                    comments = []
            text, trimmed = self._process_line(raw, line_number, True)
            start_line = line_number
            line_map = LineMap()
            line_map.add(0, line_number, trimmed + 1)
            line, end_of_line = self._trim_continuation(text)
            if end_of_line and line == "":
                continue
            has_empty_continuation = False
            while not end_of_line and self.index < count:
                raw = physical[self.index]
                self.index += 1
                text, _ = self._process_line(raw, self.index, False)
                if _is_comment(raw):
                    continue
                if trim_left_space(_trim_newline(text)) == "":
                    has_empty_continuation = True
                    continue
                piece, end_of_line = self._trim_continuation(text)
                line_map.add(len(line), self.index, 1)
                line += piece
            if has_empty_continuation:
                warnings.append(f"line {start_line}: empty continuation line found in: {line}")
            try:
                child = new_node(line, 0, line_map, self.directives, comments)
            except ParseError as error:
                position = line_map.position(error.offset or 0)
                raise self._error(error.message, position.line if error.offset is not None else start_line,
                                  position.column if error.offset is not None else 1) from None
            child.start_line = start_line
            if can_contain_heredoc(child) and "<<" in line:
                self._read_heredocs(child, line, start_line)
            child.end_line = self.index
            comments = []
            children.append(child)
        if not children:
            raise self._error("file with no instructions", max(len(self.source_lines), 1) if self.source_lines else 0)
        return DockerfileAST(children=children, filename=self.filename, escape_token=self.directives.escape_token,
                             directives=dict(self.directives.found), warnings=warnings,
                             source_lines=self.source_lines)

    def _read_heredocs(self, child: Node, line: str, start_line: int) -> None:
        try:
            heredocs = heredocs_from_line(line)
        except DockerfileError as error:
            raise self._error(error.message, start_line) from None
        for heredoc in heredocs:
            parts: list[str] = []
            terminated = False
            while self.index < len(self.physical):
                raw = self._raw_line(self.index)
                self.index += 1
                candidate = _trim_newline(raw)
                if heredoc.chomp:
                    candidate = candidate.lstrip("\t")
                if candidate == heredoc.name:
                    terminated = True
                    break
                parts.append(raw)
            if not terminated:
                raise self._error(f"unterminated heredoc {heredoc.name}", start_line)
            heredoc.content = "".join(parts)
            child.heredocs.append(heredoc)
