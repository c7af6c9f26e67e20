"""One preparer per instruction kind: each returns a step's key material and, for a miss, what to do.

- ``prepared``: the ``Prepared`` value they all return.
- ``run_step``: RUN in the runtime.
- ``copy_step``: COPY and ADD as file operations.
- ``workdir_step``: WORKDIR (a config change and a layer making the directory).
- ``metadata_step``: ARG and the config-only instructions.
"""

from __future__ import annotations

from layerlab.engine.builder.dispatch import StageState, buildkit_variables, classic_variables, sorted_expose
from layerlab.engine.builder.preparers.copy_step import prepare_copy
from layerlab.engine.builder.preparers.metadata_step import prepare_arg, prepare_metadata
from layerlab.engine.builder.preparers.prepared import Prepared
from layerlab.engine.builder.preparers.run_step import prepare_run
from layerlab.engine.builder.preparers.workdir_step import prepare_workdir
from layerlab.engine.builder.session import BuildSession
from layerlab.engine.dockerfile.instructions import Add, ArgInstruction, Copy, Expander, Expose, Instruction, Run, Workdir


def prepare(session: BuildSession, state: StageState, instruction: Instruction) -> Prepared:
    """Expand ``instruction`` against the stage's variables and hand it to its preparer."""
    dockerfile = session.dockerfile
    variables = (buildkit_variables(state) if session.request.semantics == "buildkit"
                 else classic_variables(state, session.build_args))
    expander = Expander(variables, dockerfile.escape_token, dockerfile.filename)
    if isinstance(instruction, ArgInstruction):
        return prepare_arg(state, instruction, expander)
    if isinstance(instruction, Expose):
        instruction = sorted_expose(instruction)
    if isinstance(instruction, Run):
        return prepare_run(session, state, instruction.expand(expander))
    if isinstance(instruction, (Copy, Add)):
        return prepare_copy(session, state, instruction.expand(expander))
    if isinstance(instruction, Workdir):
        return prepare_workdir(session, state, instruction.expand(expander))
    return prepare_metadata(state, instruction.expand(expander), dockerfile.filename)


__all__ = ["Prepared", "prepare"]
