"""What a build is asked for and what it gives back: ``BuildRequest``, ``BuildResult``, ``StepSummary``, ``StepError``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from layerlab.engine.errors import BuildError
from layerlab.engine.events import Cause, StepRef
from layerlab.engine.record_type import field, record

if TYPE_CHECKING:  # the runtime module is heavy; a request is built long before it runs
    from layerlab.engine.runtime import Runtime

NETWORKS = ("default", "none", "host")
# How much of the host each network mode reaches, for "is this RUN asking for more than the build?"
NETWORK_REACH = {"none": 0, "default": 1, "host": 2}
# What a user can grant with ``--allow`` (BuildKit's entitlements).
ENTITLEMENTS = ("network.host", "security.insecure")


@record
class BuildRequest:
    """What to build. ``context_dir`` or ``context_tar`` (a tar stream); the Dockerfile by path or text."""

    context_dir: Path | None = None
    context_tar: BinaryIO | None = None
    dockerfile: str = "Dockerfile"          # relative to the context, or absolute
    dockerfile_text: str | None = None      # given directly (``-f -``)
    tags: list[str] = field(default_factory=list)
    build_args: dict[str, str] = field(default_factory=dict)
    target: str = ""
    no_cache: bool = False
    no_cache_filter: list[str] = field(default_factory=list)
    pull: bool = False
    network: str = "default"                # default (a private namespace with outbound access), none, host
    labels: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, Path] = field(default_factory=dict)
    allow: frozenset[str] = frozenset()     # entitlements granted: network.host, security.insecure
    runtime: Runtime | None = None          # None picks runc or bubblewrap
    parallel: bool = True
    semantics: str = "classic"             # classic (docker's legacy builder) or buildkit (see buildkit.py)


@record(frozen=True)
class StepSummary:
    """One step's outcome, for ``--explain`` and the TUI."""

    step: StepRef
    cache: str            # "hit", "miss" or "base"
    reason: str
    record: str = ""
    result: str = ""
    causes: tuple[Cause, ...] = ()
    duration: float = 0.0
    layer_size: int = 0


@record
class BuildResult:
    image_id: str
    tags: list[str]
    steps: list[StepSummary]
    duration: float
    stage_images: dict[str, str] = field(default_factory=dict)


class StepError(BuildError):
    """A step failed; the first line names it, ``last_lines`` holds the end of its output."""

    def __init__(self, message: str, *, step: StepRef | None = None, exit_code: int | None = None,
                 last_lines: tuple[str, ...] = ()):
        text = message + ("".join("\n" + line for line in last_lines) if last_lines else "")
        super().__init__(text)
        self.message = message
        self.step = step
        self.exit_code = exit_code
        self.last_lines = last_lines


class BuildCancelled(BuildError):
    pass
