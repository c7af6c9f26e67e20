"""BuildKit's view of a Dockerfile: the lines BuildKit would build differently from the classic builder.

The app builds as the classic builder does (``build --semantics classic``); a learner who later
builds with BuildKit should not be surprised. ``buildkit_notes`` reads the Dockerfile's text alone
(no image, no build) and gives one short note per line where the two builders part ways, of the
differences ``engine/builder/buildkit.py`` reproduces:

- no intermediate images: BuildKit commits no image per step (``images -a`` lists none, and
  ``history`` shows ``<missing>`` for every row) -- said once, on the first FROM;
- WORKDIR under a USER: the directories WORKDIR creates belong to that user under BuildKit,
  to root under the classic builder;
- RUN after a VOLUME: BuildKit mounts nothing at a declared volume, so what the RUN writes there
  stays in its layer; the classic builder mounts a fresh volume and discards it.

A USER or VOLUME the base image sets is not seen here (that would need the image): the notes
name what the Dockerfile itself says.
"""

from __future__ import annotations

from layerlab.engine.dockerfile import load_dockerfile
from layerlab.engine.dockerfile.instructions import Run, User, Volume, Workdir
from layerlab.engine.errors import DockerfileError
from layerlab.engine.record_type import field, record

ROOT_USERS = {"", "root", "0", "root:root", "0:0"}


@record
class _StageFacts:
    user: str = ""
    volumes: list[str] = field(default_factory=list)


def buildkit_notes(text: str, filename: str = "Dockerfile") -> dict[int, str]:
    """Dockerfile line -> what BuildKit does differently there; empty for a Dockerfile that does not parse
    (the build says what is wrong with it)."""
    try:
        dockerfile = load_dockerfile(text, filename)
    except DockerfileError:
        return {}
    notes: dict[int, str] = {}
    facts: dict[str, _StageFacts] = {}
    for number, stage in enumerate(dockerfile.stages):
        if number == 0:
            notes[stage.line] = "BuildKit: no intermediate image per step"
        parent = facts.get(stage.base_name.lower())
        state = _StageFacts(parent.user, list(parent.volumes)) if parent else _StageFacts()
        for command in stage.commands:
            if isinstance(command, User):
                state.user = command.user
            elif isinstance(command, Volume):
                state.volumes += command.volumes
            elif isinstance(command, Workdir) and state.user not in ROOT_USERS:
                notes[command.line] = f"BuildKit: dirs it creates belong to USER {state.user}, not root"
            elif isinstance(command, Run) and state.volumes:
                notes[command.line] = f"BuildKit: keeps what it writes under VOLUME {', '.join(state.volumes)}"
        facts[stage.name or str(stage.index)] = state
    return notes


__all__ = ["buildkit_notes"]
