"""The whole Dockerfile checked before the first step runs, as BuildKit does.

The parser already refuses unknown instructions and malformed flags; this
pass checks what only the builder knows is wrong (EXPOSE ports, RUN mounts
and networks, COPY from a heredoc) in every stage the build will run, so a
bad line 30 is reported before a long RUN on line 3 starts. Words holding a
variable are left to their step: their value is not known yet.
"""

from __future__ import annotations

from layerlab.engine.builder.planner import BuildPlan
from layerlab.engine.builder.request import NETWORKS
from layerlab.engine.builder.run_spec import parse_mount
from layerlab.engine.dockerfile.instructions import Add, Copy, Expose, Instruction, Run
from layerlab.engine.dockerfile.ports import PortError, expose_ports
from layerlab.engine.errors import BuildError, DockerfileError


def validate_plan(plan: BuildPlan, filename: str) -> None:
    """Raise the first problem of the stages to build, in Dockerfile order."""
    for stage_plan in plan.stages:
        for command in stage_plan.stage.commands:
            _check(command, filename)


def _known(word: str) -> bool:
    return "$" not in word


def _check(command: Instruction, filename: str) -> None:
    def fail(message: str) -> DockerfileError:
        return DockerfileError(message, filename=filename, line=command.line)

    if isinstance(command, Expose):
        for word in filter(_known, command.ports):
            try:
                expose_ports(word)
            except PortError as error:
                raise fail(f"EXPOSE: {error}") from None
    elif isinstance(command, Run):
        if command.network and _known(command.network) and command.network not in NETWORKS:
            raise fail(f"RUN --network={command.network}: expected one of {', '.join(NETWORKS)}")
        for spec in filter(_known, command.mounts):
            try:
                parse_mount(spec, "")
            except BuildError as error:
                raise fail(str(error).removeprefix(": ")) from None
    elif isinstance(command, (Copy, Add)) and command.source_contents:
        raise fail(f"{command.name} from a heredoc is not supported by this builder")
