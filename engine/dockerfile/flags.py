"""Instruction flags (``--name=value``), checked as BuildKit's BFlags checks them."""

from __future__ import annotations

from enum import Enum

from layerlab.engine.dockerfile.ast import Flag, Position
from layerlab.engine.record_type import field, record


class FlagType(Enum):
    BOOL = "bool"
    STRING = "string"
    STRINGS = "strings"  # repeatable


class FlagError(Exception):
    def __init__(self, message: str, position: Position | None):
        super().__init__(message)
        self.message = message
        self.position = position


@record
class ParsedFlags:
    values: dict[str, str] = field(default_factory=dict)
    lists: dict[str, list[str]] = field(default_factory=dict)
    positions: dict[str, Position] = field(default_factory=dict)

    def string(self, name: str) -> str:
        return self.values.get(name, "")

    def boolean(self, name: str) -> bool:
        return self.values.get(name) == "true"

    def strings(self, name: str) -> list[str]:
        return list(self.lists.get(name, []))

    def used(self, name: str) -> bool:
        return name in self.positions


def parse_flags(flags: list[Flag], spec: dict[str, FlagType]) -> ParsedFlags:
    parsed = ParsedFlags()
    for flag in flags:
        text = flag.text
        if not text.startswith("--"):
            raise FlagError(f"arg should start with -- : {text}", flag.position)
        if text == "--":
            break
        body = text[2:]
        name, sep, value = body.partition("=")
        kind = spec.get(name)
        if kind is None:
            message = f"unknown flag: {name}"
            suggestion = suggest(name, list(spec))
            if suggestion:
                message += f" (did you mean {suggestion}?)"
            raise FlagError(message, flag.position)
        if name in parsed.positions and kind is not FlagType.STRINGS:
            raise FlagError(f"duplicate flag specified: {name}", flag.position)
        parsed.positions[name] = flag.position
        if kind is FlagType.BOOL:
            if sep and value == "":
                raise FlagError(f"missing a value on flag: {name}", flag.position)
            lowered = value.lower()
            if lowered == "":
                parsed.values[name] = "true"
            elif lowered in ("true", "false"):
                parsed.values[name] = lowered
            else:
                raise FlagError(f"expecting boolean value for flag {name}, not: {value}", flag.position)
        elif kind is FlagType.STRING:
            if not sep:
                raise FlagError(f"missing a value on flag: {name}", flag.position)
            parsed.values[name] = value
        else:
            if not sep:
                raise FlagError(f"missing a value on flag: {name}", flag.position)
            parsed.lists.setdefault(name, []).append(value)
    return parsed


def _levenshtein(a: str, b: str) -> int:
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        current = [i]
        for j, cb in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb)))
        previous = current
    return previous[-1]


def suggest(word: str, options: list[str], *, case_insensitive: bool = False) -> str | None:
    """The closest option within edit distance 2, as BuildKit's suggest package offers."""
    best, best_distance = None, 3
    target = word.lower() if case_insensitive else word
    for option in options:
        candidate = option.lower() if case_insensitive else option
        distance = _levenshtein(target, candidate)
        if distance < best_distance:
            best, best_distance = option, distance
    return best
