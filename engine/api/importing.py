"""``import``: a root filesystem tarball -> an image in the store, with ``--change`` lines applied.

A ``--change`` line is a Dockerfile instruction. It goes through the same
parser as a Dockerfile (``layerlab.engine.dockerfile``) and the builder's
metadata dispatch (``layerlab.engine.builder.dispatch``), so ``EXPOSE 80/TCP``
or ``ENV A=$B`` mean here exactly what they mean in a build.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, BinaryIO, Sequence

from layerlab.engine.errors import UsageError
from layerlab.engine.reference import Reference
from layerlab.engine.transports.tarball import import_tarball

if TYPE_CHECKING:
    from layerlab.engine.dockerfile.instructions import Instruction
    from layerlab.engine.store.facade import Store
    from layerlab.engine.store.records import StoredImage

# What ``docker import --change`` and ``docker commit --change`` accept.
CHANGE_INSTRUCTIONS = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "HEALTHCHECK", "LABEL", "ONBUILD", "STOPSIGNAL",
                       "USER", "VOLUME", "WORKDIR")
CHANGE_SOURCE = "--change"  # how errors name where a change came from


def _instruction(change: str) -> "Instruction":
    from layerlab.engine.dockerfile.from_ast import parse_instruction
    from layerlab.engine.dockerfile.instructions import Instruction
    from layerlab.engine.dockerfile.parser import parse_dockerfile

    nodes = parse_dockerfile(change, filename=CHANGE_SOURCE).children
    if len(nodes) != 1:
        raise UsageError(f"--change {change!r}: expected one Dockerfile instruction")
    word = nodes[0].value.upper()
    if word not in CHANGE_INSTRUCTIONS:
        raise UsageError(f"{word} is not a valid change command (allowed: {', '.join(CHANGE_INSTRUCTIONS)})")
    instruction = parse_instruction(nodes[0], CHANGE_SOURCE)
    assert isinstance(instruction, Instruction)  # FROM is not among the allowed words
    return instruction


def apply_changes(config: dict[str, Any], changes: Sequence[str]) -> dict[str, Any]:
    """``config`` (a container config) with each change applied in order, as a build would apply it.

    Each change is expanded against the environment the changes before it set.
    """
    # The Dockerfile frontend and the builder load only when there are changes to apply.
    from layerlab.engine.builder.dispatch import StageState, apply_metadata
    from layerlab.engine.dockerfile.args import StageScope
    from layerlab.engine.dockerfile.instructions import Expander
    from layerlab.engine.oci.config import ImageConfig

    if not changes:
        return dict(config)
    state = StageState(label=CHANGE_SOURCE, image_id="", image=ImageConfig.new(), config=dict(config),
                       scope=StageScope(global_args={}, build_args={}, filename=CHANGE_SOURCE))
    for change in changes:
        instruction = _instruction(change)
        env = dict(item.partition("=")[::2] for item in state.env)
        result = apply_metadata(state, instruction.expand(Expander(env, filename=CHANGE_SOURCE)))
        state.config = result.config
        state.cmd_set = state.cmd_set or result.cmd_set
    return state.config


def import_image(store: "Store", source: str | os.PathLike | BinaryIO, *, reference: str | None = None,
                 changes: Sequence[str] = (), message: str = "", source_label: str | None = None,
                 spool_dir: str | None = None) -> "StoredImage":
    """Import ``source`` (a path or a stream, any compression) as a one-layer image, tagged ``reference``."""
    if reference:
        Reference.parse(reference)  # a bad name fails before any work
    config = apply_changes({}, changes)  # a bad change, too
    with import_tarball(source, config=config, message=message, source_label=source_label,
                        spool_dir=spool_dir) as imported:
        return store.put_image(imported.image, tags=[reference] if reference else [])
