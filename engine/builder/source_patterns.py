"""COPY/ADD source words as the classic builder reads them: cleaned paths, and Go's ``path.Match``
wildcards (``*`` and ``?`` never cross ``/``, ``\\`` escapes)."""

from __future__ import annotations

import posixpath
import re

from layerlab.engine.errors import BuildError


def normalize_source(source: str) -> str:
    """A COPY source as the classic builder reads it: no leading "/" or "./", cleaned."""
    cleaned = posixpath.normpath("/" + source.lstrip("/")).lstrip("/")
    return cleaned or "."


def has_wildcards(path: str) -> bool:
    escaped = False
    for char in path:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char in "*?[":
            return True
    return False


def go_match(pattern: str, name: str) -> bool:
    """Go's ``path.Match``: ``*`` and ``?`` never match ``/``; ``\\`` escapes."""
    return _compile_go_pattern(pattern).fullmatch(name) is not None


_PATTERNS: dict[str, re.Pattern] = {}


def _compile_go_pattern(pattern: str) -> re.Pattern:
    compiled = _PATTERNS.get(pattern)
    if compiled is None:
        out, i = [], 0
        while i < len(pattern):
            char = pattern[i]
            if char == "\\" and i + 1 < len(pattern):
                out.append(re.escape(pattern[i + 1]))
                i += 2
                continue
            if char == "*":
                out.append("[^/]*")
            elif char == "?":
                out.append("[^/]")
            elif char == "[":
                end = pattern.find("]", i + 1)
                if end == -1:
                    raise BuildError(f"{pattern}: syntax error in pattern")
                out.append(_go_class(pattern[i + 1:end]))
                i = end + 1
                continue
            else:
                out.append(re.escape(char))
            i += 1
        compiled = _PATTERNS[pattern] = re.compile("".join(out), re.DOTALL)
    return compiled


def _go_class(body: str) -> str:
    negated = body.startswith("^")
    if negated:
        body = body[1:]
    parts, i = [], 0
    while i < len(body):
        char = body[i]
        if char == "\\" and i + 1 < len(body):
            i += 1
            char = body[i]
        if i + 2 < len(body) and body[i + 1] == "-":
            high = body[i + 2]
            parts.append(re.escape(char) + "-" + re.escape(high))
            i += 3
            continue
        parts.append(re.escape(char))
        i += 1
    # A negated class never matches the separator, as in Go.
    return "[" + ("^/" if negated else "") + "".join(parts) + "]"
