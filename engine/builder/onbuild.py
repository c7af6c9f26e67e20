"""ONBUILD triggers: the base image's stored instructions, run right after FROM.

The base config keeps each trigger as written (``RUN echo hi``). A child
build parses them as instructions and runs them before its own, then clears
the list (the classic builder leaves ``OnBuild: []``), so triggers fire for
direct children only.
"""

from __future__ import annotations

from layerlab.engine.dockerfile import load_dockerfile
from layerlab.engine.dockerfile.instructions import Instruction
from layerlab.engine.errors import BuildError, DockerfileError


def parse_triggers(triggers: list[str], base: str) -> list[Instruction]:
    instructions: list[Instruction] = []
    for trigger in triggers:
        word = trigger.strip().split(None, 1)[0].upper() if trigger.strip() else ""
        if word in ("ONBUILD", "FROM", "MAINTAINER"):
            raise BuildError(f"{base}: {word} isn't allowed as an ONBUILD trigger")
        try:
            parsed = load_dockerfile("FROM scratch\n" + trigger + "\n", f"ONBUILD of {base}")
        except DockerfileError as error:
            raise BuildError(f"{base}: bad ONBUILD trigger {trigger!r}: {error.message}") from None
        instructions.extend(parsed.stages[0].commands)
    return instructions


__all__ = ["parse_triggers"]
