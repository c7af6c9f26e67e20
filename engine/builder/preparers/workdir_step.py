"""WORKDIR: a config change that also commits a layer creating the directory (empty when it
exists), as the classic builder does."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from layerlab.engine.builder.dispatch import StageState
from layerlab.engine.builder.preparers.metadata_step import prepare_metadata
from layerlab.engine.builder.preparers.prepared import Prepared
from layerlab.engine.builder.request import StepError
from layerlab.engine.builder.session import BuildSession
from layerlab.engine.builder.workdir import ROOT, single_owner, stage_workdir
from layerlab.engine.dockerfile.instructions import Workdir
from layerlab.engine.errors import BuildError
from layerlab.engine.events import StepRef
from layerlab.engine.layers.stack import LayerStack
from layerlab.engine.runtime import resolve_user

if TYPE_CHECKING:  # the commit machinery loads with the first step that misses
    from layerlab.engine.builder.commit import NewLayer


def prepare_workdir(session: BuildSession, state: StageState, workdir: Workdir) -> Prepared:
    prepared = prepare_metadata(state, workdir)
    path = state.workdir
    where = session.where(workdir)

    def execute(ref: StepRef, previous_result: str) -> NewLayer | None:
        from layerlab.engine.builder.commit import staged_layer

        buildkit = session.request.semantics == "buildkit"

        def stage(out_dir: Path) -> tuple[int, int] | None:
            try:
                image = session.image_layers(state.image_id)
                # BuildKit makes the directories as the current USER; the classic builder as root.
                made_by = resolve_user(state.config.get("User") or "0",
                                       image if image is not None else LayerStack.of([])) if buildkit else None
                owners = stage_workdir(out_dir, image, path, where,
                                       owner=(made_by.uid, made_by.gid) if made_by else ROOT)
                return single_owner(owners, where)
            except BuildError as error:
                raise StepError(error.one_line(), step=ref) from None

        # BuildKit commits a layer even when the directory exists (an empty tar), except for "/".
        return staged_layer(session.workspace, ref.index, stage, keep_empty=buildkit and path not in ("", "/"))

    prepared.execute = execute
    return prepared
