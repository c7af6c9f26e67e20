"""Word expansion as BuildKit's shell lexer does it (frontend/dockerfile/shell).

Not a shell: quotes, the escape token and ``$`` forms only, no command
substitution or globbing. ``env`` is a mapping; a name absent from it is
*unset*, a name mapped to ``""`` is *set but empty*, and the ``:`` forms
(``${v:-w}``) treat the two alike while the plain forms (``${v-w}``) do not.

Supported: ``$v ${v} ${v:-w} ${v-w} ${v:+w} ${v+w} ${v:?m} ${v?m} ${v#p}
${v##p} ${v%p} ${v%%p} ${v/p/r} ${v//p/r}``.
"""

from __future__ import annotations

from typing import Mapping

from layerlab.engine.dockerfile.gotext import go_quote, is_space
from layerlab.engine.dockerfile.shell_patterns import (
    LexError, go_expand_template, shell_pattern_to_regex, trim_prefix, trim_suffix,
)
from layerlab.engine.errors import DockerfileError
from layerlab.engine.record_type import field, record

_SPECIAL_PARAMS = frozenset("@*#?-$!0")


@record
class Expansion:
    """The outcome of expanding one word."""

    result: str
    words: list[str]
    matched: set[str] = field(default_factory=set)
    unmatched: set[str] = field(default_factory=set)


class _Words:
    """Splits expanded text into words the way BuildKit's wordsStruct does."""

    __slots__ = ("words", "buf", "in_word")

    def __init__(self) -> None:
        self.words: list[str] = []
        self.buf: list[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if is_space(ch):
            if self.in_word and self.buf:
                self.words.append("".join(self.buf))
                self.buf = []
                self.in_word = False
        else:
            self.add_raw_char(ch)

    def add_raw_char(self, ch: str) -> None:
        self.buf.append(ch)
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def add_raw_string(self, text: str) -> None:
        self.buf.append(text)
        self.in_word = True

    def get_words(self) -> list[str]:
        if self.buf:
            joined = "".join(self.buf)
            if joined:
                self.words.append(joined)
            self.buf = []
            self.in_word = False
        return self.words


class ShellLex:
    """Expands ``$`` references and removes quotes, with BuildKit's rules.

    ``escape_token`` is ``\\`` or `````, as the ``# escape=`` directive sets it.
    The ``raw_*`` and ``skip_*`` switches exist for heredoc handling, as in
    BuildKit: ``raw_quotes`` keeps quote characters, ``raw_escapes`` keeps
    escape tokens, ``skip_process_quotes`` treats quotes as plain characters,
    ``skip_unset_env`` leaves references to unset names as written.
    """

    def __init__(self, escape_token: str = "\\", *, raw_quotes: bool = False, raw_escapes: bool = False,
                 skip_process_quotes: bool = False, skip_unset_env: bool = False):
        if escape_token not in ("\\", "`"):
            raise ValueError(f"invalid escape token {escape_token!r}")
        self.escape_token = escape_token
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_process_quotes = skip_process_quotes
        self.skip_unset_env = skip_unset_env

    def process_word(self, word: str, env: Mapping[str, str]) -> str:
        """The word with references expanded and quotes removed, spaces kept."""
        return self.expand(word, env).result

    def process_words(self, word: str, env: Mapping[str, str]) -> list[str]:
        """The word expanded, then split on unquoted whitespace."""
        return self.expand(word, env).words

    def expand(self, word: str, env: Mapping[str, str]) -> Expansion:
        """Expand ``word``; raises DockerfileError (no position) on a syntax error."""
        state = _ShellWord(self, word, env)
        try:
            result, words = state.process_stop_on(None, self.raw_escapes)
        except LexError as error:
            raise DockerfileError(f"failed to process {go_quote(word)}: {error}") from None
        return Expansion(result, words, state.matched, state.unmatched)


class _ShellWord:
    __slots__ = ("lex", "text", "pos", "env", "raw_escapes", "matched", "unmatched")

    def __init__(self, lex: ShellLex, text: str, env: Mapping[str, str]):
        self.lex = lex
        self.text = text
        self.pos = 0
        self.env = env
        self.raw_escapes = lex.raw_escapes
        self.matched: set[str] = set()
        self.unmatched: set[str] = set()

    # The scanner: peek/next over characters, None at the end.
    def peek(self) -> str | None:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def next(self) -> str | None:
        if self.pos < len(self.text):
            ch = self.text[self.pos]
            self.pos += 1
            return ch
        return None

    def process_stop_on(self, stop: str | None, raw_escapes: bool) -> tuple[str, list[str]]:
        saved = self.raw_escapes
        self.raw_escapes = raw_escapes
        try:
            return self._process_stop_on(stop)
        finally:
            self.raw_escapes = saved

    def _word_until(self, stop: str, raw_escapes: bool, missing: str) -> str:
        """The word up to ``stop``; when the text ends first, LexError(``missing``)."""
        try:
            return self.process_stop_on(stop, raw_escapes)[0]
        except LexError:
            if self.peek() is None:
                raise LexError(missing) from None
            raise

    def _process_stop_on(self, stop: str | None) -> tuple[str, list[str]]:
        result: list[str] = []
        words = _Words()
        escape = self.lex.escape_token
        quotes = not self.lex.skip_process_quotes
        while True:
            ch = self.peek()
            if ch is None:
                break
            if stop is not None and ch == stop:
                self.pos += 1
                return "".join(result), words.get_words()
            if ch == "$":
                value = self.process_dollar()
                result.append(value)
                words.add_string(value)
            elif quotes and ch == "'":
                value = self.process_single_quote()
                result.append(value)
                words.add_raw_string(value)
            elif quotes and ch == '"':
                value = self.process_double_quote()
                result.append(value)
                words.add_raw_string(value)
            else:
                self.pos += 1
                if ch == escape:
                    if self.raw_escapes:
                        words.add_raw_char(ch)
                        result.append(ch)
                    ch = self.next()
                    if ch is None:
                        break
                    words.add_raw_char(ch)
                else:
                    words.add_char(ch)
                result.append(ch)
        if stop is not None:
            raise LexError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(result), words.get_words()

    def process_single_quote(self) -> str:
        result: list[str] = []
        ch = self.next()
        if self.lex.raw_quotes:
            result.append(ch)
        while True:
            ch = self.next()
            if ch is None:
                raise LexError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                if self.lex.raw_quotes:
                    result.append(ch)
                return "".join(result)
            result.append(ch)

    def process_double_quote(self) -> str:
        result: list[str] = []
        ch = self.next()
        if self.lex.raw_quotes:
            result.append(ch)
        escape = self.lex.escape_token
        while True:
            ch = self.peek()
            if ch is None:
                raise LexError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                self.pos += 1
                if self.lex.raw_quotes:
                    result.append(ch)
                return "".join(result)
            if ch == "$":
                result.append(self.process_dollar())
                continue
            self.pos += 1
            if ch == escape:
                if self.raw_escapes:
                    result.append(ch)
                following = self.peek()
                if following is None:
                    continue  # an escape at the very end is dropped
                if following in ('"', "$", escape):
                    ch = self.next()
            result.append(ch)

    def process_dollar(self) -> str:
        self.pos += 1  # the '$'
        if self.peek() != "{":
            name = self.process_name()
            if not name:
                return "$"
            value, found = self.get_env(name)
            if not found and self.lex.skip_unset_env:
                return "$" + name
            return value

        self.pos += 1  # the '{'
        ch = self.peek()
        if ch is None:
            raise LexError("syntax error: missing '}'")
        if ch in "{}:":
            raise LexError("syntax error: bad substitution")
        name = self.process_name()
        ch = self.next()
        modifier = ch or ""
        null_is_unset = False
        if ch == "}":
            value, found = self.get_env(name)
            if not found and self.lex.skip_unset_env:
                return "${" + name + "}"
            return value
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            modifier += ch or ""
        if null_is_unset or (ch is not None and ch in "+-?#%"):
            raw_escapes = ch is not None and ch in "#%"
            if null_is_unset and raw_escapes:
                raise LexError(f"unsupported modifier ({modifier}) in substitution")
            word = self._word_until("}", raw_escapes, "syntax error: missing '}'")
            value, found = self.get_env(name)
            if self.lex.skip_unset_env and not found:
                return "${" + name + modifier + word + "}"
            if ch == "-":
                if not found or (null_is_unset and value == ""):
                    return word
                return value
            if ch == "+":
                if not found or (null_is_unset and value == ""):
                    return ""
                return word
            if ch == "?":
                if not found:
                    raise LexError(f"{name}: {word or 'is not allowed to be unset'}")
                if null_is_unset and value == "":
                    raise LexError(f"{name}: {word or 'is not allowed to be empty'}")
                return value
            if ch not in ("#", "%"):
                raise LexError(f"unsupported modifier ({modifier}) in substitution")
            # '#' trims a prefix, '%' a suffix; doubled, the longest match.
            greedy = False
            if word and word[0] == ch:
                greedy = True
                word = word[1:]
            if ch == "%":
                return trim_suffix(word, value, greedy)
            if ch == "#":
                return trim_prefix(word, value, greedy)
            raise LexError(f"unsupported modifier ({modifier}) in substitution")
        if ch == "/" and not null_is_unset:
            replace_all = self.peek() == "/"
            if replace_all:
                self.pos += 1
            pattern = self._word_until("/", True, "syntax error: missing '/' in ${}")
            replacement = self._word_until("}", True, "syntax error: missing '}'")
            value, found = self.get_env(name)
            if self.lex.skip_unset_env and not found:
                return "${" + name + "/" + pattern + "/" + replacement + "}"
            regex = shell_pattern_to_regex(pattern, greedy=True, anchored=False)
            if replace_all:
                # Go's ReplaceAllString reads $name in the replacement as a group reference.
                return regex.sub(lambda match: go_expand_template(replacement, match), value)
            return regex.sub(lambda _match: replacement, value, count=1)
        raise LexError(f"unsupported modifier ({modifier}) in substitution")

    def process_name(self) -> str:
        name: list[str] = []
        while True:
            ch = self.peek()
            if ch is None:
                break
            if not name and ch.isdecimal():
                # $1, $12: positional parameters, read whole and looked up as names
                while (ch := self.peek()) is not None and ch.isdecimal():
                    name.append(ch)
                    self.pos += 1
                return "".join(name)
            if not name and ch in _SPECIAL_PARAMS:
                self.pos += 1
                return ch
            if not (ch.isalpha() or ch.isdecimal() or ch == "_"):
                break
            name.append(ch)
            self.pos += 1
        return "".join(name)

    def get_env(self, name: str) -> tuple[str, bool]:
        value = self.env.get(name)
        if value is None:
            self.unmatched.add(name)
            return "", False
        self.matched.add(name)
        return value, True
