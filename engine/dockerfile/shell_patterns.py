"""The shell patterns of ``${v#p} ${v%p} ${v/p/r}`` as regular expressions, and Go's ``$1``
templates for the replacement, as BuildKit's lexer (written in Go) handles them."""

from __future__ import annotations

import re


class LexError(Exception):
    """Raised inside the lexer; turned into a DockerfileError at the surface."""


_REGEX_SPECIAL = frozenset("[]{}.+()|^$")


def shell_pattern_to_regex(pattern: str, *, greedy: bool, anchored: bool) -> re.Pattern[str]:
    """``*`` and ``?`` wildcards (no bracket expressions) as a regex, like BuildKit."""
    out = ["^"] if anchored else []
    star = ".*" if greedy else ".*?"
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(star)
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            following = pattern[i] if i < len(pattern) else None
            if following in ("}", "/"):
                continue  # escaped only for the ${} syntax; not part of the pattern
            if following not in ("*", "?", "\\"):
                shown = following if following is not None else ""
                raise LexError(f"invalid pattern ({pattern}) in substitution: invalid escape '\\{shown}'")
            out.append("\\" + following)
            i += 1
        elif ch in _REGEX_SPECIAL:
            out.append("\\" + ch)
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out))


def go_expand_template(template: str, match: re.Match[str]) -> str:
    """regexp.Expand for a pattern without groups: $0 is the match, $$ a dollar."""
    out: list[str] = []
    i = 0
    while i < len(template):
        ch = template[i]
        if ch != "$":
            out.append(ch)
            i += 1
            continue
        rest = template[i + 1:]
        if rest.startswith("$"):
            out.append("$")
            i += 2
            continue
        braced = rest.startswith("{")
        body = rest[1:] if braced else rest
        length = 0
        while length < len(body) and (body[length].isalnum() or body[length] == "_"):
            length += 1
        if length == 0 or (braced and not body[length:].startswith("}")):
            out.append("$")  # malformed: the dollar is plain text
            i += 1
            continue
        name = body[:length]
        if name.isdigit() and int(name) == 0:
            out.append(match.group(0))
        i += 1 + length + (2 if braced else 0)
    return "".join(out)


def trim_prefix(pattern: str, value: str, greedy: bool) -> str:
    match = shell_pattern_to_regex(pattern, greedy=greedy, anchored=True).search(value)
    return value[match.end():] if match else value


def _reverse_pattern(pattern: str) -> str:
    """Reverse a pattern, keeping each ``\\x`` escape pair in order."""
    tokens: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            tokens.append(pattern[i:i + 2])
            i += 2
        else:
            tokens.append(pattern[i])
            i += 1
    return "".join(reversed(tokens))


def trim_suffix(pattern: str, value: str, greedy: bool) -> str:
    # Regexes find the leftmost match, not the shortest rightmost one, so
    # reverse both and trim a prefix, as BuildKit does.
    trimmed = trim_prefix(_reverse_pattern(pattern), value[::-1], greedy)
    return trimmed[::-1]
