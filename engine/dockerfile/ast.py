"""The Dockerfile syntax tree: one Node per instruction, positions on everything.

The shape follows BuildKit's ``parser.Node`` closely enough that ``dump()``
prints exactly what BuildKit's ``Node.Dump()`` prints, which is what the
conformance fixtures record.
"""

from __future__ import annotations

from layerlab.engine.dockerfile.gotext import go_quote, go_quote_list, trim_space
from layerlab.engine.record_type import field, record


@record(frozen=True, slots=True)
class Position:
    """1-based line and column (columns count characters, not bytes)."""

    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.line}:{self.column}"


@record(slots=True)
class Flag:
    """A ``--name[=value]`` flag as written before the arguments."""

    text: str
    position: Position

    @property
    def name(self) -> str:
        return self.text[2:].split("=", 1)[0]

    @property
    def value(self) -> str | None:
        """The value after ``=``, or None for a bare ``--name``."""
        _, sep, value = self.text.partition("=")
        return value if sep else None


@record(slots=True)
class Arg:
    """One argument; for ONBUILD the single argument holds the wrapped instruction."""

    value: str
    position: Position
    sub: Node | None = None


@record(slots=True)
class Heredoc:
    name: str
    file_descriptor: int = 0
    expand: bool = True
    chomp: bool = False
    content: str = ""

    def chomped_content(self) -> str:
        """The body with leading tabs removed from every line when ``<<-`` asked for it."""
        if not self.chomp:
            return self.content
        return "".join(line.lstrip("\t") for line in self.content.splitlines(keepends=True))


@record(slots=True)
class Node:
    """One instruction.

    ``value`` is the instruction word as written (``instruction`` is its
    lower-case form); ``args`` are the arguments as the instruction's line
    parser split them (quotes kept: removing them is word expansion's job).
    """

    value: str
    args: list[Arg]
    flags: list[Flag]
    original: str
    start_line: int
    end_line: int
    column: int
    json_form: bool = False
    heredocs: list[Heredoc] = field(default_factory=list)
    comments: list[str] = field(default_factory=list)

    @property
    def instruction(self) -> str:
        return self.value.lower()

    @property
    def position(self) -> Position:
        return Position(self.start_line, self.column)

    @property
    def arg_values(self) -> list[str]:
        return [arg.value for arg in self.args]

    def dump(self) -> str:
        text = self.value.lower()
        if self.flags:
            text += " " + go_quote_list([flag.text for flag in self.flags])
        for arg in self.args:
            if arg.sub is not None:
                text += " (" + arg.sub.dump() + ")"
            else:
                text += " " + go_quote(arg.value)
        return trim_space(text)


@record(slots=True)
class Directive:
    name: str
    value: str
    line: int


@record(slots=True)
class DockerfileAST:
    """A parsed Dockerfile: its instructions in order, plus what the parser learned on the way."""

    children: list[Node]
    filename: str = "Dockerfile"
    escape_token: str = "\\"
    directives: dict[str, Directive] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    source_lines: list[str] = field(default_factory=list)

    def dump(self) -> str:
        """BuildKit's dump: one ``(instruction args…)`` line per instruction."""
        return trim_space("".join("(" + child.dump() + ")\n" for child in self.children))

    def source_line(self, line: int) -> str | None:
        if 1 <= line <= len(self.source_lines):
            return self.source_lines[line - 1]
        return None
