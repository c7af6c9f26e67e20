"""COPY and ADD: their key (a checksum of every source's content and metadata, URLs by name) and,
on a miss, the file operations staged into a directory that becomes the layer."""

from __future__ import annotations

import hashlib
import posixpath
from pathlib import Path
from typing import TYPE_CHECKING

from layerlab.engine.builder.cache_key import copy_command
from layerlab.engine.builder.context import BuildContext, SourceSet
from layerlab.engine.builder.copy.ownership import parse_chmod, resolve_buildkit_chown, resolve_chown
from layerlab.engine.builder.dispatch import StageState
from layerlab.engine.builder.preparers.prepared import Prepared
from layerlab.engine.builder.request import StepError
from layerlab.engine.builder.session import BuildSession
from layerlab.engine.dockerfile.instructions import Add, Copy
from layerlab.engine.errors import BuildError, NotFound
from layerlab.engine.events import StepRef
from layerlab.engine.layers.stack import LayerStack

if TYPE_CHECKING:  # the commit machinery loads with the first step that misses
    from layerlab.engine.builder.commit import NewLayer


def prepare_copy(session: BuildSession, state: StageState, copy: Copy | Add) -> Prepared:
    where = session.where(copy)
    word = copy.name
    if copy.source_contents:
        raise BuildError(f"{where}: {word} from a heredoc is not supported by this builder")
    from_name = copy.from_ if isinstance(copy, Copy) else ""
    parents = copy.parents if isinstance(copy, Copy) else False
    checksum = copy.checksum if isinstance(copy, Add) else ""
    urls = [s for s in copy.sources if s.startswith(("http://", "https://"))] if isinstance(copy, Add) else []
    if from_name:
        source_root = session.stage_root(from_name, copy)
        excluder = None
        context = BuildContext(source_root, headers="image")
    else:
        source_root = session.context_root
        matcher = session.source.matcher
        excluder = matcher if matcher.patterns else None
        context = session.context()
    sources = _checksum_sources(session, context, [s for s in copy.sources if s not in urls], where, word)
    digest = sources.digest if sources else ""
    if urls:
        url_digest = "url:" + hashlib.sha256(("\n".join(urls) + checksum).encode()).hexdigest()
        digest = url_digest if not digest else "multi:" + hashlib.sha256((digest + url_digest).encode()).hexdigest()
    command = copy_command(word, digest, copy.dest, chown=copy.chown, chmod=copy.chmod, shell=state.shell)
    key_extra = {"from": from_name, "link": copy.link, "excludes": list(copy.excludes), "parents": parents}

    def owner(image: LayerStack | None) -> tuple[int, int] | None:
        if not copy.chown:
            return None
        if session.request.semantics == "buildkit":
            return resolve_buildkit_chown(copy.chown, image)
        return resolve_chown(copy.chown, image, where)

    def execute(ref: StepRef, previous_result: str) -> NewLayer | None:
        # the copying and commit machinery (shutil, archives, downloads, the layer writer)
        # loads with the first COPY that misses: a rebuild whose every step is cached never needs it
        from layerlab.engine.builder.commit import staged_layer
        from layerlab.engine.builder.copy.ops import CopyRequest, stage_copy

        reused = 0

        def stage(out_dir: Path) -> tuple[int, int] | None:
            nonlocal reused
            image = session.image_layers(state.image_id)
            request = CopyRequest(sources=list(copy.sources), dest=_copy_dest(copy.dest, state, image),
                                  workdir=state.workdir, chown=owner(image),
                                  chmod=parse_chmod(copy.chmod, where) if copy.chmod else None,
                                  excludes=list(copy.excludes), parents=parents, link=copy.link,
                                  is_add=isinstance(copy, Add), checksum=checksum or None,
                                  keep_git_dir=copy.keep_git_dir if isinstance(copy, Add) else False,
                                  from_source=from_name or None,
                                  owned_dest_path=session.request.semantics == "buildkit",
                                  previous_layer=session.top_layer_dir(previous_result))
            try:
                result = stage_copy(request, source_root=source_root, source_excluder=excluder,
                                    image=image, out_dir=out_dir)
            except BuildError as error:
                text = error.one_line()
                if not text.startswith(f"{word} failed"):
                    text = f"{word} failed: {text}"
                raise StepError(f"{where}: {text}", step=ref) from None
            reused = result.reused
            owners = set(result.owners.values())
            if len(owners) > 1:
                raise StepError(f"{where}: {word} as an unprivileged user cannot give files several owners",
                                step=ref)
            return owners.pop() if owners else None

        layer = staged_layer(session.workspace, ref.index, stage)
        if layer is not None:
            layer.reused_files = reused
        return layer

    return Prepared(command, source_digest=digest, sources=sources.files if sources else {},
                    key_extra=key_extra, execute=execute, expanded=copy)


def _checksum_sources(session: BuildSession, context: BuildContext, local: list[str], where: str,
                      word: str) -> SourceSet | None:
    try:
        with session.lock:
            return context.sources(local) if local else None
    except NotFound as error:
        missing = str(error).split(":", 1)[0]
        raise StepError(f"{where}: {word} failed: file not found in build context or excluded by "
                        f".dockerignore: stat {missing}: file does not exist") from None
    except BuildError as error:
        raise StepError(f"{where}: {word} failed: {error.one_line()}") from None


def _copy_dest(dest: str, state: StageState, image: LayerStack | None) -> str:
    """Docker's COPY runs in a container whose WORKDIR already exists, so ``.`` names a directory
    even when no step has created it yet; say so with a trailing slash."""
    workdir = state.workdir
    if dest.startswith("/") or dest.endswith("/") or workdir == "/":
        return dest
    normalized = posixpath.normpath(posixpath.join(workdir, dest))
    exists = image is not None and image.lstat(workdir) is not None
    return dest + "/" if normalized == posixpath.normpath(workdir) and not exists else dest
