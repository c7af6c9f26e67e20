"""The typed Dockerfile instructions, each with its positions and its word expansion.

``from_ast.instructions_from_ast(ast)`` gives the global (meta) ARGs and the
stages, as BuildKit's ``instructions.Parse`` does. Nothing is expanded there: each
instruction that expands words has ``expand(expander)``, which returns a new
instruction with ``$`` references resolved against the environment in effect
*before* it (see ``Expander``).
"""

from __future__ import annotations

from typing import ClassVar

from layerlab.engine.dockerfile.ast import Heredoc, Position
from layerlab.engine.dockerfile.shell_lex import ShellLex
from layerlab.engine.errors import DockerfileError
from layerlab.engine.record_type import field, record, replace


class Expander:
    """Expands words for one instruction against a fixed environment snapshot.

    Errors come back as DockerfileError at the instruction's position, so a
    build can report ``Dockerfile:7:1: failed to process …``.
    """

    def __init__(self, env: dict[str, str], escape_token: str = "\\", filename: str = "Dockerfile"):
        self.env = dict(env)  # a copy: every word of one instruction sees the same values
        self.lex = ShellLex(escape_token)
        self.escape_token = escape_token
        self.filename = filename

    def word(self, text: str, position: Position) -> str:
        try:
            return self.lex.process_word(text, self.env)
        except DockerfileError as error:
            raise DockerfileError(error.message, filename=self.filename, line=position.line,
                                  column=position.column) from None

    def words(self, text: str, position: Position) -> list[str]:
        try:
            return self.lex.process_words(text, self.env)
        except DockerfileError as error:
            raise DockerfileError(error.message, filename=self.filename, line=position.line,
                                  column=position.column) from None

    def heredoc_body(self, text: str, position: Position) -> str:
        # Heredoc bodies are not shell words: quotes stay as they are.
        lex = ShellLex(self.escape_token, skip_process_quotes=True)
        try:
            return lex.process_word(text, self.env)
        except DockerfileError as error:
            raise DockerfileError(error.message, filename=self.filename, line=position.line,
                                  column=position.column) from None


@record
class Instruction:
    """What every instruction keeps: where it is and how it was written."""

    position: Position
    end_line: int
    original: str

    name: ClassVar[str] = ""

    @property
    def line(self) -> int:
        return self.position.line

    def expand(self, expander: Expander) -> Instruction:
        """A copy with words expanded; instructions that do not expand return themselves."""
        return self


@record
class KeyValue:
    key: str
    value: str
    position: Position


@record
class ArgSpec:
    key: str
    value: str | None  # None: declared without a default
    position: Position


@record
class SourceContent:
    """A heredoc used as a COPY/ADD source: a file named ``path`` holding ``data``."""

    path: str
    data: str
    expand: bool


@record
class Maintainer(Instruction):
    maintainer: str = ""
    name: ClassVar[str] = "MAINTAINER"


@record
class Env(Instruction):
    pairs: list[KeyValue] = field(default_factory=list)
    name: ClassVar[str] = "ENV"

    def expand(self, expander: Expander) -> Env:
        return replace(self, pairs=[KeyValue(expander.word(p.key, p.position), expander.word(p.value, p.position),
                                             p.position) for p in self.pairs])


@record
class Label(Instruction):
    pairs: list[KeyValue] = field(default_factory=list)
    name: ClassVar[str] = "LABEL"

    def expand(self, expander: Expander) -> Label:
        return replace(self, pairs=[KeyValue(expander.word(p.key, p.position), expander.word(p.value, p.position),
                                             p.position) for p in self.pairs])


@record
class _CopyLike(Instruction):
    sources: list[str] = field(default_factory=list)
    source_positions: list[Position] = field(default_factory=list)
    dest: str = ""
    dest_position: Position | None = None
    source_contents: list[SourceContent] = field(default_factory=list)
    chown: str = ""
    chmod: str = ""
    link: bool = False
    excludes: list[str] = field(default_factory=list)
    flag_positions: dict[str, Position] = field(default_factory=dict)

    def _expand_common(self, expander: Expander) -> dict:
        def flag(name: str, value: str) -> str:
            return expander.word(value, self.flag_positions.get(name, self.position)) if value else value

        return {
            "sources": [expander.word(s, p) for s, p in zip(self.sources, self.source_positions)],
            "dest": expander.word(self.dest, self.dest_position or self.position),
            "source_contents": [replace(c, data=expander.heredoc_body(c.data, self.position)) if c.expand else c
                                for c in self.source_contents],
            "chown": flag("chown", self.chown),
            "chmod": flag("chmod", self.chmod),
        }


@record
class Copy(_CopyLike):
    from_: str = ""
    parents: bool = False
    name: ClassVar[str] = "COPY"

    def expand(self, expander: Expander) -> Copy:
        # BuildKit refuses variables in --from: stages are resolved before any expansion.
        position = self.flag_positions.get("from", self.position)
        if self.from_ and expander.word(self.from_, position) != self.from_:
            raise DockerfileError("variable expansion is not supported for --from, define a new stage with FROM "
                                  "using ARG from global scope as a workaround", filename=expander.filename,
                                  line=position.line, column=position.column)
        return replace(self, **self._expand_common(expander))


@record
class Add(_CopyLike):
    keep_git_dir: bool = False
    checksum: str = ""
    unpack: bool | None = None
    name: ClassVar[str] = "ADD"

    def expand(self, expander: Expander) -> Add:
        fields = self._expand_common(expander)
        if self.checksum:
            fields["checksum"] = expander.word(self.checksum, self.flag_positions.get("checksum", self.position))
        return replace(self, **fields)


@record
class _CommandLine(Instruction):
    """RUN, CMD, ENTRYPOINT: exec form (a list) or shell form (one string to wrap in the shell)."""

    command: list[str] = field(default_factory=list)
    shell_form: bool = True
    heredocs: list[Heredoc] = field(default_factory=list)


@record
class Run(_CommandLine):
    mounts: list[str] = field(default_factory=list)
    network: str = ""
    security: str = ""
    devices: list[str] = field(default_factory=list)
    name: ClassVar[str] = "RUN"

    def expand(self, expander: Expander) -> Run:
        # Only --mount values expand; the command is the shell's business.
        if not self.mounts:
            return self
        return replace(self, mounts=[expander.word(m, self.position) for m in self.mounts])


@record
class Cmd(_CommandLine):
    name: ClassVar[str] = "CMD"


@record
class Entrypoint(_CommandLine):
    name: ClassVar[str] = "ENTRYPOINT"


@record
class Shell(Instruction):
    shell: list[str] = field(default_factory=list)
    name: ClassVar[str] = "SHELL"


@record
class Workdir(Instruction):
    path: str = ""
    name: ClassVar[str] = "WORKDIR"

    def expand(self, expander: Expander) -> Workdir:
        return replace(self, path=expander.word(self.path, self.position))


@record
class User(Instruction):
    user: str = ""
    name: ClassVar[str] = "USER"

    def expand(self, expander: Expander) -> User:
        return replace(self, user=expander.word(self.user, self.position))


@record
class StopSignal(Instruction):
    signal: str = ""
    name: ClassVar[str] = "STOPSIGNAL"

    def expand(self, expander: Expander) -> StopSignal:
        return replace(self, signal=expander.word(self.signal, self.position))


@record
class Expose(Instruction):
    ports: list[str] = field(default_factory=list)
    name: ClassVar[str] = "EXPOSE"

    def expand(self, expander: Expander) -> Expose:
        ports: list[str] = []
        for port in self.ports:
            ports.extend(expander.words(port, self.position))
        return replace(self, ports=ports)


@record
class Volume(Instruction):
    volumes: list[str] = field(default_factory=list)
    name: ClassVar[str] = "VOLUME"

    def expand(self, expander: Expander) -> Volume:
        volumes = [expander.word(v, self.position) for v in self.volumes]
        for volume in volumes:
            if volume == "":
                raise DockerfileError("VOLUME specified can not be an empty string", filename=expander.filename,
                                      line=self.position.line, column=self.position.column)
        return replace(self, volumes=volumes)


@record
class Healthcheck(Instruction):
    """``test`` is Docker's form: ["NONE"], ["CMD", …] or ["CMD-SHELL", "text"]; durations in seconds."""

    test: list[str] = field(default_factory=list)
    interval: float = 0.0
    timeout: float = 0.0
    start_period: float = 0.0
    start_interval: float = 0.0
    retries: int = 0
    name: ClassVar[str] = "HEALTHCHECK"


@record
class ArgInstruction(Instruction):
    args: list[ArgSpec] = field(default_factory=list)
    name: ClassVar[str] = "ARG"


@record
class OnBuild(Instruction):
    """``expression`` is the trigger text stored in the image; ``trigger`` the same, parsed."""

    expression: str = ""
    trigger: Instruction | None = None
    name: ClassVar[str] = "ONBUILD"

    def expand(self, expander: Expander) -> OnBuild:
        # Triggers are stored as written and expand when a child image runs them.
        return self


@record
class Stage:
    """One FROM and the instructions after it."""

    base_name: str
    name: str  # lower-cased stage name; "" when unnamed
    platform: str
    position: Position
    original: str
    index: int
    commands: list[Instruction] = field(default_factory=list)
    base_position: Position | None = None
    platform_position: Position | None = None
    comment: str = ""

    @property
    def line(self) -> int:
        return self.position.line


@record
class Dockerfile:
    """What ``instructions_from_ast`` returns: global ARGs, stages, and the parser's facts."""

    meta_args: list[ArgInstruction]
    stages: list[Stage]
    escape_token: str = "\\"
    filename: str = "Dockerfile"

    def stage_by_name(self, name: str) -> Stage | None:
        """The last stage with that name, or the stage with that index ("0", "1")."""
        lowered = name.lower()
        for stage in reversed(self.stages):
            if stage.name == lowered:
                return stage
        if name.isdigit() and int(name) < len(self.stages):
            return self.stages[int(name)]
        return None
