"""FROM: a stage's starting image -- an earlier stage's, scratch, or a base from the store
(pulled when missing, or always with ``--pull``) -- and the stage's state over it."""

from __future__ import annotations

import time

from layerlab.engine.builder.dispatch import StageState
from layerlab.engine.builder.planner import StagePlan
from layerlab.engine.builder.request import StepError, StepSummary
from layerlab.engine.builder.session import BuildSession
from layerlab.engine.dockerfile.args import Platform, StageScope
from layerlab.engine.errors import LayerlabError, NotFound
from layerlab.engine.events import StepFinished, StepRef, StepStarted
from layerlab.engine.oci.config import ImageConfig
from layerlab.engine.oci.digest import short_id


def start_stage(session: BuildSession, stage_plan: StagePlan, ref: StepRef) -> tuple[StageState, StepSummary]:
    started = time.monotonic()
    session.events(StepStarted(ref))
    image_id, image = _base(session, stage_plan, ref)
    dockerfile = session.dockerfile
    config = with_default_path(dict(image.data.get("config") or {}))
    if session.request.semantics == "buildkit" and not image_id:
        config.setdefault("WorkingDir", "/")   # BuildKit starts a FROM scratch stage in "/"
    base_env = dict(item.partition("=")[::2] for item in config.get("Env") or [])
    scope = StageScope.for_stage(session.global_args, session.build_args, base_env,
                                 escape_token=dockerfile.escape_token, filename=dockerfile.filename)
    if session.request.semantics == "buildkit" and stage_plan.base_stage is not None:
        # BuildKit's stage starts from its base stage's state, ARG values included, with the image's
        # ENV set over them again: `FROM base` sees the ARGs `base` declared (not in its history).
        scope.values = dict(session.stage_variables[stage_plan.base_stage])
        for name, value in base_env.items():
            scope.assign(name, value)
    state = StageState(stage_plan.label, image_id, image, config, scope, base_ref=stage_plan.base)
    reason = f"base image {stage_plan.base} ({short_id(image_id)})" if image_id else "scratch"
    summary = StepSummary(ref, "base", reason, result=image_id, duration=time.monotonic() - started)
    session.events(StepFinished(ref, summary.duration, "hit", reason, result=image_id))
    return state, summary


DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def with_default_path(config: dict) -> dict:
    """Docker's ``setDefaultPath``: a stage whose base sets no PATH (scratch, an imported tarball)
    gets Linux's default one appended to its Env, and so does the image it makes."""
    env = list(config.get("Env") or [])
    if not any(item.partition("=")[0] == "PATH" for item in env):
        config["Env"] = env + [f"PATH={DEFAULT_PATH}"]
    return config


def _base(session: BuildSession, stage_plan: StagePlan, ref: StepRef) -> tuple[str, ImageConfig]:
    if stage_plan.base_stage is not None:
        image_id = session.wait_for(stage_plan.base_stage)
        return image_id, session.store.image(image_id).config
    if stage_plan.base.lower() == "scratch":
        host = Platform.host()
        return "", ImageConfig.new(architecture=host.architecture, variant=host.variant)
    pull = session.request.pull
    try:
        stored = _stored_or_pulled(stage_plan.base, session, pull)
    except LayerlabError as error:
        why = "--pull: pulling it failed" if pull else "no such image in the store, and pulling it failed"
        hint = "" if pull else " (load it, or make one with `layerlab bootstrap busybox`)"
        raise StepError(f"{session.dockerfile.filename}:{stage_plan.stage.line}: FROM {stage_plan.base}: {why}: "
                        f"{error.one_line()}{hint}", step=ref) from None
    return str(stored.id), stored.config


def _stored_or_pulled(base: str, session: BuildSession, pull: bool):
    """Docker's rule: a base in the store is used as it is; a missing one (or any, with --pull) is pulled.

    The registry client (http, ssl, email: a fifth of a build's start-up) is imported only for a pull.
    """
    if not pull:
        try:
            return session.store.image(base)
        except NotFound:
            pass
    from layerlab.engine.registry.pull import ensure_image

    return ensure_image(base, session.store, pull="always" if pull else "missing", events=session.events)
