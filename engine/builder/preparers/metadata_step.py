"""ARG and the config-only instructions (ENV, LABEL, CMD, USER, EXPOSE...): they change the
stage's runConfig and commit no layer."""

from __future__ import annotations

from layerlab.engine.builder.cache_key import nop_command
from layerlab.engine.builder.dispatch import StageState, apply_metadata, declare_args
from layerlab.engine.builder.preparers.prepared import Prepared
from layerlab.engine.dockerfile.instructions import ArgInstruction, Env, Expander, Instruction


def prepare_arg(state: StageState, arg: ArgInstruction, expander: Expander) -> Prepared:
    words = declare_args(state, arg, expander)
    return Prepared(nop_command("ARG " + " ".join(words), shell=state.shell))


def prepare_metadata(state: StageState, instruction: Instruction, filename: str = "Dockerfile") -> Prepared:
    """``instruction`` is already expanded; the stage's config changes now, before the cache probe,
    because the next step's key includes it either way."""
    result = apply_metadata(state, instruction, filename)
    if isinstance(instruction, Env):
        for pair in instruction.pairs:
            state.scope.assign(pair.key, pair.value)
    state.config = result.config
    state.cmd_set = state.cmd_set or result.cmd_set
    if result.maintainer is not None:
        state.maintainer = result.maintainer
    return Prepared(result.command)
