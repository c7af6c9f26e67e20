"""WORKDIR: a config change that also commits a layer creating the directory (empty when it
exists), as the classic builder does."""

from __future__ import annotations

from layerlab.engine.builder.commit import NewLayer, write_layer
from layerlab.engine.builder.dispatch import StageState
from layerlab.engine.builder.preparers.metadata_step import prepare_metadata
from layerlab.engine.builder.preparers.prepared import Prepared
from layerlab.engine.builder.request import StepError
from layerlab.engine.builder.session import BuildSession
from layerlab.engine.builder.workdir import single_owner, stage_workdir
from layerlab.engine.builder.workspace import new_step_dir, remove_workspace
from layerlab.engine.dockerfile.instructions import Workdir
from layerlab.engine.errors import BuildError
from layerlab.engine.events import StepRef


def prepare_workdir(session: BuildSession, state: StageState, workdir: Workdir) -> Prepared:
    prepared = prepare_metadata(state, workdir)
    path = state.workdir
    where = session.where(workdir)

    def execute(ref: StepRef) -> NewLayer | None:
        step_dir = new_step_dir(session.workspace, ref.index)
        try:
            image = session.image_layers(state.image_id)
            out_dir = step_dir / "add"
            out_dir.mkdir()
            try:
                owners = stage_workdir(out_dir, image, path, where)
                owner = single_owner(owners, where)
            except BuildError as error:
                raise StepError(error.one_line(), step=ref) from None
            return write_layer(out_dir, step_dir, overlay=False, owner=owner)
        except BaseException:
            remove_workspace(step_dir)
            raise

    prepared.execute = execute
    return prepared
