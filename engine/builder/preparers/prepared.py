"""A step made ready: its key material, and what to do on a cache miss."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Mapping

from layerlab.engine.builder.context import FileEntry
from layerlab.engine.dockerfile.instructions import Instruction
from layerlab.engine.events import StepRef
from layerlab.engine.record_type import field, record

if TYPE_CHECKING:  # the commit machinery loads with the first step that misses
    from layerlab.engine.builder.commit import NewLayer


@record
class Prepared:
    command: tuple[str, ...]                                   # the step's description (container_config Cmd)
    build_args: dict[str, str] = field(default_factory=dict)   # args a RUN sees, part of its key
    key_extra: dict[str, Any] = field(default_factory=dict)    # instruction flags the key must include
    source_digest: str = ""                                    # COPY/ADD: the sources' checksum
    sources: Mapping[str, FileEntry] = field(default_factory=dict)  # COPY/ADD: each entry made when read
    # on a miss, with what the step produced last time ("" if nothing); None: the commit changes the config only
    execute: Callable[[StepRef, str], NewLayer | None] | None = None
    is_run: bool = False
    expanded: Instruction | None = None   # COPY/ADD after expansion: BuildKit's history row names its words
