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

Positions: every piece of a logical line remembers the physical line and
column it came from, so flags and arguments get exact positions even inside
continuations.
"""

from __future__ import annotations

import bisect
import json
import json.decoder
import re
from dataclasses import dataclass

from layerlab.engine.dockerfile.ast import Arg, Directive, DockerfileAST, Flag, Heredoc, Node, Position
from layerlab.engine.dockerfile.gotext import go_quote, is_space, trim_left_space, trim_space
from layerlab.engine.dockerfile.shell_lex import ShellLex
from layerlab.engine.errors import DockerfileError

VALID_DIRECTIVES = ("syntax", "escape", "check")
HEREDOC_INSTRUCTIONS = frozenset({"add", "copy", "run"})

# Go's regexp \s is [\t\n\f\r ]; Python's would also take Unicode spaces.
_DIRECTIVE = re.compile(r"([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*\Z")
_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_HEREDOC = re.compile(r"(\d*)<<(-?)[\t\n\f\r ]*([^<]*)\Z")
_CONTINUATIONS = {
    token: re.compile(r"([^" + re.escape(token) + r"])" + re.escape(token) + r"[ \t]*\Z|^" + re.escape(token) + r"[ \t]*\Z")
    for token in ("\\", "`")
}


class _ParseError(Exception):
    """A line parser's complaint, with an offset into the logical line when known."""

    def __init__(self, message: str, offset: int | None = None):
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.absolute = False  # offset already counts from the start of the logical line


@dataclass(slots=True)
class _Segment:
    offset: int  # where this physical line's text starts in the logical line
    line: int
    column: int


class _LineMap:
    """Maps an offset in a logical line back to a physical line and column."""

    __slots__ = ("segments", "starts")

    def __init__(self) -> None:
        self.segments: list[_Segment] = []
        self.starts: list[int] = []

    def add(self, offset: int, line: int, column: int) -> None:
        self.segments.append(_Segment(offset, line, column))
        self.starts.append(offset)

    def position(self, offset: int) -> Position:
        index = max(bisect.bisect_right(self.starts, offset) - 1, 0)
        segment = self.segments[index]
        return Position(segment.line, segment.column + offset - segment.offset)


class _Directives:
    def __init__(self) -> None:
        self.escape_token = "\\"
        self.continuation = _CONTINUATIONS["\\"]
        self.done = False
        self.found: dict[str, Directive] = {}

    def set_escape_token(self, token: str) -> None:
        if token not in ("`", "\\"):
            raise _ParseError(f"invalid escape token '{token}' does not match ` or \\")
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
            raise _ParseError(f"only one {name} parser directive can be used")
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
        self.directives = _Directives()
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
        except _ParseError as error:
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
            line_map = _LineMap()
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
                child = _new_node(line, 0, line_map, self.directives, comments)
            except _ParseError as error:
                position = line_map.position(error.offset or 0)
                raise self._error(error.message, position.line if error.offset is not None else start_line,
                                  position.column if error.offset is not None else 1) from None
            child.start_line = start_line
            if _can_contain_heredoc(child) and "<<" in line:
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


def _can_contain_heredoc(node: Node) -> bool:
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


# --- one logical line -> Node ------------------------------------------------------------


def _new_node(line: str, base: int, line_map: _LineMap, directives: _Directives, comments: list[str]) -> Node:
    command, command_offset, flags, rest, rest_offset = _split_command(line)
    parse = _DISPATCH.get(command.lower(), _parse_ignore)
    try:
        args, json_form = parse(rest, rest_offset, directives, line_map, base)
    except _ParseError as error:
        if error.offset is not None and not error.absolute:
            error.offset += base
            error.absolute = True
        raise
    start = line_map.position(base + command_offset)
    return Node(
        value=command,
        args=[Arg(value, line_map.position(base + offset), sub) for value, offset, sub in args],
        flags=[Flag(text, line_map.position(base + offset)) for text, offset in flags],
        original=line,
        start_line=start.line,
        end_line=start.line,
        column=start.column,
        json_form=json_form,
        comments=list(comments),
    )


def _split_command(line: str) -> tuple[str, int, list[tuple[str, int]], str, int]:
    """(command, its offset, flags with offsets, rest of line, its offset)."""
    stripped = trim_space(line)
    lead = len(line) - len(trim_left_space(line))
    match = _WHITESPACE.search(stripped)
    if match is None:
        return stripped, lead, [], "", lead + len(stripped)
    command = stripped[:match.start()]
    remainder = stripped[match.end():]
    remainder_offset = lead + match.end()
    rest, rest_pos, flags = _extract_builder_flags(remainder)
    trimmed_rest = trim_space(rest)
    rest_offset = remainder_offset + rest_pos + (len(rest) - len(trim_left_space(rest)))
    return command, lead, [(text, remainder_offset + pos) for text, pos in flags], trimmed_rest, rest_offset


def _extract_builder_flags(line: str) -> tuple[str, int, list[tuple[str, int]]]:
    """Leading ``--flag`` words (quotes and backslashes processed) and where the rest starts."""
    words: list[tuple[str, int]] = []
    word: list[str] = []
    word_start = 0
    in_spaces, in_word, in_quote = 0, 1, 2
    phase = in_spaces
    quote = ""
    blank_ok = False
    length = len(line)
    pos = 0
    while pos <= length:
        ch = line[pos] if pos < length else ""
        if phase == in_spaces:
            if pos == length:
                break
            if is_space(ch):
                pos += 1
                continue
            if ch != "-" or pos + 1 == length or line[pos + 1] != "-":
                return line[pos:], pos, words
            phase = in_word
            word_start = pos
        if pos == length:
            text = "".join(word)
            if text != "--" and (blank_ok or text):
                words.append((text, word_start))
            break
        if phase == in_word:
            if is_space(ch):
                phase = in_spaces
                text = "".join(word)
                if text == "--":
                    return line[pos:], pos, words
                if blank_ok or text:
                    words.append((text, word_start))
                word = []
                blank_ok = False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
                phase = in_quote
                pos += 1
                continue
            if ch == "\\":
                if pos + 1 == length:
                    pos += 1
                    continue
                pos += 1
                ch = line[pos]
            word.append(ch)
            pos += 1
            continue
        # in_quote
        if ch == quote:
            phase = in_word
            pos += 1
            continue
        if ch == "\\":
            if pos + 1 == length:
                phase = in_word
                pos += 1
                continue
            pos += 1
            ch = line[pos]
        word.append(ch)
        pos += 1
    return "", length, words


# Each line parser returns ([(value, offset, sub-node)], json_form); offsets are
# relative to the logical line. ``base`` shifts offsets for ONBUILD's inner line.
_ArgList = list[tuple[str, int, "Node | None"]]


def _parse_ignore(rest, offset, directives, line_map, base):
    # BuildKit keeps an unknown instruction with one empty argument; the
    # instruction pass rejects it with a suggestion.
    return [("", offset, None)], False


def _parse_sub_command(rest, offset, directives, line_map, base):
    if rest == "":
        return [], False
    child = _new_node(rest, base + offset, line_map, directives, [])
    return [("", offset, child)], False


def _parse_words(rest: str, escape_token: str) -> list[tuple[str, int]]:
    """Words split on unquoted whitespace, quotes and escapes kept (BuildKit's parseWords)."""
    words: list[tuple[str, int]] = []
    word: list[str] = []
    start = 0
    in_spaces, in_word, in_quote = 0, 1, 2
    phase = in_spaces
    quote = ""
    blank_ok = False
    length = len(rest)
    pos = 0
    while pos <= length:
        ch = rest[pos] if pos < length else ""
        if phase == in_spaces:
            if pos == length:
                break
            if is_space(ch):
                pos += 1
                continue
            phase = in_word
            start = pos
        if pos == length:
            if blank_ok or word:
                words.append(("".join(word), start))
            break
        if phase == in_word:
            if is_space(ch):
                phase = in_spaces
                if blank_ok or word:
                    words.append(("".join(word), start))
                word = []
                blank_ok = False
                pos += 1
                continue
            if ch in ("'", '"'):
                quote = ch
                blank_ok = True
                phase = in_quote
            if ch == escape_token:
                if pos + 1 == length:
                    pos += 1
                    continue  # an escape at the end of the line is dropped
                word.append(ch)
                pos += 1
                ch = rest[pos]
            word.append(ch)
            pos += 1
            continue
        # in_quote
        if ch == quote:
            phase = in_word
        if ch == escape_token and quote != "'":
            if pos + 1 == length:
                phase = in_word
                pos += 1
                continue
            pos += 1
            word.append(ch)
            ch = rest[pos]
        word.append(ch)
        pos += 1
    return words


def _parse_name_val(rest: str, offset: int, key: str, escape_token: str) -> _ArgList:
    words = _parse_words(rest, escape_token)
    if not words:
        return []
    if "=" not in words[0][0]:
        # Legacy form: KEY name value-to-end-of-line
        match = _WHITESPACE.search(rest)
        if match is None:
            raise _ParseError(f"{key} must have two arguments", offset)
        return [(rest[:match.start()], offset, None), (rest[match.end():], offset + match.end(), None),
                ("", offset + len(rest), None)]
    args: _ArgList = []
    for word, start in words:
        if "=" not in word:
            raise _ParseError(f"Syntax error - can't find = in {go_quote(word)}. Must be of the form: name=value",
                              offset + start)
        name, value = word.split("=", 1)
        args.append((name, offset + start, None))
        args.append((value, offset + start + len(name) + 1, None))
        args.append(("=", offset + start + len(name), None))
    return args


def _parse_env(rest, offset, directives, line_map, base):
    return _parse_name_val(rest, offset, "ENV", directives.escape_token), False


def _parse_label(rest, offset, directives, line_map, base):
    return _parse_name_val(rest, offset, "LABEL", directives.escape_token), False


def _parse_name_or_name_val(rest, offset, directives, line_map, base):
    return [(word, offset + start, None) for word, start in _parse_words(rest, directives.escape_token)], False


def _split_whitespace(rest: str, offset: int) -> _ArgList:
    if rest == "":
        return []
    args: _ArgList = []
    start = 0
    for match in _WHITESPACE.finditer(rest):
        args.append((rest[start:match.start()], offset + start, None))
        start = match.end()
    args.append((rest[start:], offset + start, None))
    return args


def _parse_strings_whitespace_delimited(rest, offset, directives, line_map, base):
    return _split_whitespace(rest, offset), False


def _parse_string(rest, offset, directives, line_map, base):
    if rest == "":
        return [], False
    return [(rest, offset, None)], False


def _reject_constant(name: str):
    raise ValueError(f"invalid JSON constant {name}")


def _parse_json(rest: str, offset: int) -> _ArgList | None:
    """Elements of a JSON string array, None when ``rest`` is not a valid JSON array."""
    lead = len(rest) - len(trim_left_space(rest))
    text = rest[lead:]
    if not text.startswith("["):
        return None
    try:
        decoded = json.loads(text, parse_constant=_reject_constant)
    except (ValueError, RecursionError):
        return None
    if not isinstance(decoded, list):
        return None
    if any(not isinstance(item, str) for item in decoded):
        raise _ParseError("when using JSON array syntax, arrays must be comprised of strings only", offset)
    # Find where each string starts, for positions.
    args: _ArgList = []
    pos = 1
    for item in decoded:
        while text[pos] in " \t\n\r,":
            pos += 1
        args.append((item, offset + lead + pos, None))
        _, pos = json.decoder.scanstring(text, pos + 1)
    return args


def _parse_maybe_json(rest, offset, directives, line_map, base):
    if rest == "":
        return [], False
    args = _parse_json(rest, offset)
    if args is not None:
        return args, True
    return [(rest, offset, None)], False


def _parse_maybe_json_to_list(rest, offset, directives, line_map, base):
    args = _parse_json(rest, offset)
    if args is not None:
        return args, True
    return _split_whitespace(rest, offset), False


def _parse_health_config(rest, offset, directives, line_map, base):
    sep = 0
    while sep < len(rest) and not is_space(rest[sep]):
        sep += 1
    if sep == 0:
        return [], False
    following = sep
    while following < len(rest) and is_space(rest[following]):
        following += 1
    command, json_form = _parse_maybe_json(rest[following:], offset + following, directives, line_map, base)
    return [(rest[:sep], offset, None), *command], json_form


_DISPATCH = {
    "add": _parse_maybe_json_to_list,
    "arg": _parse_name_or_name_val,
    "cmd": _parse_maybe_json,
    "copy": _parse_maybe_json_to_list,
    "entrypoint": _parse_maybe_json,
    "env": _parse_env,
    "expose": _parse_strings_whitespace_delimited,
    "from": _parse_strings_whitespace_delimited,
    "healthcheck": _parse_health_config,
    "label": _parse_label,
    "maintainer": _parse_string,
    "onbuild": _parse_sub_command,
    "run": _parse_maybe_json,
    "shell": _parse_maybe_json,
    "stopsignal": _parse_string,
    "user": _parse_string,
    "volume": _parse_maybe_json_to_list,
    "workdir": _parse_string,
}
