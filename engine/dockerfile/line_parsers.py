"""One logical Dockerfile line -> ``Node``: the instruction word, its ``--flags``, and the arguments
its line parser reads, each with the physical line and column it came from."""

from __future__ import annotations

import bisect
import json
import json.decoder
import re
from typing import TYPE_CHECKING, Iterator

from layerlab.engine.dockerfile.ast import Arg, Flag, Node, Position
from layerlab.engine.dockerfile.gotext import go_quote, is_space, trim_left_space, trim_space
from layerlab.engine.record_type import record

if TYPE_CHECKING:
    from layerlab.engine.dockerfile.parser import Directives

_WHITESPACE = re.compile(r"[\t\v\f\r ]+")


class ParseError(Exception):
    """A line parser's complaint, with an offset into the logical line when known."""

    def __init__(self, message: str, offset: int | None = None):
        super().__init__(message)
        self.message = message
        self.offset = offset
        self.absolute = False  # offset already counts from the start of the logical line



@record(slots=True)
class _Segment:
    offset: int  # where this physical line's text starts in the logical line
    line: int
    column: int


class LineMap:
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



def new_node(line: str, base: int, line_map: LineMap, directives: Directives, comments: list[str]) -> Node:
    command, command_offset, flags, rest, rest_offset = _split_command(line)
    parse = _DISPATCH.get(command.lower(), _parse_ignore)
    try:
        args, json_form = parse(rest, rest_offset, directives, line_map, base)
    except ParseError as error:
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
    flags: list[tuple[str, int]] = []
    for text, start, end, _ in _scan_words(line, "\\", keep_quotes=False):
        if not line.startswith("--", start):
            return line[start:], start, flags
        if text == "--":
            return line[end:], end, flags
        flags.append((text, start))
    return "", len(line), flags


def _scan_words(text: str, escape: str, *, keep_quotes: bool) -> Iterator[tuple[str, int, int, bool]]:
    """Words split on unquoted whitespace: (word, start, end, quoted).

    ``keep_quotes`` keeps quote and escape characters in the word, and an
    escape inside single quotes is a plain character (BuildKit's parseWords);
    without it both are processed away, in any quotes (its
    extractBuilderFlags). An escape ending the text is dropped. ``quoted``
    tells a word written as ``""`` (a word) from one that came out empty
    (none).
    """
    length = len(text)
    pos = 0
    while True:
        while pos < length and is_space(text[pos]):
            pos += 1
        if pos == length:
            return
        start, quote, quoted = pos, "", False
        word: list[str] = []
        while pos < length and (quote or not is_space(text[pos])):
            ch = text[pos]
            pos += 1
            if ch == quote or not quote and ch in ("'", '"'):
                quote = "" if quote else ch
                quoted = True
                if keep_quotes:
                    word.append(ch)
                continue
            if ch == escape and not (keep_quotes and quote == "'"):
                if pos == length:
                    continue
                if keep_quotes:
                    word.append(ch)
                ch = text[pos]
                pos += 1
            word.append(ch)
        yield "".join(word), start, pos, quoted


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
    child = new_node(rest, base + offset, line_map, directives, [])
    return [("", offset, child)], False


def _parse_words(rest: str, escape_token: str) -> list[tuple[str, int]]:
    """Words split on unquoted whitespace, quotes and escapes kept (BuildKit's parseWords)."""
    return [(word, start) for word, start, _, quoted in _scan_words(rest, escape_token, keep_quotes=True)
            if word or quoted]


def _parse_name_val(rest: str, offset: int, key: str, escape_token: str) -> _ArgList:
    words = _parse_words(rest, escape_token)
    if not words:
        return []
    if "=" not in words[0][0]:
        # Legacy form: KEY name value-to-end-of-line
        match = _WHITESPACE.search(rest)
        if match is None:
            raise ParseError(f"{key} must have two arguments", offset)
        return [(rest[:match.start()], offset, None), (rest[match.end():], offset + match.end(), None),
                ("", offset + len(rest), None)]
    args: _ArgList = []
    for word, start in words:
        if "=" not in word:
            raise ParseError(f"Syntax error - can't find = in {go_quote(word)}. Must be of the form: name=value",
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
        raise ParseError("when using JSON array syntax, arrays must be comprised of strings only", offset)
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

